"""layline:rolling validation and the restart marker functions of _modules/layline.py."""

import json

import pytest
from salt.exceptions import CommandExecutionError
from unitsupport import SEED_PILLAR


def _errors(layline, config):
    return layline._validate(config, "ll-node-1")[0]


def test_rolling_defaults_are_valid(layline, seed_config):
    assert seed_config["rolling"] == {"all": False, "max_unavailable": 1, "timeout": 300,
                                      "poll_interval": 1}
    assert _errors(layline, seed_config) == []


@pytest.mark.parametrize(("rolling", "key"), [
    ({"all": "yes"}, "rolling:all"),
    ({"max_unavailable": 0}, "rolling:max_unavailable"),
    ({"max_unavailable": "2"}, "rolling:max_unavailable"),
    ({"max_unavailable": True}, "rolling:max_unavailable"),
    ({"timeout": 0}, "rolling:timeout"),
    ({"timeout": 1.5}, "rolling:timeout"),
    ({"poll_interval": 0}, "rolling:poll_interval"),
    ({"poll_interval": "1"}, "rolling:poll_interval"),
])
def test_wrong_rolling_values_are_errors_naming_the_key(layline, make_config, rolling, key):
    errors = _errors(layline, make_config(SEED_PILLAR, {"rolling": rolling}))
    assert any(error.startswith(f"layline:{key}") for error in errors), errors


def test_unknown_rolling_key_is_a_warning_like_every_unknown_key(layline, make_config):
    config = make_config(SEED_PILLAR, {"rolling": {"max_unavailbale": 2}})
    warnings = layline._validate(config, "ll-node-1")[1]
    assert any(w.startswith("layline:rolling: unknown key(s) max_unavailbale") for w in warnings)


def test_rolling_must_be_a_mapping(layline, make_config):
    config = make_config(SEED_PILLAR)
    config["rolling"] = [1]
    assert any(e.startswith("layline:rolling") for e in _errors(layline, config))


@pytest.fixture
def pending_dir(layline, tmp_path, monkeypatch):
    monkeypatch.setattr(layline, "PENDING_DIR", str(tmp_path))
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
