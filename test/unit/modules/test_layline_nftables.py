"""The generated nftables ruleset, checked by nftables itself: `nft -c -f` accepts it, and
loaded into a network namespace of its own (`unshare --net`, the host's firewall is never
touched) `nft -j list` shows the loopback accept first, every port's sources, and the
drop last. Needs nft (test/setup-host installs Debian's nftables) and root."""

import importlib.util
import ipaddress
import json
import os
import shutil
import subprocess

import pytest
from unitsupport import ROOT, SEED_PILLAR

NFT = shutil.which("nft") or "/usr/sbin/nft"


@pytest.fixture
def firewall(layline):
    spec = importlib.util.spec_from_file_location(
        "layline_firewall_nft_under_test", ROOT / "_modules" / "layline_firewall.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.__salt__, module.__opts__ = {}, {"id": "ll-node-1"}
    return module


@pytest.fixture
def nft(tmp_path):
    """Loads a ruleset in a fresh network namespace; returns the table's rules, normalised."""
    if not os.path.exists(NFT):
        pytest.skip("nft is not installed (test/setup-host installs nftables)")
    if os.geteuid() != 0:
        pytest.skip("nft needs root (CAP_NET_ADMIN) to check and load a ruleset")

    def load(text):
        path = tmp_path / "layline.nft"
        path.write_text(text)
        check = subprocess.run(
            [NFT, "-c", "-f", str(path)], capture_output=True, text=True, check=False
        )
        assert check.returncode == 0, f"nft -c refused the ruleset: {check.stderr}\n{text}"
        # twice: the create-delete-define script must also replace a loaded table
        script = f"{NFT} -f {path} && {NFT} -f {path} && {NFT} -j list table inet layline"
        loaded = subprocess.run(
            ["unshare", "--net", "sh", "-c", script], capture_output=True, text=True, check=False
        )
        assert loaded.returncode == 0, f"nft could not load the ruleset: {loaded.stderr}"
        return [
            _rule(item["rule"]["expr"])
            for item in json.loads(loaded.stdout)["nftables"]
            if "rule" in item
        ]

    return load


def _intervals(pairs):
    """Sorted, merged ``(first, last)`` address intervals: nft merges adjacent set elements
    into ranges, so sources are compared by the addresses they cover."""
    merged = []
    for first, last in sorted(pairs):
        if merged and first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return merged


def _element(item):
    if isinstance(item, dict) and "prefix" in item:
        net = ipaddress.ip_network(f"{item['prefix']['addr']}/{item['prefix']['len']}")
        return int(net[0]), int(net[-1])
    if isinstance(item, dict) and "range" in item:
        first, last = item["range"]
        if isinstance(first, int):
            return first, last
        return int(ipaddress.ip_address(first)), int(ipaddress.ip_address(last))
    if isinstance(item, int):
        return item, item
    return int(ipaddress.ip_address(item)), int(ipaddress.ip_address(item))


def _values(right):
    items = right["set"] if isinstance(right, dict) and "set" in right else [right]
    return _intervals(_element(item) for item in items)


def _rule(expr):
    """One rule as a dict: its matches (``iif``, ``dport``, ``ip``/``ip6`` saddr) and verdict."""
    rule = {}
    for part in expr:
        if "match" in part:
            left, right = part["match"]["left"], part["match"]["right"]
            if "meta" in left:
                rule[left["meta"]["key"]] = right
            elif left["payload"]["field"] == "dport":
                rule["dport"] = _values(right)
            else:
                rule[left["payload"]["protocol"]] = _values(right)
        else:
            (rule["verdict"],) = part
    return rule


def _networks(sources, version):
    """The address intervals of the sources of one family."""
    nets = [ipaddress.ip_network(source) for source in sources]
    return _intervals((int(n[0]), int(n[-1])) for n in nets if n.version == version)


def _ports(*ports):
    return _intervals((port, port) for port in ports)


def _assert_matches(rules, loaded):
    """``loaded`` is exactly: loopback accept, each rule's per-family accepts, one drop."""
    assert loaded[0] == {"iif": "lo", "verdict": "accept"}, loaded[0]
    drop = {"dport": _ports(*(r["port"] for r in rules)), "verdict": "drop"}
    assert loaded[-1] == drop, loaded[-1]
    want = []
    for rule in rules:
        for family, version in (("ip", 4), ("ip6", 6)):
            sources = _networks(rule["sources"], version)
            if sources:
                want.append({"dport": _ports(rule["port"]), family: sources, "verdict": "accept"})
    assert loaded[1:-1] == want


TOPOLOGIES = {
    "seed-engine": ({}, "ll-node-1"),
    "seed-database": ({}, "ll-mysql"),
    "seed-config-server": ({"firewall": {"browsers": ["192.0.2.0/24"]}}, "ll-config-server"),
    "clients-v4-and-v6": (
        {"firewall": {"clients": ["198.51.100.7", "2001:db8::/64", "2001:db8:1::5"]}},
        "ll-node-1",
    ),
}


@pytest.mark.parametrize("change,minion", TOPOLOGIES.values(), ids=TOPOLOGIES.keys())
def test_generated_ruleset_loads_and_lists_what_the_rules_say(
    firewall, make_config, nft, change, minion
):
    config = make_config(SEED_PILLAR, change)
    rules = firewall.rules(config, minion)
    assert rules, "every seed role has listeners"
    _assert_matches(rules, nft(firewall.nft_text(rules)))


def test_metrics_port_is_in_the_loaded_ruleset(firewall, make_config, nft):
    config = make_config(SEED_PILLAR, {"firewall": {"scrape": ["203.0.113.0/28"]}})
    config["metrics"] = {"enabled": True, "port": 9095}
    config["monitoring"] = {"minion": "ll-mysql", "hostname": "ll-mysql.orb.local"}
    rules = firewall.rules(config, "ll-node-1")
    loaded = nft(firewall.nft_text(rules))
    _assert_matches(rules, loaded)
    scrape = _networks(["10.231.7.10/32", "203.0.113.0/28"], 4)
    assert {"dport": _ports(9095), "ip": scrape, "verdict": "accept"} in loaded


def test_loopback_accept_comes_before_the_drop(firewall, make_config, nft):
    """Without it the engine's own loopback traffic to a layline port (health checks,
    the CLI, a local scrape) hits the drop: an operator locked out by the formula."""
    rules = firewall.rules(make_config(SEED_PILLAR), "ll-node-1")
    loaded = nft(firewall.nft_text(rules))
    loopback = [n for n, rule in enumerate(loaded) if rule == {"iif": "lo", "verdict": "accept"}]
    drops = [n for n, rule in enumerate(loaded) if rule["verdict"] == "drop"]
    assert loopback and drops and loopback[0] < min(drops), loaded


def test_an_empty_ruleset_loads_and_drops_nothing(firewall, nft):
    assert nft(firewall.nft_text([])) == []


MONITORED = {
    "metrics": {"enabled": True, "port": 9095},
    "monitoring": {"minion": "ll-mysql", "hostname": "ll-mysql.orb.local"},
    "firewall": {"operators": ["198.51.100.7"], "scrape": ["203.0.113.0/28"]},
}


def test_prometheus_and_the_node_exporter_are_filtered(firewall, make_config, nft):
    """Issue 18, finding 5: on the monitoring + database minion, Prometheus (9090) accepts
    layline:firewall:operators only, the node exporter (9100) the monitoring minion and
    layline:firewall:scrape only; both are in the drop."""
    rules = firewall.rules(make_config(SEED_PILLAR, MONITORED), "ll-mysql")
    by_port = {rule["port"]: rule for rule in rules}
    assert set(by_port) == {3306, 9090, 9100}
    assert by_port[9090]["key"] == "monitoring:port"
    assert by_port[9090]["sources"] == ["198.51.100.7/32"]
    assert by_port[9100]["sources"] == ["10.231.7.10/32", "203.0.113.0/28"]
    loaded = nft(firewall.nft_text(rules))
    _assert_matches(rules, loaded)
    assert {
        "dport": _ports(9090),
        "ip": _networks(["198.51.100.7/32"], 4),
        "verdict": "accept",
    } in (loaded)
    assert loaded[-1] == {"dport": _ports(3306, 9090, 9100), "verdict": "drop"}


def test_prometheus_without_operators_is_reached_over_loopback_only(firewall, make_config, nft):
    config = make_config(SEED_PILLAR, {**MONITORED, "firewall": {}})
    config["database"]["minion"] = "ll-config-server"  # the node exporter moves away
    rules = firewall.rules(config, "ll-mysql")
    assert rules == [{"port": 9090, "what": "Prometheus", "key": "monitoring:port", "sources": []}]
    loaded = nft(firewall.nft_text(rules))
    assert loaded == [
        {"iif": "lo", "verdict": "accept"},
        {"dport": _ports(9090), "verdict": "drop"},
    ]
    on_the_database = {r["port"] for r in firewall.rules(config, "ll-config-server")}
    assert 9100 in on_the_database and 9090 not in on_the_database


def test_an_engine_has_no_monitoring_ports(firewall, make_config):
    ports = {
        rule["port"] for rule in firewall.rules(make_config(SEED_PILLAR, MONITORED), "ll-node-1")
    }
    assert 9090 not in ports and 9100 not in ports and 9095 in ports
