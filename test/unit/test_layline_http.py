"""members / ready / status / cluster_health over real HTTP (salt.utils.http), and diagnose.

Each fake engine is a tiny http.server on its own loopback address (127.0.0.x)
with one shared port, so the config's single ports:rest/management fits all.
"""

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from salt.exceptions import CommandExecutionError
from unitsupport import SECRET, SEED_PILLAR

HOSTS = ["127.0.0.1", "127.0.0.2", "127.0.0.3"]


def _address(host, port):
    return f"pekko://layline@{host}:{port}"


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server API
        status, body = self.server.routes.get(self.path, (404, {"error": "not found"}))
        payload = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def engines():
    """Start fake engines; returns (start(host, routes), port)."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    servers = []

    def start(host, routes):
        server = ThreadingHTTPServer((host, port), _Handler)
        server.routes = routes
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)

    yield start, port
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def config(make_config, engines):
    _start, port = engines
    nodes = [{"minion": f"ll-node-{i}", "hostname": host} for i, host in enumerate(HOSTS, 1)]
    return make_config(SEED_PILLAR, {
        "cluster": {"nodes": nodes},
        "ports": {"rest": port, "management": port, "cluster": port},
    })


def _members(port, up=HOSTS, unreachable=(), status="Up"):
    return {
        "selfNode": _address(HOSTS[0], port),
        "members": [{"node": _address(h, port), "nodeUid": "1", "status": status,
                     "roles": ["dc-default"]} for h in up],
        "unreachable": [{"node": _address(h, port), "observedBy": [_address(HOSTS[0], port)]}
                        for h in unreachable],
        "leader": _address(HOSTS[0], port), "oldest": _address(HOSTS[0], port),
    }


def _engine_status(host, port, state="Up"):
    return {"name": host, "state": state, "version": "2.5.4", "uptime": 12.5,
            "address": _address(host, port)}


def test_members_and_ready(layline, engines, config):
    start, port = engines
    start(HOSTS[0], {"/cluster/members": (200, _members(port)), "/ready": (200, "OK")})
    start(HOSTS[1], {"/ready": (500, "Not Healthy: journal")})
    assert layline.members(config=config) == _members(port)  # this minion: ll-node-1
    assert layline.ready(config=config) is True
    assert layline.ready(host=HOSTS[1], config=config) is False
    assert layline.ready(host=HOSTS[2], config=config, timeout=1) is False  # nothing listens
    with pytest.raises(CommandExecutionError, match="layline:ports:management"):
        layline.members(host=HOSTS[2], config=config, timeout=1)


def test_cluster_health_healthy(layline, engines, config):
    start, port = engines
    start(HOSTS[0], {"/cluster/members": (200, _members(port))})
    health = layline.cluster_health(config=config)
    assert health["healthy"] is True
    assert health["expected"] == [_address(h, port) for h in HOSTS]
    assert health["missing"] == [] and health["unreachable"] == []
    assert layline.__context__.get("retcode", 0) == 0


def test_cluster_health_unreachable_and_missing(layline, engines, config):
    start, port = engines
    # node 1 does not answer at all; node 2 answers: node 3 joining, node 1 unreachable
    view = _members(port, up=HOSTS[:2], unreachable=[HOSTS[0]])
    view["members"].append({"node": _address(HOSTS[2], port), "status": "Joining"})
    start(HOSTS[1], {"/cluster/members": (200, view)})
    health = layline.cluster_health(config=config, timeout=1)
    assert health["healthy"] is False
    assert health["missing"] == [_address(HOSTS[2], port)]
    assert health["unreachable"] == [_address(HOSTS[0], port)]
    assert "127.0.0.2" in health["comment"]
    assert layline.__context__["retcode"] == 1


def test_cluster_health_nobody_answers(layline, config):
    health = layline.cluster_health(config=config, timeout=1)
    assert health["healthy"] is False and "management port" in health["comment"]
    assert layline.__context__["retcode"] == 1


def test_status_rows(layline, engines, config):
    start, port = engines
    view = _members(port, up=HOSTS[:2], unreachable=[HOSTS[1]])
    start(HOSTS[0], {"/cluster/members": (200, view),
                     "/engine/status": (200, _engine_status(HOSTS[0], port))})
    start(HOSTS[1], {"/engine/status": (200, _engine_status(HOSTS[1], port, "WeaklyUp"))})
    rows = layline.status(config=config, timeout=1)
    assert rows == [
        {"node": "ll-node-1", "hostname": HOSTS[0], "state": "Up", "version": "2.5.4",
         "uptime": 12.5, "unreachable": False, "in_pillar": True},
        {"node": "ll-node-2", "hostname": HOSTS[1], "state": "WeaklyUp", "version": "2.5.4",
         "uptime": 12.5, "unreachable": True, "in_pillar": True},
        {"node": "ll-node-3", "hostname": HOSTS[2], "state": "Unreachable", "version": None,
         "uptime": None, "unreachable": True, "in_pillar": True},
    ]
    assert layline.__context__["retcode"] == 1


def test_status_all_up_exits_zero(layline, engines, config):
    start, port = engines
    for host in HOSTS:
        routes = {"/engine/status": (200, _engine_status(host, port))}
        if host == HOSTS[0]:
            routes["/cluster/members"] = (200, _members(port))
        start(host, routes)
    rows = layline.status(config=config, timeout=1)
    assert [row["state"] for row in rows] == ["Up"] * 3
    assert layline.__context__.get("retcode", 0) == 0


def test_status_lists_members_the_pillar_does_not_know(layline, engines, config):
    start, port = engines
    config["cluster"]["nodes"] = config["cluster"]["nodes"][:1]  # ll-node-2 and -3 removed
    view = _members(port, up=HOSTS[:2])
    view["members"].append({"node": _address(HOSTS[2], port), "status": "Leaving"})
    start(HOSTS[0], {"/cluster/members": (200, view),
                     "/engine/status": (200, _engine_status(HOSTS[0], port))})
    start(HOSTS[1], {"/engine/status": (200, dict(_engine_status(HOSTS[1], port),
                                                  version="2.5.5"))})
    rows = layline.status(config=config, timeout=1)
    assert [(r["node"], r["hostname"], r["in_pillar"]) for r in rows] == [
        ("ll-node-1", HOSTS[0], True), (None, HOSTS[1], False), (None, HOSTS[2], False)]
    assert rows[1]["version"] == "2.5.5" and rows[1]["state"] == "Up"
    # a member that does not answer on REST keeps the state the cluster reports
    assert rows[2]["state"] == "Leaving" and rows[2]["unreachable"] is True


def test_diagnose_reports_closed_cluster_port(layline, engines, config):
    start, port = engines
    start(HOSTS[2], {})  # ll-node-3 listens on the cluster port, ll-node-2 does not
    config["database"]["hostname"] = "127.0.0.1"
    config["database"]["port"] = 1  # closed
    config["config_server"]["hostname"] = "127.0.0.1"
    config["home"] = "/nonexistent-layline-home"
    calls = []
    layline.__salt__ = {
        "layline_db.check_connection": lambda cfg: calls.append(cfg) or (
            False, f"Access denied for user 'layline' (using password: {SECRET})"),
    }
    report = layline.diagnose(config=config, timeout=1)
    assert report["ok"] is False
    assert layline.__context__["retcode"] == 1
    by_target = {(row["check"], row["target"]): row for row in report["checks"]}
    node2 = by_target[("cluster port reachable", f"ll-node-2 (127.0.0.2:{port})")]
    assert node2["result"] == "failed" and node2["fix"]
    assert by_target[("cluster port reachable", f"ll-node-3 (127.0.0.3:{port})")]["result"] == "ok"
    assert by_target[("seed nodes match canonical hostnames", "rendered config")]["result"] == "ok"
    assert all(row["result"] == "ok" for row in report["checks"]
               if row["check"] == "hostname resolves")
    login = [row for row in report["checks"] if row["check"] == "database login"][0]
    assert login["result"] == "failed" and "Access denied" in login["detail"]
    assert SECRET not in json.dumps(report)
    assert calls  # layline_db was used


def test_diagnose_skips_database_without_layline_db(layline, config, make_config):
    layline.__opts__["id"] = "ll-config-server"
    report = layline.diagnose(config=config, timeout=1)
    rest = [row for row in report["checks"] if row["check"] == "engine REST port reachable"]
    assert len(rest) == 3 and all(row["result"] == "failed" for row in rest)
    login = [row for row in report["checks"] if row["check"] == "database login"][0]
    assert login["result"] == "skipped"
    assert not [row for row in report["checks"] if row["check"] == "cluster port reachable"]


def test_diagnose_flags_unresolvable_hostname(layline, make_config):
    config = make_config(SEED_PILLAR)
    config["cluster"]["nodes"][1]["hostname"] = "no-such-host.invalid"
    report = layline.diagnose(config=config, timeout=0.2)
    failed = [row for row in report["checks"]
              if row["check"] == "hostname resolves" and row["result"] == "failed"]
    assert "no-such-host.invalid" in [row["target"] for row in failed]
    assert "/etc/hosts" in failed[0]["fix"]
