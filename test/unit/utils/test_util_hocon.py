"""_utils/layline_hocon.py by plain import: the builder takes the lookups it is given."""

import copy

import pytest
from salt.exceptions import CommandExecutionError

import layline_hocon

SEEDS = ["pekko://layline@10.0.0.1:5801", "pekko://layline@10.0.0.2:5801"]


def test_engine_data_uses_the_given_host_bind_address_and_seeds(seed_config):
    data = layline_hocon.engine_data(seed_config, "ll-node-1.example.com", "10.0.0.1", SEEDS)
    artery = data["pekko"]["remote"]["artery"]
    assert artery["canonical"]["hostname"] == "ll-node-1.example.com"
    assert artery["bind"]["hostname"] == "10.0.0.1"
    assert data["pekko"]["management"]["http"]["bind-hostname"] == "10.0.0.1"
    assert data["pekko"]["cluster"]["seed-nodes"] == SEEDS
    assert data["pekko"]["cluster"]["seed-nodes"] is not SEEDS  # the caller's list stays its own
    rest = data["layline"]["reactive-engine"]["rest-server"]
    assert rest == {
        "canonical": {"hostname": "ll-node-1.example.com"},
        "bind": {"hostname": "10.0.0.1", "port": seed_config["ports"]["rest"]},
    }


def test_config_server_data_uses_the_given_host_and_bind_address(seed_config):
    data = layline_hocon.config_server_data(seed_config, "cs.example.com", "10.0.0.9")
    assert data["layline"]["config-server"]["rest-server"] == {
        "canonical": {"hostname": "cs.example.com"},
        "bind": {"hostname": "10.0.0.9", "port": seed_config["ports"]["config_server"]},
    }


def test_with_extra_config_merges_dotted_and_quoted_keys(seed_config):
    config = copy.deepcopy(seed_config)
    config["extra_config"] = {
        "config_server": {"pekko.loglevel": "DEBUG", '"com.example.Event"': 1}
    }
    data = layline_hocon.config_server_data(config, "cs.example.com", "10.0.0.9")
    merged = layline_hocon.with_extra_config("config-server", config, data)
    assert merged["pekko"]["loglevel"] == "DEBUG"
    assert merged["com.example.Event"] == 1
    assert merged["layline"] == data["layline"]


def test_an_unknown_role_is_refused(seed_config):
    with pytest.raises(CommandExecutionError, match="unknown role 'engine': use one of"):
        layline_hocon.check_role("engine")
    with pytest.raises(CommandExecutionError, match="unknown role 'engine': use one of"):
        layline_hocon.with_extra_config("engine", seed_config, {})
    assert layline_hocon.check_role("reactive-engine") == "reactive_engine"


def test_verified_hocon_reads_back_reserved_and_dotted_keys():
    data = {"a": {"true": 1, "x.y": "z", "list": [1, 2.5, None, True]}}
    text = layline_hocon.verified_hocon(data)
    assert text.startswith(layline_hocon.HEADER)
    assert '"true" = 1' in text and '"x.y" = "z"' in text


def test_tls_files_and_db_tls(seed_config):
    files = layline_hocon.tls_files(seed_config)
    assert files["ca"] == files["ca_cert"] == f"{seed_config['config_dir']}/tls/ca.crt"
    assert files["truststore"] == f"{seed_config['config_dir']}/tls/truststore.jks"
    assert layline_hocon.db_tls(seed_config) is True
    config = copy.deepcopy(seed_config)
    config["database"]["tls"] = "disabled"
    assert layline_hocon.db_tls(config) is False
    assert (
        "sslMode=DISABLED"
        in layline_hocon.persistence_data(config, "reactive-engine")["pekko-persistence-jdbc"][
            "shared-databases"
        ]["mysql"]["db"]["url"]
    )
