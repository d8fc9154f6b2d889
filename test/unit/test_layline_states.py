"""_states/layline.py: no state comment, warning or change carries the database password."""

import importlib.util

import pytest
from unitsupport import ROOT, SECRET, SEED_PILLAR

RAISING = f"driver said: Access denied for password '{SECRET}'"


@pytest.fixture
def states(layline, make_config):
    spec = importlib.util.spec_from_file_location("layline_state_under_test",
                                                  ROOT / "_states" / "layline.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.__opts__ = {"test": False, "id": "ll-node-1"}
    module.__salt__ = {}
    module.__states__ = {}
    module.__pillar__ = {}
    module.config = make_config(SEED_PILLAR)
    return module


def _raise(*_args, **_kwargs):
    raise RuntimeError(RAISING)


def _assert_clean(ret):
    assert SECRET not in repr(ret)
    assert "***" in repr(ret), "the secret was not replaced where it was"


def test_validated_crash_comment_is_scrubbed(states):
    states.__salt__["layline.validate"] = _raise
    ret = states.validated("layline pillar", config=states.config)
    assert ret["result"] is False
    _assert_clean(ret)


def test_validated_errors_and_warnings_are_scrubbed(states):
    states.__salt__["layline.validate"] = lambda config: {
        "errors": [f"bad value {SECRET}"], "warnings": [f"odd value {SECRET}"]}
    ret = states.validated("layline pillar", config=states.config)
    assert ret["result"] is False
    _assert_clean(ret["comment"])
    _assert_clean(ret["warnings"])


def test_config_managed_render_failure_is_scrubbed(states, tmp_path):
    states.__salt__["layline.render"] = _raise
    ret = states.config_managed(str(tmp_path / "application.conf"), role="reactive-engine",
                                config=states.config)
    assert ret["result"] is False
    _assert_clean(ret)


def test_config_managed_file_result_is_scrubbed(states, tmp_path):
    states.__salt__["layline.render"] = lambda role, config: f"password = {SECRET}\n"
    states.__states__["file.managed"] = lambda **kwargs: {
        "name": kwargs["name"], "result": False, "changes": {"diff": kwargs["contents"]},
        "comment": f"could not write: {kwargs['contents']}"}
    ret = states.config_managed(str(tmp_path / "application.conf"), role="reactive-engine",
                                config=states.config)
    _assert_clean(ret["comment"])
    assert ret["changes"]["diff"] == "<hidden: contains secrets>"


def test_scrub_replaces_exactly_and_leaves_no_password_alone(states):
    states.__salt__["layline.validate"] = _raise
    ret = states.validated("layline pillar", config=states.config)
    assert ret["name"] == "layline pillar"
    assert ret["comment"] == (
        "layline.validate failed: RuntimeError: driver said: Access denied for password '***'")
    config = dict(states.config, database=dict(states.config["database"], password=""))
    ret = states.validated("layline pillar", config=config)
    assert ret["comment"] == f"layline.validate failed: RuntimeError: {RAISING}"


def test_validated_passes_the_model_and_reports_exactly(states):
    seen = []
    states.__salt__["layline.validate"] = lambda config: seen.append(config) or {
        "errors": [], "warnings": ["w1"]}
    states.__salt__["layline.roles"] = lambda config: ["engine"]
    ret = states.validated("layline pillar", config=states.config)
    assert seen == [states.config]
    assert ret["result"] is True
    assert ret["comment"] == "layline configuration is valid\nwarnings (1):\n  - w1"
    assert ret["warnings"] == ["w1"]
    states.__salt__["layline.validate"] = lambda config: {"errors": ["e1", "e2"]}
    ret = states.validated("layline pillar", config=states.config)
    assert ret["result"] is False
    assert ret["comment"] == "layline configuration is invalid (2 error(s)):\n  - e1\n  - e2"


def test_validated_refuses_a_non_mapping(states):
    ret = states.validated("layline pillar", config=["not", "a", "mapping"])
    assert ret["result"] is False
    assert ret["comment"] == "layline configuration must be a mapping (pillar `layline`)"


@pytest.mark.parametrize("change, key", [
    ({"distribution": {"source": ""}}, "layline:distribution:source "),
    ({"distribution": {"source_hash": ""}}, "layline:distribution:source_hash"),
    ({"distribution": {"installer_args": "-q"}}, "layline:distribution:installer_args"),
    ({"distribution": {"installer_args": [None]}}, "layline:distribution:installer_args"),
    ({"version": " "}, "layline:version"),
    ({"distribution": "x"}, "layline:distribution must be a mapping"),
])
def test_validated_names_the_formula_keys(states, change, key):
    states.__salt__["layline.validate"] = lambda config: {"errors": [], "warnings": []}
    states.__salt__["layline.roles"] = lambda config: ["engine"]
    config = {**states.config, **{k: v if not isinstance(v, dict) else
                                  {**states.config[k], **v} for k, v in change.items()}}
    ret = states.validated("layline pillar", config=config)
    assert ret["result"] is False, ret
    assert "(1 error(s))" in ret["comment"] and key in ret["comment"], ret["comment"]


def test_validated_skips_the_installer_keys_where_nothing_is_installed(states):
    states.__salt__["layline.validate"] = lambda config: {"errors": [], "warnings": []}
    states.__salt__["layline.roles"] = lambda config: ["database"]
    config = {**states.config, "distribution": {"source": "", "source_hash": ""}}
    assert states.validated("layline pillar", config=config)["result"] is True


def test_config_managed_hands_file_managed_the_private_file(states, tmp_path):
    calls = []
    states.__salt__["layline.render"] = lambda role, config: calls.append((role, config)) or "x"
    states.__states__["file.managed"] = lambda **kwargs: calls.append(kwargs) or {
        "name": kwargs["name"], "result": True, "changes": {}, "comment": ""}
    target = str(tmp_path / "application.conf")
    states.config_managed(target, role="reactive-engine", config=states.config, group="layline")
    assert calls == [("reactive-engine", states.config),
                     {"name": target, "contents": "x", "user": "root", "group": "layline",
                      "mode": "0640", "makedirs": True, "show_changes": False}]
