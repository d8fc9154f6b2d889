"""The utils import on their own, and each module refreshes every util it depends on."""

import ast
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
UTILS = sorted(path.stem for path in (ROOT / "_utils").glob("layline_*.py"))


def _imports(path):
    """The layline_* utils a file imports (``import x`` and ``from x import ...``)."""
    found = []
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append(node.module)
    return [name for name in found if name in UTILS]


def _refreshed(path):
    """The arguments of the file's top-level ``layline_sync.refresh(...)`` call, or None."""
    for node in ast.parse(path.read_text()).body:
        call = node.value if isinstance(node, ast.Expr) else None
        if (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute)
            and call.func.attr == "refresh"
        ):
            return [arg.id for arg in call.args]
    return None


@pytest.mark.parametrize("name", UTILS)
def test_each_util_imports_alone(name):
    # a fresh interpreter: an import cycle or a util that needs another imported first fails
    result = subprocess.run(
        [sys.executable, "-c", f"import {name}"],
        cwd=ROOT / "_utils",
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_every_module_refreshes_what_it_imports_after_what_that_imports():
    checked = 0
    for path in sorted(ROOT.glob("_[a-z]*/*.py")):
        if path.parent.name == "_utils":
            continue
        refreshed = _refreshed(path)
        if refreshed is None:
            continue
        checked += 1
        where = path.relative_to(ROOT)
        missing = set(_imports(path)) - set(refreshed) - {"layline_sync"}
        assert not missing, f"{where}: imports {sorted(missing)} without refreshing them"
        for index, name in enumerate(refreshed):
            needs = set(_imports(ROOT / "_utils" / f"{name}.py"))
            late = needs - set(refreshed[:index])
            assert not late, f"{where}: refreshes {name} before (or without) {sorted(late)}"
    assert checked >= 5
