"""Canonical addresses, binding, validation of the network keys, and the firewall rules
(nftables text and firewalld rich rules) built from the pillar (no machine touched)."""

import importlib.util

import pytest
import unitsupport
from salt.exceptions import CommandExecutionError
from unitsupport import ROOT, SEED_PILLAR, SINGLE_PILLAR

import layline_address


@pytest.fixture
def firewall(layline):
    spec = importlib.util.spec_from_file_location(
        "layline_firewall_under_test", ROOT / "_modules" / "layline_firewall.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.__salt__, module.__opts__ = {}, {"id": "ll-node-1"}
    return module


# ---------------------------------------------------------------- canonical address


def test_address_is_the_pillar_address_else_the_resolved_hostname(layline, make_config):
    config = make_config(SEED_PILLAR)
    assert layline.address(config=config) == "10.231.7.12"  # this minion: ll-node-1
    assert layline.address("cluster:nodes[1]", config=config) == "10.231.7.13"
    assert layline.address("config_server", config=config) == "10.231.7.11"
    assert layline.address("database", config=config) == "10.231.7.10"
    config["cluster"]["nodes"][1]["address"] = "192.0.2.20"
    assert layline.address("cluster:nodes[1]", config=config) == "192.0.2.20"


def test_address_prefers_ipv4_and_strips_the_zone(layline, make_config, monkeypatch):
    config = make_config(SEED_PILLAR)
    resolve = [(10, 1, 6, "", ("fe80::1%eth0", 0, 0, 2)), (2, 1, 6, "", ("192.0.2.5", 0))]
    monkeypatch.setattr(layline_address, "getaddrinfo", lambda host: resolve)
    assert layline.address(config=config) == "192.0.2.5"
    resolve = [(10, 1, 6, "", ("2001:db8::5%eth0", 0, 0, 2))]
    assert layline.address(config=config) == "2001:db8::5"


def test_loopback_of_a_multi_machine_cluster_names_the_key(layline, make_config, no_dns):
    config = make_config(SEED_PILLAR)
    # Debian's installer writes "127.0.1.1 <hostname>" into /etc/hosts
    no_dns({"ll-node-2.orb.local": "127.0.1.1"})
    with pytest.raises(
        CommandExecutionError,
        match=(
            r"layline:cluster:nodes\[1\]:hostname 'll-node-2.orb.local' resolves to 127.0.1.1 "
            r"on minion ll-node-1, a loopback address.*set layline:cluster:nodes\[1\]:address"
        ),
    ):
        layline.address("cluster:nodes[1]", config=config)
    config["cluster"]["nodes"][1]["address"] = "127.0.0.2"
    with pytest.raises(CommandExecutionError, match=r"cluster:nodes\[1\]:address 127.0.0.2"):
        layline.address("cluster:nodes[1]", config=config)


def test_unresolvable_hostname_names_the_key(layline, make_config):
    config = make_config(SEED_PILLAR, {"database": {"hostname": "db.invalid"}})
    with pytest.raises(
        CommandExecutionError,
        match=r"layline:database:hostname: 'db.invalid' does not resolve on "
        r"minion ll-node-1.*layline:database:address",
    ):
        layline.address("database", config=config)
    errors = layline._address_errors(config, "ll-node-1")
    assert len(errors) == 1 and errors[0].startswith("layline:database:hostname")


def test_loopback_is_fine_when_every_role_is_on_one_machine(layline, make_config):
    one = {"minion": "ll-node-1", "hostname": "localhost"}
    config = make_config(
        SEED_PILLAR,
        {
            "cluster": {"nodes": [one], "min_nr_of_members": 1},
            "config_server": one,
            "database": {"minion": "ll-node-1", "hostname": "localhost"},
        },
    )
    assert layline.address(config=config) == "127.0.0.1"
    assert layline._address_errors(config, "ll-node-1") == []
    data = layline.render_data("reactive-engine", config)
    assert data["pekko"]["remote"]["artery"]["bind"]["hostname"] == "127.0.0.1"


# ---------------------------------------------------------------- binding


def _binds(layline, config, minion="ll-node-1"):
    engine = layline._build_data("reactive-engine", config, minion)
    return {
        "rest": engine["layline"]["reactive-engine"]["rest-server"]["bind"]["hostname"],
        "artery": engine["pekko"]["remote"]["artery"]["bind"]["hostname"],
        "management": engine["pekko"]["management"]["http"]["bind-hostname"],
    }


def test_every_listener_binds_the_canonical_address(layline, make_config):
    config = make_config(SEED_PILLAR)
    assert set(_binds(layline, config).values()) == {"10.231.7.12"}
    server = layline._build_data("config-server", config, "ll-config-server")
    assert server["layline"]["config-server"]["rest-server"]["bind"]["hostname"] == "10.231.7.11"
    # Pekko's canonical address stays the hostname (the seed nodes, certificates)
    engine = layline._build_data("reactive-engine", config, "ll-node-1")
    assert engine["pekko"]["remote"]["artery"]["canonical"]["hostname"] == "ll-node-1.orb.local"
    assert layline.bind_address("database", config=config) == "10.231.7.10"


def test_bind_any_and_explicit_database_bind_address(layline, make_config):
    config = make_config(SEED_PILLAR, {"network": {"bind_any": True}})
    assert set(_binds(layline, config).values()) == {"0.0.0.0"}
    assert layline.bind_address("database", config=config) == "0.0.0.0"
    config = make_config(SEED_PILLAR, {"database": {"bind_address": "192.0.2.1"}})
    assert layline.bind_address("database", config=config) == "192.0.2.1"


def test_single_host_default_binds_loopback_only(layline, make_config):
    config = make_config(SINGLE_PILLAR)
    assert set(_binds(layline, config).values()) == {"127.0.0.1"}
    server = layline._build_data("config-server", config, "ll-node-1")
    assert server["layline"]["config-server"]["rest-server"]["bind"]["hostname"] == "127.0.0.1"
    assert layline.address(config=config) == "127.0.0.1"


# ---------------------------------------------------------------- validation


def _errors(layline, config):
    return layline._validate(config, "ll-node-1")


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (
            {
                "cluster": {
                    "nodes": [{"minion": "a", "hostname": "a.example", "address": "a.example"}]
                }
            },
            "layline:cluster:nodes[0]:address: 'a.example' is not an IP address",
        ),
        (
            {
                "cluster": {
                    "nodes": [{"minion": "a", "hostname": "a.example", "adress": "10.0.0.1"}]
                }
            },
            "layline:cluster:nodes[0]:adress: unknown key: did you mean 'address'?",
        ),
        (
            {"config_server": {"address": "0.0.0.0"}},
            "layline:config_server:address: '0.0.0.0' is not the address of one machine",
        ),
        ({"database": {"address": "300.1.1.1"}}, "layline:database:address: '300.1.1.1' is not"),
        ({"firewall": {"clients": ["10.0.0.0/33"]}}, "layline:firewall:clients[0]: '10.0.0.0/33'"),
        ({"firewall": {"browsers": ["office.example"]}}, "layline:firewall:browsers[0]:"),
        ({"firewall": {"enabled": "yes"}}, "layline:firewall:enabled: must be true or false"),
        ({"firewall": {"backend": "iptables"}}, "layline:firewall:backend: 'iptables' is not one"),
        ({"firewall": {"backend": None}}, "layline:firewall:backend: is not set for this OS"),
        ({"network": {"bind_any": 1}}, "layline:network:bind_any: must be true or false"),
        ({"network": {"bind": True}}, "layline:network:bind: unknown key"),
        (
            {"database": {"allowed_hosts": ["ll-node-1.orb.local"]}},
            "layline:database:allowed_hosts[0]: 'll-node-1.orb.local' is a host name, but "
            "layline:database:skip_name_resolve is on",
        ),
        (
            {"database": {"allowed_hosts": ["2001:db8::/64"]}},
            "layline:database:allowed_hosts[0]: '2001:db8::/64': MariaDB/MySQL accept only IPv4",
        ),
        ({"database": {"skip_name_resolve": "no"}}, "layline:database:skip_name_resolve: must be"),
    ],
)
def test_network_keys_are_validated_naming_the_key(layline, make_config, change, key):
    errors, _warnings = _errors(layline, make_config(SEED_PILLAR, change))
    assert any(error.startswith(key) for error in errors), errors


