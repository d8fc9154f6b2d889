"""layline:metrics and layline:monitoring: validation, the engine's metrics block, and the
Prometheus configuration and alert rules layline_monitoring builds from the pillar."""

import copy
import importlib.util

import pytest
import yaml
from pyhocon import ConfigFactory
from salt.exceptions import CommandExecutionError
from unitsupport import ROOT, SEED_PILLAR, SINGLE_PILLAR

MONITORING = {
    "metrics": {"enabled": True},
    "monitoring": {"minion": "ll-mysql", "hostname": "ll-mysql.orb.local"},
}


@pytest.fixture
def monitored(make_config):
    """The seed config (three engines, MySQL on ll-mysql) with the monitoring role on."""

    def build(*extra):
        return make_config(SEED_PILLAR, MONITORING, *extra)

    return build


@pytest.fixture
def builders(layline):
    spec = importlib.util.spec_from_file_location(
        "layline_monitoring_under_test", ROOT / "_modules" / "layline_monitoring.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.__salt__ = {"layline.monitoring": layline.monitoring}
    return module


def _errors(layline, config, minion_id="ll-node-1"):
    return layline._validate(config, minion_id)[0]


def _engine_conf(layline, config):
    return ConfigFactory.parse_string(
        layline._render_text("reactive-engine", config, "ll-node-1"), resolve=False
    )


def _rules(builders, config, layline):
    rules = builders.build_rules(layline.monitoring(config))["groups"][0]["rules"]
    return {rule["alert"]: rule for rule in rules}


def _jobs(builders, config, layline):
    jobs = builders.build_config(layline.monitoring(config))["scrape_configs"]
    return {job["job_name"]: job for job in jobs}


def _targets(job):
    return {(c["targets"][0], c["labels"]["minion"]) for c in job["static_configs"]}


# --- defaults, validation ---------------------------------------------------------------------


def test_defaults_keep_metrics_off_and_render_nothing(layline, seed_config):
    assert seed_config["metrics"] == {"enabled": False, "port": 9095}
    assert seed_config["monitoring"]["minion"] is None
    assert "metrics" not in _engine_conf(layline, seed_config)["layline.reactive-engine"]
    assert layline.monitoring(seed_config) is None
    assert layline.roles(seed_config, "ll-mysql") == ["database"]


def test_enabled_metrics_render_the_guide_block(layline, make_config):
    config = make_config(SEED_PILLAR, {"metrics": {"enabled": True, "port": 9300}})
    assert _errors(layline, config) == []
    conf = _engine_conf(layline, config)
    assert conf["layline.reactive-engine.metrics"] == {"enabled": True, "port": 9300}


def test_metrics_on_the_rest_port_use_layline_s_documented_endpoint(layline, builders, monitored):
    config = monitored(
        {"metrics": {"port": 5842}, "monitoring": {"metrics_path": "/engine/prometheus"}}
    )
    assert _errors(layline, config) == []
    assert "metrics" not in _engine_conf(layline, config)["layline.reactive-engine"]
    job = _jobs(builders, config, layline)["layline-engine"]
    assert job["metrics_path"] == "/engine/prometheus"
    assert ("ll-node-1.orb.local:5842", "ll-node-1") in _targets(job)


def test_monitoring_config_is_valid_and_gives_the_role(layline, monitored):
    config = monitored()
    assert layline._validate(config, "ll-mysql") == ([], [])
    assert layline.roles(config, "ll-mysql") == ["database", "monitoring"]
    assert layline.roles(config, "ll-node-1") == ["engine"]


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ({"metrics": {"enabled": False}}, "layline:metrics:enabled"),
        ({"metrics": {"port": 70000}}, "layline:metrics:port"),
        ({"metrics": {"port": 8558}}, "layline:metrics:port"),  # clashes with management
        ({"metrics": {"enabled": "yes"}}, "layline:metrics:enabled"),
        ({"monitoring": {"hostname": None}}, "layline:monitoring:hostname"),
        ({"monitoring": {"hostname": "bad host"}}, "layline:monitoring:hostname"),
        ({"monitoring": {"address": "ll-mysql"}}, "layline:monitoring:address"),
        ({"monitoring": {"address": "127.0.0.1"}}, "layline:monitoring:address"),
        ({"monitoring": {"port": 3306}}, "layline:monitoring:port"),  # MySQL on the same minion
        ({"monitoring": {"node_exporter_port": 0}}, "layline:monitoring:node_exporter_port"),
        ({"monitoring": {"scrape_interval": "15"}}, "layline:monitoring:scrape_interval"),
        ({"monitoring": {"scrape_interval": "0s"}}, "layline:monitoring:scrape_interval"),
        ({"monitoring": {"metrics_path": "metrics"}}, "layline:monitoring:metrics_path"),
        (
            {"monitoring": {"alerts": {"member_not_up": "1 min"}}},
            "layline:monitoring:alerts:member_not_up",
        ),
        (
            {"monitoring": {"alerts": {"member_down": "1m"}}},
            "layline:monitoring:alerts:member_down",
        ),
        ({"monitoring": {"backup_max_age": "a day"}}, "layline:monitoring:backup_max_age"),
        ({"monitoring": {"scrape": "1s"}}, "layline:monitoring:scrape"),
    ],
)
def test_bad_metrics_and_monitoring_values_name_their_key(layline, monitored, extra, key):
    errors = _errors(layline, monitored(extra))
    assert any(error.startswith(key + ":") for error in errors), errors


