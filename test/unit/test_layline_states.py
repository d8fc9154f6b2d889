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
