"""``mlflow``, imported on first use.

Importing mlflow takes about two seconds, and most churnml commands (``describe``,
``sample-data``, ``--help``) never track anything. This is the standard library's lazy-import
recipe (:class:`importlib.util.LazyLoader`): the module object exists at once and the real
import runs when an attribute is first read. Use ``mlflow.<submodule>.<name>`` at call time;
a ``from mlflow.x import y`` at module level would import mlflow at once.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

__all__ = ["mlflow"]


def _lazy(name: str) -> ModuleType:
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module


mlflow = _lazy("mlflow")
