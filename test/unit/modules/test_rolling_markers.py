"""layline:rolling validation and the restart marker functions of _modules/layline.py."""

import importlib.util
import json

import pytest
from salt.exceptions import CommandExecutionError
from unitsupport import BAD_ROLLING, ROOT, SEED_PILLAR

import layline_schema


def _errors(layline, config):
    return layline._validate(config, "ll-node-1")[0]


def test_rolling_defaults_are_valid(layline, seed_config):
    assert seed_config["rolling"] == {
        "all": False,
        "max_unavailable": 1,
        "timeout": 300,
        "poll_interval": 0.5,
    }
    assert _errors(layline, seed_config) == []


@pytest.mark.parametrize(
    "rolling", [{"join_timeout": 0, "on_failure": "stop"}, {"on_failure": "rollback"}]
)
def test_the_joining_wait_and_on_failure_are_known_rolling_keys(layline, make_config, rolling):
    assert _errors(layline, make_config(SEED_PILLAR, {"rolling": rolling})) == []


@pytest.mark.parametrize(
    ("rolling", "key"),
    BAD_ROLLING,
)
def test_wrong_rolling_values_are_errors_naming_the_key(layline, make_config, rolling, key):
    errors = _errors(layline, make_config(SEED_PILLAR, {"rolling": rolling}))
    assert any(error.startswith(f"layline:rolling:{key}") for error in errors), errors


def test_unknown_rolling_key_is_an_error_like_every_unknown_key(layline, make_config):
    config = make_config(SEED_PILLAR, {"rolling": {"max_unavailbale": 2}})
    errors = _errors(layline, config)
    assert any(
        e.startswith(
            "layline:rolling:max_unavailbale: unknown key: did you mean 'max_unavailable'?"
        )
        for e in errors
    ), errors


def test_rolling_must_be_a_mapping(layline, make_config):
    config = make_config(SEED_PILLAR)
    config["rolling"] = [1]
    assert any(e.startswith("layline:rolling") for e in _errors(layline, config))


@pytest.fixture
def pending_dir(layline, tmp_path, monkeypatch):
    monkeypatch.setattr(layline_schema, "PENDING_DIR", str(tmp_path))
    return tmp_path


def test_pending_lists_markers_by_unit_and_clear_removes_one(layline, pending_dir):
    assert layline.pending() == {}
    marker = {"reasons": ["configuration changed"], "version": "2.5.5", "written": "x"}
    (pending_dir / "layline-reactive-engine.json").write_text(json.dumps(marker))
    (pending_dir / "layline-config-server.json").write_text("{broken")
    (pending_dir / "notes.txt").write_text("ignored")
    found = layline.pending()
    assert found["layline-reactive-engine"] == marker
    assert "unreadable marker" in found["layline-config-server"]["reasons"][0]
    assert set(found) == {"layline-reactive-engine", "layline-config-server"}
    assert layline.clear_pending("layline-reactive-engine") is True
    assert layline.clear_pending("layline-reactive-engine") is False
    assert set(layline.pending()) == {"layline-config-server"}


@pytest.mark.parametrize("unit", ["../etc/passwd", "sshd", "layline-x/../../y", ""])
def test_clear_pending_refuses_other_paths(layline, pending_dir, unit):
    with pytest.raises(CommandExecutionError, match="not a layline unit name"):
        layline.clear_pending(unit)


@pytest.fixture
def states(monkeypatch):
    spec = importlib.util.spec_from_file_location("layline_states", ROOT / "_states" / "layline.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "__opts__", {"test": False}, raising=False)
    return module


def test_restart_pending_writes_a_root_marker_and_appends_reasons(states, tmp_path):
    directory = tmp_path / "pending"
    ret = states.restart_pending(
        "layline-reactive-engine", reason="configuration changed", directory=str(directory)
    )
    assert ret["result"] is True and ret["changes"]["restart_pending"] == "configuration changed"
    path = directory / "layline-reactive-engine.json"
    assert oct(path.stat().st_mode & 0o777) == "0o644"
    ret = states.restart_pending(
        "layline-reactive-engine",
        reason="version 2.5.4 -> 2.5.5",
        version="2.5.5",
        directory=str(directory),
    )
    marker = json.loads(path.read_text())
    assert marker["reasons"] == ["configuration changed", "version 2.5.4 -> 2.5.5"]
    assert marker["version"] == "2.5.5" and marker["written"].endswith("Z")
    assert ret["changes"]["version"] == "2.5.5"
    assert sorted(p.name for p in directory.iterdir()) == ["layline-reactive-engine.json"]


def test_restart_pending_test_mode_and_bad_names(states, tmp_path, monkeypatch):
    monkeypatch.setattr(states, "__opts__", {"test": True}, raising=False)
    ret = states.restart_pending("layline-reactive-engine", directory=str(tmp_path / "p"))
    assert ret["result"] is None and not (tmp_path / "p").exists()
    ret = states.restart_pending("../x", directory=str(tmp_path / "p"))
    assert ret["result"] is False and "unit name" in ret["comment"]