def test_hostnames_are_fine_without_skip_name_resolve_and_percent_warns(layline, make_config):
    config = make_config(
        SEED_PILLAR,
        {
            "database": {
                "skip_name_resolve": False,
                "allowed_hosts": ["ll-node-1.orb.local", "%", "10.0.0.%"],
            }
        },
    )
    errors, warnings = _errors(layline, config)
    assert errors == []
    assert any(
        w.startswith(
            "layline:database:allowed_hosts[1]: '%' lets the layline account log in from any host"
        )
        for w in warnings
    ), warnings


# ---------------------------------------------------------------- firewall rules


def _rules(firewall, config, minion):
    return {rule["port"]: rule["sources"] for rule in firewall.rules(config, minion)}


def test_rules_follow_the_guides_port_table(firewall, make_config):
    config = make_config(
        SEED_PILLAR, {"firewall": {"browsers": ["192.0.2.0/24"], "clients": ["198.51.100.7"]}}
    )
    engines = ["10.231.7.12/31", "10.231.7.14/32"]  # ll-node-1..3, collapsed
    server = ["10.231.7.11/32"]
    assert _rules(firewall, config, "ll-mysql") == {3306: sorted(server + engines)}
    assert _rules(firewall, config, "ll-config-server") == {
        5841: ["10.231.7.12/31", "10.231.7.14/32", "192.0.2.0/24"]
    }
    assert _rules(firewall, config, "ll-node-1") == {
        5842: ["10.231.7.11/32", "198.51.100.7/32"],
        5843: engines,
        8558: ["10.231.7.11/32", "10.231.7.12/31", "10.231.7.14/32"],
    }


