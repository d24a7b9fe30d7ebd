"""bayesgmm uses other libraries through their public names only.

Every module of ``bayesgmm/`` is parsed (``ast``) and checked for a name of another
library that starts with an underscore (a private module, function or attribute, which can
change in any release):

- imports: ``import a._b``, ``from a._b import c``, ``from a import _b`` where ``a`` is
  not bayesgmm (scikit-learn's ``sklearn.utils._param_validation``, the estimator
  contract's own route, is the one exception);
- attributes: ``x._name`` and ``getattr(x, "_name")`` (likewise ``setattr``,
  ``hasattr``, ``delattr``) where ``x`` is bound to another library by an import, or
  where ``_name`` is not a name bayesgmm itself defines (so ``self._X`` and a bayesgmm
  module's ``_helper`` are fine, an object of another library's ``_internal`` is not).

Dunder names (``__version__``, ``__name__``) are public by convention and pass.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "bayesgmm"
FILES = sorted(PACKAGE.rglob("*.py"))
ALLOWED_MODULES = {"sklearn.utils._param_validation"}
OWN_ROOT = "bayesgmm"
ATTRIBUTE_CALLS = {"getattr", "setattr", "hasattr", "delattr"}


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _allowed_module(dotted: str) -> bool:
    return any(dotted == m or dotted.startswith(m + ".") for m in ALLOWED_MODULES)


def own_names(trees) -> set[str]:
    """Every underscore name bayesgmm defines: modules, functions, classes, module-level
    and instance attributes, dataclass fields."""
    names = {p.stem for p in FILES} | {p.name for p in PACKAGE.rglob("*") if p.is_dir()}
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    for sub in ast.walk(target):
                        if isinstance(sub, ast.Name):
                            names.add(sub.id)
                        elif isinstance(sub, ast.Attribute):
                            names.add(sub.attr)
    return {n for n in names if _private(n)}


def _library_bindings(tree) -> dict[str, str]:
    """Local name -> the dotted name of another library it was imported as."""
    bound = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] != OWN_ROOT:
                    local = alias.asname or alias.name.split(".")[0]
                    bound[local] = alias.name if alias.asname else alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] != OWN_ROOT:
                for alias in node.names:
                    bound[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return bound


def _root(node) -> ast.AST:
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node


def private_uses(source: str, own: set[str], filename: str = "<source>") -> list[str]:
    """The private names of other libraries ``source`` uses, as ``line: what``."""
    tree = ast.parse(source, filename)
    bound = _library_bindings(tree)
    found = []

    def attribute(node, attr: str, base) -> None:
        if not _private(attr):
            return
        root = _root(base)
        if isinstance(root, ast.Name) and root.id in bound:
            dotted = bound[root.id]
            if not _allowed_module(f"{dotted}.{attr}") and not _allowed_module(dotted):
                found.append(f"{node.lineno}: {ast.unparse(node)} (private name of {dotted.split('.')[0]})")
        elif isinstance(root, ast.Name) and root.id in ("self", "cls"):
            return
        elif attr not in own:
            found.append(f"{node.lineno}: {ast.unparse(node)} (not a name bayesgmm defines)")

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] != OWN_ROOT and any(map(_private, parts)) and not _allowed_module(alias.name):
                    found.append(f"{node.lineno}: import {alias.name}")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            parts = node.module.split(".")
            if parts[0] == OWN_ROOT:
                continue
            for alias in node.names:
                dotted = f"{node.module}.{alias.name}"
                if (any(map(_private, parts)) or _private(alias.name)) and not _allowed_module(dotted):
                    found.append(f"{node.lineno}: from {node.module} import {alias.name}")
        elif isinstance(node, ast.Attribute):
            attribute(node, node.attr, node.value)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ATTRIBUTE_CALLS
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
        ):
            attribute(node, node.args[1].value, node.args[0])
    return found


@pytest.fixture(scope="module")
def own() -> set[str]:
    return own_names(ast.parse(p.read_text(), str(p)) for p in FILES)


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(PACKAGE.parent)) for p in FILES])
def test_no_private_name_of_another_library(path, own):
    uses = private_uses(path.read_text(), own, str(path))
    assert not uses, f"{path.relative_to(PACKAGE.parent)} uses private names of other libraries:\n" + "\n".join(
        uses
    )


def test_the_scan_covers_the_package():
    assert len(FILES) > 40 and PACKAGE / "bayes" / "sampling.py" in FILES


SNIPPETS = {
    # what the scan must find
    "from xarray.namedarray.pycompat import _cached_duck_array_modules": 1,
    "from arviz.stats import stats_utils\nstats_utils._lazy": 1,
    "import arviz.stats._private": 1,
    "from arviz import _internal": 1,
    "import xarray as xr\nxr.namedarray._cache.clear()": 1,
    "from xarray.namedarray import pycompat\ngetattr(pycompat, '_cached_duck_array_modules', None)": 1,
    "import numba\nnumba.core.dispatcher._DispatcherBase": 1,
    "def f(fn):\n    return fn._jit_wrapper": 1,
    # what it must let pass
    "from sklearn.utils._param_validation import Interval, StrOptions": 0,
    "import sklearn.utils._param_validation as pv\npv.Interval": 0,
    "import numpy as np\nnp.__version__": 0,
    "class A:\n    def f(self):\n        return self._x + type(self)._y": 0,
    "from . import _kernels\n_kernels._thread_pool(2)": 0,
    "from ._arviz import group\ngroup(x, 'posterior')": 0,
    "def f(model):\n    return model._shift": 0,  # a name bayesgmm defines
    "getattr(obj, '__wrapped__', None)": 0,
}


@pytest.mark.parametrize("source, count", SNIPPETS.items(), ids=range(len(SNIPPETS)))
def test_the_scan_finds_private_names(source, count):
    own = {"_kernels", "_thread_pool", "_shift", "_x", "_y"}
    assert len(private_uses(source, own)) == count, private_uses(source, own)