def test_monitoring_needs_a_multi_node_cluster(layline, make_config):
    config = make_config(SINGLE_PILLAR, MONITORING)
    errors = _errors(layline, config, "ll-single")
    assert any(e.startswith("layline:monitoring:minion:") for e in errors), errors


def test_a_backup_schedule_without_a_known_period_needs_backup_max_age(layline, monitored):
    config = monitored()
    config["backup"] = {"on_calendar": "Mon *-*-* 03:00:00"}
    errors = _errors(layline, config)
    assert any(e.startswith("layline:monitoring:backup_max_age:") for e in errors), errors
    config["monitoring"]["backup_max_age"] = "8d"
    assert _errors(layline, config) == []
    assert layline.monitoring(config)["backup"]["max_age_seconds"] == 8 * 86400


def test_extra_config_cannot_set_the_metrics_block(layline, make_config):
    config = make_config(
        SEED_PILLAR,
        {"extra_config": {"reactive_engine": {"layline.reactive-engine.metrics.port": 1234}}},
    )
    errors = _errors(layline, config)
    assert any("layline:metrics" in e for e in errors), errors


# --- Prometheus configuration -----------------------------------------------------------------


def test_every_engine_and_the_node_exporter_are_targets(layline, builders, monitored):
    config = monitored({"monitoring": {"scrape_interval": "5s", "metrics_path": "/m"}})
    data = builders.build_config(layline.monitoring(config))
    assert data["global"]["scrape_interval"] == "5s"
    assert data["global"]["evaluation_interval"] == "5s"
    assert data["rule_files"] == ["/etc/prometheus/layline.rules.yml"]
    jobs = {job["job_name"]: job for job in data["scrape_configs"]}
    assert jobs["layline-engine"]["metrics_path"] == "/m"
    assert _targets(jobs["layline-engine"]) == {
        (f"ll-node-{i}.orb.local:9095", f"ll-node-{i}") for i in (1, 2, 3)
    }
    assert _targets(jobs["layline-node-exporter"]) == {("ll-mysql.orb.local:9100", "ll-mysql")}