def test_metrics_port_opens_to_scrape_and_the_monitoring_machine(firewall, make_config):
    config = make_config(SEED_PILLAR, {"firewall": {"scrape": ["203.0.113.0/28"]}})
    config["metrics"] = {"enabled": True, "port": 9095}  # issue 11b's keys
    config["monitoring"] = {"minion": "ll-mysql", "hostname": "ll-mysql.orb.local"}
    assert _rules(firewall, config, "ll-node-1")[9095] == ["10.231.7.10/32", "203.0.113.0/28"]
    config["metrics"]["enabled"] = False
    assert 9095 not in _rules(firewall, config, "ll-node-1")
    del config["metrics"]  # before 11b: no metrics key at all
    assert 9095 not in _rules(firewall, config, "ll-node-1")


def test_firewall_is_active_only_where_listeners_are_reachable(firewall, make_config):
    seed = make_config(SEED_PILLAR)
    assert firewall.active(seed, "ll-node-1") is True
    assert firewall.active(seed, "somebody-else") is False  # no layline role
    seed["firewall"]["enabled"] = False
    assert firewall.active(seed, "ll-node-1") is False
    single = make_config(SINGLE_PILLAR)
    assert firewall.active(single, "ll-node-1") is False  # everything on 127.0.0.1
    assert (
        firewall.active(make_config(SINGLE_PILLAR, {"network": {"bind_any": True}}), "ll-node-1")
        is True
    )


def test_nft_text_is_one_table_replaced_atomically(firewall):
    rules = [
        {
            "port": 3306,
            "what": "MySQL",
            "key": "database:port",
            "sources": ["10.0.0.5/32", "10.1.0.0/16", "2001:db8::/64"],
        },
        {"port": 5843, "what": "Artery", "key": "ports:cluster", "sources": []},
    ]
    text = firewall.nft_text(rules)
    lines = [line.strip() for line in text.splitlines()]
    # create, delete, define: `nft -f` runs the file as one transaction
    assert lines[1:4] == [
        "table inet layline {}",
        "delete table inet layline",
        "table inet layline {",
    ]
    assert "type filter hook input priority filter; policy accept;" in lines
    assert "tcp dport 3306 ip saddr { 10.0.0.5, 10.1.0.0/16 } accept" in lines
    assert "tcp dport 3306 ip6 saddr { 2001:db8::/64 } accept" in lines
    assert not any(line.startswith("tcp dport 5843 ip") for line in lines)  # nobody
    assert lines[-3] == "tcp dport { 3306, 5843 } drop"
    assert "flush ruleset" not in text  # the site's tables stay
    empty = firewall.nft_text([])
    assert "drop" not in empty and "table inet layline {" in empty


