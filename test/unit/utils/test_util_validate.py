"""_utils/layline_validate.py and its parts, by plain import (no __salt__)."""

import copy

import layline_checks
import layline_validate


def _never_one_machine(config):
    return False


def test_valid_models_have_no_errors(seed_config, single_config):
    for config in (seed_config, single_config):
        errors, _warnings = layline_validate.validate(config, is_one_machine=_never_one_machine)
        assert errors == []


def test_installs_false_does_not_require_the_distribution(seed_config):
    config = copy.deepcopy(seed_config)
    config["distribution"]["source"] = ""
    needed, _ = layline_validate.validate(config, is_one_machine=_never_one_machine)
    assert any(e.startswith("layline:distribution:source: is required") for e in needed)
    errors, _ = layline_validate.validate(config, installs=False, is_one_machine=_never_one_machine)
    assert errors == []


def test_the_firewall_backend_check_asks_the_callers_one_machine_lookup(seed_config):
    config = copy.deepcopy(seed_config)
    config["firewall"].update(enabled=True, backend=None)
    asked = []

    def one_machine(model):
        asked.append(model)
        return answer

    answer = True
    assert layline_validate.validate(config, is_one_machine=one_machine)[0] == []
    answer = False
    errors, _ = layline_validate.validate(config, is_one_machine=one_machine)
    assert [e for e in errors if e.startswith("layline:firewall:backend: is not set")]
    assert asked == [config, config]


def test_each_error_names_its_pillar_key_once(seed_config):
    config = copy.deepcopy(seed_config)
    config["cluster"]["nodes"][1]["hostname"] = "bad host"
    config["ports"]["rest"] = 0
    config["extra_config"] = {"reactive_engine": {"pekko.cluster.seed-nodes": []}}
    errors, _ = layline_validate.validate(config, is_one_machine=_never_one_machine)
    assert (
        "layline:cluster:nodes[1]:hostname: 'bad host' is not a valid DNS name or IP address"
        in (errors)
    )
    assert "layline:ports:rest: must be an integer port between 1 and 65535" in errors
    assert any(
        e.startswith("layline:extra_config:reactive_engine:pekko.cluster.seed-nodes: ")
        for e in errors
    )


def test_findings_keep_the_first_error_of_a_key():
    found = layline_checks.Findings()
    found.error("ports:rest", "first")
    found.error("ports:rest", "second")
    found.warn("ports:rest", "a warning")
    assert found.errors == ["layline:ports:rest: first"]
    assert found.warnings == ["layline:ports:rest: a warning"]


def test_engine_count(seed_config, single_config):
    assert layline_checks.engine_count(seed_config) == 3
    assert layline_checks.engine_count(single_config) == 1
