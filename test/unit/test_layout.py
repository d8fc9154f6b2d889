"""The layout of the formula's Python (issue 16): shared code and constants live in _utils/.

No execution, state or runner module reaches into another module's globals (``__globals__``,
the old ``_private`` trick), and none re-declares a constant a ``_utils`` module owns (a literal
of the same name, or an alias such as ``PENDING_DIR = layline_schema.PENDING_DIR``): they
import the utils and read ``layline_schema.PENDING_DIR`` where they use it. AST-based, so a
comment or a docstring that mentions a name does not count.
"""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
LOADER_DIRS = ("_modules", "_states", "_runners", "_grains")
LOADER_FILES = sorted(path for d in LOADER_DIRS for path in (ROOT / d).glob("*.py"))
UTILS = sorted((ROOT / "_utils").glob("layline_*.py"))


def _constant(name):
    return name.isupper() and not name.startswith("_")


def _assigned(statement):
    """The names a module-level statement binds by assignment."""
    if isinstance(statement, ast.Assign):
        targets = statement.targets
    elif isinstance(statement, (ast.AnnAssign, ast.AugAssign)):
        targets = [statement.target]
    else:
        return []
    return [node.id for t in targets for node in ast.walk(t) if isinstance(node, ast.Name)]


def util_constants(paths=UTILS):
    """{constant name: [util module names]} of every public UPPER_CASE module-level name."""
    owned = {}
    for path in paths:
        for statement in ast.parse(path.read_text()).body:
            for name in _assigned(statement):
                if _constant(name):
                    owned.setdefault(name, []).append(path.stem)
    return owned


def findings(source, owned, utils=()):
    """What breaks the layout in one module's ``source``: ``(line, message)`` pairs."""
    found = []
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "__globals__":
            found.append((node.lineno, "reaches into another module's globals (__globals__)"))
        elif isinstance(node, ast.Constant) and node.value == "__globals__":
            found.append((node.lineno, "reaches into another module's globals ('__globals__')"))
    for statement in tree.body:
        for name in _assigned(statement):
            if name in owned:
                found.append(
                    (statement.lineno, f"re-declares {name}, owned by {', '.join(owned[name])}")
                )
        value = getattr(statement, "value", None)
        if (
            _assigned(statement)
            and isinstance(value, ast.Attribute)
            and isinstance(value.value, ast.Name)
            and value.value.id in utils
            and _constant(value.attr)
        ):
            found.append(
                (statement.lineno, f"aliases {value.value.id}.{value.attr}: use it where needed")
            )
    return sorted(set(found))


def test_the_checker_finds_what_it_is_for():
    source = (
        "import layline_schema\n"
        "PENDING_DIR = '/var/lib/x'\n"
        "_PENDING = layline_schema.PENDING_DIR\n"
        "def f(g):\n"
        "    return g.__globals__['x'], getattr(g, '__globals__')\n"
        "LOCAL = 1\n"
    )
    assert [line for line, _m in findings(source, {"PENDING_DIR": ["s"]}, {"layline_schema"})] == [
        2,
        3,
        5,
        5,
    ]
    assert findings("X = layline_schema.X\n", {}, {"layline_schema"})[0][1].startswith("aliases")
    assert findings("'''mentions __globals__ in a docstring'''\nLOCAL = 1\n", {"X": ["s"]}) == []


def test_the_utils_own_constants():
    owned = util_constants()
    assert "layline_schema" in owned["PENDING_DIR"] and "layline_schema" in owned["ENGINE_UNIT"]


@pytest.mark.parametrize("path", LOADER_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_module_reaches_into_globals_or_redeclares_a_util_constant(path):
    utils = {util.stem for util in UTILS}
    problems = findings(path.read_text(), util_constants(), utils)
    assert not problems, "\n".join(
        f"{path.relative_to(ROOT)}:{line}: {message}" for line, message in problems
    )