def test_node_addition_and_removal_change_the_targets(layline, builders, monitored):
    nodes = copy.deepcopy(SEED_PILLAR["cluster"]["nodes"])
    added = monitored(
        {"cluster": {"nodes": [*nodes, {"minion": "ll-node-4", "hostname": "ll-node-4.orb.local"}]}}
    )
    assert ("ll-node-4.orb.local:9095", "ll-node-4") in _targets(
        _jobs(builders, added, layline)["layline-engine"]
    )
    removed = monitored({"cluster": {"nodes": nodes[:2]}})
    assert {
        minion for _t, minion in _targets(_jobs(builders, removed, layline)["layline-engine"])
    } == {"ll-node-1", "ll-node-2"}
    assert "< 2" in _rules(builders, removed, layline)["LaylineMembersMissing"]["expr"]


def test_a_node_address_is_preferred_and_ipv6_is_bracketed(layline, builders, monitored):
    # nodes[].address: the canonical address of the network-security branch
    config = monitored()
    config["cluster"]["nodes"][0]["address"] = "10.0.0.11"
    config["cluster"]["nodes"][1]["address"] = "fd00::12"
    targets = _targets(_jobs(builders, config, layline)["layline-engine"])
    assert ("10.0.0.11:9095", "ll-node-1") in targets
    assert ("[fd00::12]:9095", "ll-node-2") in targets


def test_the_text_is_the_data_dumped_as_yaml(builders, layline, monitored):
    model = layline.monitoring(monitored())
    for text, data in (
        (builders.config_text(model), builders.build_config(model)),
        (builders.rules_text(model), builders.build_rules(model)),
    ):
        assert text.startswith("# Managed by Salt (layline-formula). Do not edit by hand.\n")
        assert yaml.safe_load(text) == data


def test_builders_refuse_without_a_monitoring_role(builders, layline, seed_config):
    builders.__salt__ = {"layline.monitoring": lambda: layline.monitoring(seed_config)}
    with pytest.raises(CommandExecutionError, match="layline:monitoring:minion"):
        builders.config_text()


# --- alert rules ------------------------------------------------------------------------------


def test_alert_rules_and_their_for_durations(layline, builders, monitored):
    config = monitored(
        {"monitoring": {"alerts": {"member_not_up": "30s", "members_missing": "5m"}}}
    )
    rules = _rules(builders, config, layline)
    assert rules["LaylineMemberNotUp"]["for"] == "30s"
    assert 'up{job="layline-engine"} == 0' in rules["LaylineMemberNotUp"]["expr"]
    assert (
        'layline_member_status{job="layline-engine",status="Up"} == 0'
        in (rules["LaylineMemberNotUp"]["expr"])
    )
    assert rules["LaylineUnreachableMembers"]["for"] == "1m"
    assert "layline_cluster_unreachable_members" in rules["LaylineUnreachableMembers"]["expr"]
    assert rules["LaylineMembersMissing"]["for"] == "5m"
    assert rules["LaylineMembersMissing"]["expr"].endswith("< 3")
    assert "{{ $labels.minion }}" in rules["LaylineMemberNotUp"]["annotations"]["summary"]


@pytest.mark.parametrize(
    ("schedule", "seconds"),
    [(None, 86400 + 3600), ("hourly", 3600 + 3600), ("weekly", 604800 + 3600)],
)
def test_backup_alerts_follow_the_backup_schedule(layline, builders, monitored, schedule, seconds):
    config = monitored()
    if schedule:
        config["backup"] = {"on_calendar": schedule}
    rules = _rules(builders, config, layline)
    assert rules["LaylineBackupStale"]["expr"] == (
        "time() - max(layline_backup_last_success_timestamp_seconds"
        f'{{job="layline-node-exporter"}}) > {seconds}'
    )
    assert rules["LaylineBackupStale"]["for"] == "10m"
    assert rules["LaylineBackupMissing"]["for"] == f"{seconds}s"


