"""_utils/layline_model.py lookups by plain import (no loader, no __salt__): roles, machine
entries, seed nodes and the first seed's start gate, from a plain config dict."""

import copy

import pytest

import layline_model
from layline_schema import LOOPBACK, ROLE_ORDER, SEED_GATE

NODES = [
    {"minion": "n1", "hostname": "n1.example.com"},
    {"minion": "n2", "hostname": "n2.example.com"},
    {"minion": "n3", "hostname": "2001:db8::3"},
]
CONFIG = {
    "home": "/var/lib/layline/",
    "ports": {"cluster": 5843},
    "cluster": {"nodes": NODES},
    "config_server": {"minion": "cs", "hostname": "cs.example.com"},
    "database": {"backend": "mysql", "minion": "db", "hostname": "db.example.com"},
    "monitoring": {"minion": "db", "hostname": "db.example.com"},
}


@pytest.fixture
def config():
    return copy.deepcopy(CONFIG)


def test_roles_of_each_minion_in_role_order(config):
    assert layline_model.roles(config, "n2") == ["engine"]
    assert layline_model.roles(config, "cs") == ["config-server"]
    assert layline_model.roles(config, "db") == ["database", "monitoring"]
    assert layline_model.roles(config, "elsewhere") == []
    config["cluster"]["nodes"].append({"minion": "db", "hostname": "db.example.com"})
    assert layline_model.roles(config, "db") == ["database", "engine", "monitoring"]
    assert list(ROLE_ORDER) == ["database", "config-server", "engine", "monitoring"]


def test_database_role_only_with_the_mysql_backend(config):
    config["database"]["backend"] = "h2"
    assert layline_model.roles(config, "db") == ["monitoring"]
    assert "database" not in [key for key, _e in layline_model.node_entries(config)]


def test_single_host_default_is_config_server_and_engine_on_loopback():
    assert layline_model.roles({}, "solo") == ["config-server", "engine"]
    assert layline_model.config_server_hostname({}) == LOOPBACK
    assert layline_model.engine_nodes({}, "solo") == [{"minion": "solo", "hostname": LOOPBACK}]
    assert layline_model.seed_gate({"ports": {"cluster": 5843}}, "solo") == {}


def test_node_entries_name_their_pillar_keys_in_order(config):
    config["cluster"]["nodes"].insert(1, "not a mapping")  # validation reports it, not us
    assert [key for key, _e in layline_model.node_entries(config)] == [
        "cluster:nodes[0]",
        "cluster:nodes[2]",
        "cluster:nodes[3]",
        "config_server",
        "database",
        "monitoring",
    ]
    del config["monitoring"]["minion"], config["monitoring"]["hostname"]
    assert layline_model.monitoring_entry(config) == {}
    assert "monitoring" not in [key for key, _e in layline_model.node_entries(config)]


def test_own_key_and_engine_key(config):
    config["cluster"]["nodes"].append({"minion": "cs", "hostname": "cs.example.com"})
    assert layline_model.own_key(config, "cs") == "cluster:nodes[3]"  # the engine entry first
    assert layline_model.engine_key(config, "n2") == "cluster:nodes[1]"
    assert layline_model.own_key(config, "db") == "database"
    assert layline_model.engine_key(config, "db") is None
    assert layline_model.own_key(config, "elsewhere") is None


def test_one_machine_only_when_every_entry_names_the_same_minion(config):
    assert layline_model.is_one_machine(config) is False
    one = {"cluster": {"nodes": [{"minion": "a", "hostname": "localhost"}]}}
    one["config_server"] = {"minion": "a", "hostname": "localhost"}
    assert layline_model.is_one_machine(one) is True
    one["database"] = {"backend": "mysql", "minion": "b", "hostname": "localhost"}
    assert layline_model.is_one_machine(one) is False


def test_bind_any_only_when_true(config):
    assert layline_model.bind_any(config) is False
    config["network"] = {"bind_any": "yes"}
    assert layline_model.bind_any(config) is False
    config["network"] = {"bind_any": True}
    assert layline_model.bind_any(config) is True


def test_seed_nodes_are_pekko_addresses_in_node_order_with_ipv6_in_brackets(config):
    assert layline_model.seed_nodes(config, "n1") == [
        "pekko://layline@n1.example.com:5843",
        "pekko://layline@n2.example.com:5843",
        "pekko://layline@[2001:db8::3]:5843",
    ]


def test_only_the_first_seed_of_a_cluster_gets_the_start_gate(config):
    marker = "/var/lib/layline/.layline/reactive-engine/ended-in-failure"
    assert layline_model.seed_gate(config, "n1") == {
        "check": [SEED_GATE, "check", marker, "n2.example.com:5843", "[2001:db8::3]:5843"],
        "record": [SEED_GATE, "record", marker],
    }
    assert layline_model.seed_gate(config, "n2") == {}
    assert layline_model.seed_gate(config, "cs") == {}
    config["cluster"]["nodes"] = NODES[:1]
    assert layline_model.seed_gate(config, "n1") == {}  # one engine: nobody to wait for


def test_node_host_is_the_address_else_the_hostname():
    assert layline_model.node_host({"hostname": "n1.example.com"}) == "n1.example.com"
    assert layline_model.node_host({"hostname": "n1", "address": "192.0.2.1"}) == "192.0.2.1"
