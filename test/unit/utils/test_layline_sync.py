"""_utils/layline_sync.py: a utils file changed by a re-sync is reloaded in the same process."""

import importlib
import os
import sys

import layline_sync


def _write(path, text, mtime_ns):
    path.write_text(text)
    os.utime(path, ns=(mtime_ns, mtime_ns))


def test_refresh_reloads_a_changed_file_in_place_and_only_then(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    util = tmp_path / "layline_sync_probe.py"
    _write(util, "VALUE = 1\n", 1_000_000_000)
    module = importlib.import_module("layline_sync_probe")
    try:
        assert layline_sync.refresh(module) == []  # first sight: stamped, not reloaded
        assert layline_sync.refresh(module) == []
        _write(util, "VALUE = 22\n", 2_000_000_000)  # what saltutil.sync_all does
        assert layline_sync.refresh(module) == ["layline_sync_probe"]
        assert module.VALUE == 22  # same module object: `import x` bindings see it
        assert sys.modules["layline_sync_probe"] is module
        assert layline_sync.refresh(module) == []
    finally:
        sys.modules.pop("layline_sync_probe", None)


def test_refresh_leaves_a_module_without_a_file_alone():
    assert layline_sync.refresh(sys) == []  # built in: no __file__


def test_the_module_refuses_to_load_with_older_utils(monkeypatch):
    import unitsupport

    import layline_schema

    layline = unitsupport.load_module()
    assert layline.__virtual__() == "layline"
    monkeypatch.setattr(layline_schema, "API_VERSION", layline.UTILS_API - 1)
    loaded, why = layline.__virtual__()
    assert loaded is False and "saltutil.sync_all" in why and "out of date" in why


def test_refresh_reloads_the_modules_after_a_changed_one(tmp_path, monkeypatch):
    # layline_model does `from layline_schema import ...`: a new schema alone must reach it
    monkeypatch.syspath_prepend(str(tmp_path))
    base, user = tmp_path / "layline_sync_base.py", tmp_path / "layline_sync_user.py"
    _write(base, "VALUE = 1\n", 1_000_000_000)
    _write(user, "from layline_sync_base import VALUE\n", 1_000_000_000)
    first = importlib.import_module("layline_sync_base")
    second = importlib.import_module("layline_sync_user")
    try:
        assert layline_sync.refresh(first, second) == []
        _write(base, "VALUE = 22\n", 2_000_000_000)  # only the imported-from file changed
        assert layline_sync.refresh(first, second) == ["layline_sync_base", "layline_sync_user"]
        assert second.VALUE == 22
        assert layline_sync.refresh(first, second) == []
    finally:
        sys.modules.pop("layline_sync_base", None)
        sys.modules.pop("layline_sync_user", None)


def test_every_module_that_checks_the_utils_api_expects_the_current_one():
    # a module left on an older UTILS_API refuses to load on a freshly synced minion
    import ast
    import pathlib

    import layline_schema

    root = pathlib.Path(__file__).resolve().parents[3]
    declared = {}
    for path in sorted(root.glob("_*/*.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "UTILS_API" for t in node.targets
            ):
                declared[path.relative_to(root).as_posix()] = ast.literal_eval(node.value)
    assert "_modules/layline.py" in declared and "_modules/layline_member.py" in declared
    assert declared == dict.fromkeys(declared, layline_schema.API_VERSION)