def test_no_backup_alerts_when_backups_are_off(layline, builders, monitored):
    config = monitored()
    config["backup"] = {"enabled": False, "textfile_dir": "/srv/textfiles"}
    rules = _rules(builders, config, layline)
    assert "LaylineBackupStale" not in rules and "LaylineBackupMissing" not in rules
    assert layline.monitoring(config)["textfile_dir"] == "/srv/textfiles"


# --- listeners: the canonical address, never every interface (issue 18, finding 5) ----------


def _bound(builders, layline, config):
    builders.__salt__["layline.bind_address"] = lambda key: layline.bind_address(
        key, config=config, minion_id="ll-mysql"
    )
    return builders


@pytest.mark.parametrize(
    ("extra", "prometheus", "exporter"),
    [
        ({}, "10.231.7.10:9090", "10.231.7.10:9100"),
        (
            {"monitoring": {"address": "fd00::10"}, "database": {"address": "fd00::10"}},
            "[fd00::10]:9090",
            "[fd00::10]:9100",
        ),
        ({"network": {"bind_any": True}}, "0.0.0.0:9090", "0.0.0.0:9100"),
    ],
)
def test_prometheus_and_the_node_exporter_listen_on_the_canonical_address(
    builders, layline, monitored, extra, prometheus, exporter
):
    config = monitored(extra)
    module = _bound(builders, layline, config)
    assert module.listen_address("monitoring", 9090) == prometheus
    assert module.listen_address("database", 9100) == exporter


def test_prometheus_scrapes_itself_where_it_listens(builders, layline, monitored):
    model = layline.monitoring(monitored())
    own = {
        job["job_name"]: job
        for job in builders.build_config(model, listen="10.231.7.10")["scrape_configs"]
    }["prometheus"]
    assert own["static_configs"] == [{"targets": ["10.231.7.10:9090"]}]
    text = yaml.safe_load(builders.config_text(model, "[fd00::10]:9090"))
    assert text["scrape_configs"][0]["static_configs"] == [{"targets": ["[fd00::10]:9090"]}]
    anywhere = builders.build_config(model, listen="0.0.0.0")["scrape_configs"][0]
    assert anywhere["static_configs"] == [{"targets": ["localhost:9090"]}]


@pytest.mark.parametrize(
    ("sls", "flag"),
    [
        ("prometheus", 'ARGS="--web.listen-address=10.231.7.10:9090"'),
        (
            "node_exporter",
            'ARGS="--web.listen-address=10.231.7.10:9100 '
            '--collector.textfile.directory=/var/lib/prometheus/node-exporter"',
        ),
    ],
)
def test_the_monitoring_sls_files_pass_the_canonical_address(
    builders, layline, monitored, tmp_path, sls, flag
):
    import unitsupport

    renderer = unitsupport.MapJinja(tmp_path)
    config = renderer.render(copy.deepcopy({**SEED_PILLAR, **MONITORING}))
    module = _bound(builders, layline, config)
    renderer._salt["layline.monitoring"] = lambda config=None: layline.monitoring(config)
    renderer._salt["layline_monitoring.listen_address"] = module.listen_address
    renderer._salt["layline_monitoring.rules_text"] = lambda model: module.rules_text(model)
    renderer._salt["layline_monitoring.config_text"] = lambda model, listen: module.config_text(
        model, listen
    )
    text = renderer._salt["slsutil.renderer"](
        path=f"salt://layline/monitoring/{sls}.sls",
        default_renderer="jinja",
        tpldir="layline/monitoring",
    )
    states = yaml.safe_load(text)
    defaults = {
        k: v
        for item in states[f"layline-monitoring-{sls}-file-managed-defaults"]["file.managed"]
        for k, v in item.items()
    }
    assert defaults["contents"] == flag
    if sls == "prometheus":
        config_state = {
            k: v
            for item in states["layline-monitoring-prometheus-file-managed-config"]["file.managed"]
            for k, v in item.items()
        }
        assert "10.231.7.10:9090" in config_state["contents"]
        assert "localhost:9090" not in config_state["contents"]
