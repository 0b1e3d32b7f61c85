"""mkdocs hook: render the Sphinx roles of numpydoc docstrings as plain code.

The docstrings follow numpydoc, whose cross-references (``:func:`train```,
``:class:`~churnml.models.base.BaseScorer```) mkdocstrings prints literally. This keeps the
code span and drops the role and, for ``~``, the module path, as Sphinx would show it.
"""

from __future__ import annotations

import re
from typing import Any

_ROLE = re.compile(r":(?:func|class|meth|data|mod|attr|exc|obj|ref):(?=<code>)")
_TILDE = re.compile(r"<code>~(?:[\w]+\.)*([\w]+)</code>")


def on_page_content(html: str, **kwargs: Any) -> str:
    """Drop Sphinx roles in front of code spans, and ``~`` paths inside them.

    Parameters
    ----------
    html : str
        The page's HTML.
    **kwargs
        What mkdocs passes besides (page, config, files).

    Returns
    -------
    str
        The HTML without the roles.
    """
    return _TILDE.sub(r"<code>\1</code>", _ROLE.sub("", html))
