"""Every public function and class (and their public methods) has a complete numpydoc docstring.

"Public" is what ``churnml.__all__`` exports: those docstrings are the API reference site
(``docs/reference/api.md``) and what ``help()`` shows in a notebook. numpydoc's validator checks
them against the real signatures, so a renamed or added parameter cannot leave the docs behind.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Iterator
from typing import Any

from numpydoc.docscrape import get_doc_object
from numpydoc.validate import ERROR_MSGS, Validator, validate

import churnml

# numpydoc error codes that fail the test, each because it is a real gap for a reader. The other
# codes are style (capitals, full stops, "See Also", "Examples", extended summaries, types that
# the annotations already give) and are left to ruff's pydocstyle rules.
CHECKED_CODES = {
    "GL08": "no docstring at all: help() and the reference page show nothing",
    "SS01": "no one-line summary: the reference's tables and IDE tooltips are empty",
    "GL06": "unknown section (e.g. 'Return', 'Args'): its content is not rendered as a section",
    "PR01": "a parameter of the signature is not documented",
    "PR02": "a documented parameter is not in the signature (renamed or removed)",
    "PR03": "parameters documented in another order than the signature's: misleads readers",
    "PR07": "a documented parameter has no description",
    "RT01": "the function returns a value but has no Returns section",
    "RT03": "a Returns entry has no description",
    "YD01": "a generator has no Yields section",
}

# Names the public API must export (/tmp/spec/API.md, issue 10). Without them the docstring check
# would pass on a near-empty __all__, so their absence is a failure of its own.
KEY_NAMES = (
    "load_transactions",
    "describe",
    "evaluate",
    "train",
    "score",
    "list_versions",
    "promote",
    "rollback",
    "run_demo",
    "BTYDScorer",
    "GBMScorer",
    "Evaluation",
    "TrainResult",
    "ScoreResult",
)

# Exemptions: none. Add one only as {"churnml.<path>": {"<code>": "<why it is not a gap>"}}.
EXEMPT: dict[str, dict[str, str]] = {}


def _public_objects() -> list[tuple[str, Any]]:
    """(public path, object) of every function and class in churnml.__all__."""
    out = []
    for name in sorted(churnml.__all__):
        obj = getattr(churnml, name)
        if inspect.isfunction(obj) or inspect.isclass(obj):
            out.append((f"churnml.{name}", obj))
    return out


def _public_members(path: str, cls: type) -> Iterator[tuple[str, Any]]:
    """Public methods and properties a churnml class defines or inherits from churnml classes.

    Members inherited from outside churnml (``object``, ``Exception``, ``dict``) are not ours.
    Classmethods and staticmethods are unwrapped to their function, so that numpydoc applies
    the function checks (RT01, YD01) it skips for bound methods.
    """
    seen: set[str] = set()
    for klass in cls.__mro__:
        if not klass.__module__.startswith("churnml"):
            continue
        for name, member in vars(klass).items():
            if name.startswith("_") or name in seen:
                continue
            seen.add(name)
            if isinstance(member, staticmethod | classmethod):
                yield f"{path}.{name}", member.__func__
            elif inspect.isfunction(member) or isinstance(
                member, property | functools.cached_property
            ):
                yield f"{path}.{name}", member


def _documented_elsewhere(cls: type) -> set[str]:
    """Names documented in a class docstring's Attributes section."""
    names: set[str] = set()
    for entry in get_doc_object(cls)["Attributes"]:
        names.update(part.strip() for part in entry.name.split(","))
    return names


def _errors(path: str, obj: Any) -> list[tuple[str, str]]:
    """The numpydoc (code, message) pairs of one object that are in CHECKED_CODES."""
    if isinstance(obj, property | functools.cached_property):
        # A property documents a value, not a call: only a missing docstring is a gap.
        errors = [] if obj.__doc__ else [("GL08", ERROR_MSGS["GL08"])]
    else:
        errors = validate(get_doc_object(obj) if inspect.isfunction(obj) else path)["errors"]
        errors = [(code, message) for code, message in errors if code in CHECKED_CODES]
    if inspect.isclass(obj):
        # A dataclass field is both a constructor parameter and an attribute; documenting it
        # under Attributes (as the result objects do) documents it for the reader, so PR01
        # accepts that section too. Only names documented nowhere remain offenders.
        validator = Validator(get_doc_object(obj))
        documented = set(validator.doc_all_parameters) | _documented_elsewhere(obj)
        missing = [p for p in validator.signature_parameters if p not in documented]
        errors = [(code, message) for code, message in errors if code != "PR01"]
        if missing:
            errors.append(("PR01", ERROR_MSGS["PR01"].format(missing_params=missing)))
    return [(code, message) for code, message in errors if code not in EXEMPT.get(path, {})]


def _defined_at(obj: Any) -> str:
    """Where an object is defined (``module.qualname``): the docstring to fix."""
    func = obj.fget if isinstance(obj, property) else getattr(obj, "func", obj)
    return f"{func.__module__}.{func.__qualname__}"


def _checked() -> list[tuple[str, Any]]:
    """Every public function and class, then the public members of the classes, once each.

    A method inherited by several public classes is checked once, under the first of them.
    """
    objects = _public_objects()
    members = [
        member
        for path, obj in objects
        if inspect.isclass(obj)
        for member in _public_members(path, obj)
    ]
    out: list[tuple[str, Any]] = []
    seen: set[int] = set()
    for path, obj in objects + members:
        if id(obj) not in seen:
            seen.add(id(obj))
            out.append((path, obj))
    return out


def test_the_key_public_names_are_exported():
    missing = [name for name in KEY_NAMES if name not in churnml.__all__]
    assert not missing, f"churnml.__all__ lacks {missing}, so their docstrings go unchecked"


def test_public_docstrings_are_complete():
    offenders = [
        f"{path} ({_defined_at(obj)}): {code} {message}"
        for path, obj in _checked()
        for code, message in _errors(path, obj)
    ]
    assert not offenders, f"{len(offenders)} numpydoc offenders:\n" + "\n".join(offenders)


def test_checked_codes_and_exemptions_are_real():
    unknown = [c for c in CHECKED_CODES if c not in ERROR_MSGS]
    unknown += [c for codes in EXEMPT.values() for c in codes if c not in CHECKED_CODES]
    assert not unknown, f"not numpydoc codes checked here: {unknown}"
    public = {path for path, _ in _checked()}
    stale = [path for path in EXEMPT if path not in public]
    assert not stale, f"exemptions for names that are no longer public: {stale}"
