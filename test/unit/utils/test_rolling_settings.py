"""The runner's settings: one builder (layline/orch/settings.jinja, the master's pillar)
for the three orchestrations, validated by layline_plan.settings_of; never the password."""

import copy

import pytest
from salt.exceptions import SaltInvocationError
from unitsupport import BAD_ROLLING, SECRET, SEED_PILLAR

import layline_plan

SETTINGS_TEMPLATE = (
    '{%- set tpldir = "layline/orch" %}'
    '{%- from "layline/orch/settings.jinja" import settings with context %}'
    "{%- do sink.append(settings) %}"
)


def render_settings(map_jinja, layline_pillar):
    map_jinja._pillar = {"layline": copy.deepcopy(layline_pillar)}
    sink = []
    map_jinja._salt["slsutil.renderer"](
        string=SETTINGS_TEMPLATE, default_renderer="jinja", sink=sink
    )
    assert len(sink) == 1, "layline/orch/settings.jinja did not give its settings"
    return copy.deepcopy(sink[0])


def test_the_builder_gives_the_non_secret_settings_of_the_pillar(map_jinja):
    settings = render_settings(map_jinja, SEED_PILLAR)
    assert SECRET not in repr(settings)
    assert set(settings) == set(layline_plan.SETTINGS_KEYS)
    assert settings["database"] == {"backend": "mysql", "minion": "ll-mysql", "name": "layline"}
    assert [n["minion"] for n in settings["cluster"]["nodes"]] == [
        "ll-node-1",
        "ll-node-2",
        "ll-node-3",
    ]
    assert settings["ports"]["cluster"] == 5843
    # the CA minion defaults to the config server (as layline.tls does)
    assert settings["tls"]["ca_minion"] == "ll-config-server"
    checked = layline_plan.settings_of(settings, layline_plan.REQUIRED_KEYS)
    assert checked["database"] == settings["database"]
    assert SECRET not in repr(checked)


def test_the_builder_output_plans_the_first_deployment(map_jinja):
    settings = layline_plan.settings_of(render_settings(map_jinja, SEED_PILLAR), ("cluster",))
    minions = [step["minion"] for step in layline_plan.deploy_steps(settings)]
    assert minions[:3] == ["ll-config-server", "ll-mysql", "ll-config-server"], minions


def test_the_password_never_passes_the_validation():
    conf = {
        "cluster": {"nodes": []},
        "ports": {"cluster": 5843},
        "database": {"backend": "mysql", "minion": "db", "password": SECRET, "user": "u"},
        "tls": {"enabled": True, "ca_minion": "ca", "key_password": SECRET},
        "monitoring": {"minion": "mon", "password": SECRET},
    }
    settings = layline_plan.settings_of(conf, layline_plan.REQUIRED_KEYS)
    assert SECRET not in repr(settings)
    assert settings["database"] == {"backend": "mysql", "minion": "db", "name": None}
    assert settings["monitoring"] == {"minion": "mon"}


@pytest.mark.parametrize("missing", ["cluster", "ports"])
def test_a_missing_key_is_named(missing):
    conf = {"cluster": {"nodes": []}, "ports": {"cluster": 5843}}
    del conf[missing]
    with pytest.raises(SaltInvocationError, match=f"lack layline:{missing} "):
        layline_plan.settings_of(conf, layline_plan.REQUIRED_KEYS)


@pytest.mark.parametrize(
    ("key", "value", "needle"),
    [
        ("ports", [5843], "layline:ports must be a mapping, not list"),
        ("cluster", "nodes", "layline:cluster must be a mapping, not str"),
        ("rolling", 1, "layline:rolling must be a mapping, not int"),
        ("database", "db", "layline:database must be a mapping, not str"),
        ("home", 7, "layline:home must be a string, not int"),
    ],
)
def test_an_invalid_key_is_named(key, value, needle):
    conf = {"cluster": {"nodes": []}, "ports": {"cluster": 5843}, key: value}
    with pytest.raises(SaltInvocationError, match=needle):
        layline_plan.settings_of(conf, layline_plan.REQUIRED_KEYS)


# the table of test_rolling_markers.py (layline.validate on the minions): the runner applies
# the same rule to the master's settings and to the command line's overrides
@pytest.mark.parametrize(("rolling", "key"), BAD_ROLLING)
def test_the_runner_refuses_rolling_values_validate_refuses(rolling, key):
    conf = {"cluster": {"nodes": []}, "ports": {"cluster": 5843}, "rolling": rolling}
    with pytest.raises(SaltInvocationError, match=f"^layline:rolling:{key} must be "):
        layline_plan.settings_of(conf, layline_plan.REQUIRED_KEYS)


def test_the_runner_keeps_good_rolling_values():
    rolling = {"all": True, "max_unavailable": 2, "timeout": 60, "poll_interval": 0.5}
    conf = {"cluster": {"nodes": []}, "ports": {"cluster": 5843}, "rolling": rolling}
    settings = layline_plan.settings_of(conf, layline_plan.REQUIRED_KEYS)
    assert settings["rolling"] == dict(layline_plan.ROLLING_DEFAULTS, **rolling)


@pytest.mark.parametrize("port", [None, "5843", True])
def test_an_invalid_cluster_port_is_named(port):
    conf = {"cluster": {"nodes": []}, "ports": {"cluster": port}}
    with pytest.raises(SaltInvocationError, match="layline:ports:cluster must be an integer"):
        layline_plan.settings_of(conf, layline_plan.REQUIRED_KEYS)


def test_settings_that_are_no_mapping_are_refused():
    with pytest.raises(SaltInvocationError, match="must be a mapping, not str"):
        layline_plan.settings_of("cluster: {}")


def test_the_runner_needs_settings_and_never_asks_a_minion():
    from rollingsupport import runner

    with pytest.raises(SaltInvocationError, match="pass settings"):
        runner.plan()
    with pytest.raises(TypeError):
        runner.plan(minion="ll-node-1")  # pylint: disable=unexpected-keyword-arg
    with pytest.raises(SaltInvocationError, match="lack layline:ports"):
        runner.restore_check(file="x.sql.gz", settings={"cluster": {"nodes": []}})
