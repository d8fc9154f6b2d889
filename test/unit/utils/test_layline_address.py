"""_utils/layline_address.py by plain import (no loader, no __salt__): canonical addresses and
bind addresses of machine entries; the resolver seam is replaced per test."""

import copy
import socket

import pytest
from salt.exceptions import CommandExecutionError

import layline_address

CONFIG = {
    "cluster": {
        "nodes": [
            {"minion": "n1", "hostname": "n1.example.com"},
            {"minion": "n2", "hostname": "n2.example.com", "address": "2001:DB8::2"},
        ]
    },
    "config_server": {"minion": "cs", "hostname": "cs.example.com"},
    "database": {"backend": "mysql", "minion": "db", "hostname": "db.example.com"},
}
HOSTS = {
    "n1.example.com": ["192.0.2.1"],
    "cs.example.com": ["2001:db8::10%eth0", "192.0.2.10"],
    "db.example.com": ["2001:db8::20%eth0"],
    "lo.example.com": ["127.0.1.1"],
}


def _answer(host):
    if host not in HOSTS:
        raise socket.gaierror(-2, "Name or service not known")
    return [
        (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, 0))
        for a in HOSTS[host]
    ]


@pytest.fixture
def config(monkeypatch):
    monkeypatch.setattr(layline_address, "getaddrinfo", _answer)
    return copy.deepcopy(CONFIG)


def test_the_pillar_address_wins_and_is_normalised(config):
    assert layline_address.address(config, "cluster:nodes[1]", "n1") == "2001:db8::2"


def test_a_hostname_resolves_on_the_asking_minion_ipv4_first_zone_stripped(config):
    assert layline_address.address(config, "cluster:nodes[0]", "cs") == "192.0.2.1"
    assert layline_address.address(config, "config_server", "n1") == "192.0.2.10"
    assert layline_address.address(config, "database", "n1") == "2001:db8::20"


def test_the_default_key_is_the_minions_own_entry(config):
    assert layline_address.address(config, None, "cs") == "192.0.2.10"
    with pytest.raises(CommandExecutionError, match="minion 'nobody' has no entry"):
        layline_address.address(config, None, "nobody")
    assert layline_address.address({}, None, "solo") == "127.0.0.1"  # single-host default


def test_loopback_is_refused_naming_the_key_unless_one_machine(config):
    config["config_server"]["hostname"] = "lo.example.com"
    with pytest.raises(
        CommandExecutionError,
        match=r"layline:config_server:hostname 'lo.example.com' resolves to 127.0.1.1 on "
        r"minion n1, a loopback address.*set layline:config_server:address",
    ):
        layline_address.address(config, "config_server", "n1")
    one = {"config_server": {"minion": "cs", "hostname": "lo.example.com"}}
    assert layline_address.address(one, "config_server", "cs") == "127.0.1.1"


def test_bad_literals_and_missing_names_name_the_key(config):
    config["cluster"]["nodes"][1]["address"] = "n2.example.com"
    with pytest.raises(CommandExecutionError, match=r"cluster:nodes\[1\]:address: 'n2.example"):
        layline_address.address(config, "cluster:nodes[1]", "n1")
    config["cluster"]["nodes"][1]["address"] = "0.0.0.0"
    with pytest.raises(CommandExecutionError, match="is not a machine's address"):
        layline_address.address(config, "cluster:nodes[1]", "n1")
    config["database"]["hostname"] = " "
    with pytest.raises(CommandExecutionError, match="layline:database:hostname is required"):
        layline_address.address(config, "database", "n1")
    with pytest.raises(CommandExecutionError, match=r"layline:monitoring is not a node entry"):
        layline_address.address(config, "monitoring", "n1")


def test_address_errors_lists_every_entry_that_does_not_resolve(config):
    assert layline_address.address_errors(config, "n1") == []
    config["database"]["hostname"] = "db.invalid"
    config["config_server"]["hostname"] = "lo.example.com"
    errors = layline_address.address_errors(config, "n1")
    assert [error.split(":")[1] for error in errors] == ["config_server", "database"]
    assert "does not resolve on minion n1" in errors[1]


def test_engine_and_config_server_addresses(config):
    assert layline_address.engine_addresses(config, "db") == ["192.0.2.1", "2001:db8::2"]
    assert layline_address.config_server_addresses(config, "db") == ["192.0.2.10"]
    assert layline_address.engine_addresses({}, "solo") == []
    assert layline_address.config_server_addresses({}, "solo") == []


def test_bind_address_any_loopback_or_canonical(config):
    assert layline_address.bind_for(config, "cluster:nodes[0]", "n1") == "192.0.2.1"
    with pytest.raises(CommandExecutionError, match="nothing of layline listens there"):
        layline_address.bind_for(config, None, "nobody")
    config["network"] = {"bind_any": True}
    assert layline_address.bind_for(config, "cluster:nodes[0]", "n1") == "0.0.0.0"
    single = {"database": {"backend": "mysql", "minion": "solo", "hostname": "db.example.com"}}
    assert layline_address.bind_for(single, "config_server", "solo") == "127.0.0.1"
    assert layline_address.bind_for(single, "database", "solo") == "2001:db8::20"