def test_sources_never_reach_the_ruleset_unparsed(firewall, make_config):
    config = make_config(SEED_PILLAR, {"firewall": {"clients": ["10.0.0.1 } accept; #"]}})
    with pytest.raises(ValueError):
        firewall.rules(config, "ll-node-1")


def test_firewalld_rich_rules_of_the_same_data(firewall):
    rules = [
        {
            "port": 5842,
            "what": "engine REST",
            "key": "ports:rest",
            "sources": ["10.231.7.11/32", "2001:db8::/64"],
        }
    ]
    assert firewall.rich_rule_list(rules) == [
        'rule family="ipv4" source address="10.231.7.11/32" port port="5842" protocol="tcp" accept',
        'rule family="ipv6" source address="2001:db8::/64" port port="5842" protocol="tcp" accept',
    ]


@pytest.mark.parametrize("os_family", ["Debian", "RedHat"])
def test_firewall_sls_renders_the_backend_of_the_os_family(firewall, layline, tmp_path, os_family):
    """layline/firewall/init.sls rendered by Salt's renderer with the os family's map."""
    renderer = unitsupport.MapJinja(tmp_path, os_family)
    config = renderer.render(SEED_PILLAR)
    assert config["firewall"]["backend"] == {"Debian": "nftables", "RedHat": "firewalld"}[os_family]
    funcs = {
        "layline.roles": layline.roles,
        "layline.python_ready": lambda *a: True,
        "layline_release.pending_version": lambda *a: None,
        # synced.jinja's markers of the other modules (TLS, seed gate): only presence counts
        "layline.tls_plan": lambda *a, **k: None,
        "layline.seed_gate": lambda *a, **k: None,
        "layline_tls.ca_certificate": lambda *a: None,
        "layline_db.root_connection": lambda *a, **k: {},
        "layline_firewall.ruleset": lambda: firewall.ruleset(config, "ll-node-1"),
        "layline_firewall.rich_rules": lambda: firewall.rich_rules(config, "ll-node-1"),
    }
    for name, func in funcs.items():
        renderer._salt[name] = func
    text = renderer._salt["slsutil.renderer"](
        path="salt://layline/firewall/init.sls", default_renderer="jinja", tpldir="layline/firewall"
    )
    import yaml

    states = yaml.safe_load(text)
    if os_family == "RedHat":
        assert "layline-firewall-file-managed-ruleset" not in states
        present = {
            k: v
            for item in states["layline-firewall-firewalld-present"]["firewalld.present"]
            for k, v in item.items()
        }
        assert present["name"] == "public" and present["prune_rich_rules"] is False
        assert (
            'rule family="ipv4" source address="10.231.7.11/32" port port="5842" '
            'protocol="tcp" accept' in present["rich_rules"]
        )
    else:
        assert "layline-firewall-firewalld-present" not in states
        managed = {
            k: v
            for item in states["layline-firewall-file-managed-ruleset"]["file.managed"]
            for k, v in item.items()
        }
        assert managed["name"] == "/etc/nftables.d/layline.nft"
        assert managed["check_cmd"] == "/usr/sbin/nft -c -f"
        assert "tcp dport { 5842, 5843, 8558 } drop" in managed["contents"]


@pytest.mark.parametrize("value", ["198.51.100.300", "any", "10.0.0.0/33", 7])
def test_firewall_operators_are_ip_addresses_or_networks(layline, make_config, value):
    errors, _ = layline._validate(
        make_config(SEED_PILLAR, {"firewall": {"operators": ["198.51.100.7", value]}}), "ll-node-1"
    )
    assert errors and all(e.startswith("layline:firewall:operators[1]:") for e in errors), errors
    valid, _ = layline._validate(
        make_config(SEED_PILLAR, {"firewall": {"operators": ["198.51.100.0/24", "2001:db8::1"]}}),
        "ll-node-1",
    )
    assert valid == []
