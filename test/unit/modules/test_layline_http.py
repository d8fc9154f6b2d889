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
from unitsupport import SECRET, SEED_PILLAR, SINGLE_PILLAR

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
    return make_config(
        SEED_PILLAR,
        {
            "cluster": {"nodes": nodes},
            "ports": {"rest": port, "management": port, "cluster": port},
            # fake engines on loopback addresses: canonical addresses would refuse loopback
            "network": {"bind_any": True},
        },
    )


def _members(port, up=HOSTS, unreachable=(), status="Up"):
    return {
        "selfNode": _address(HOSTS[0], port),
        "members": [
            {"node": _address(h, port), "nodeUid": "1", "status": status, "roles": ["dc-default"]}
            for h in up
        ],
        "unreachable": [
            {"node": _address(h, port), "observedBy": [_address(HOSTS[0], port)]}
            for h in unreachable
        ],
        "leader": _address(HOSTS[0], port),
        "oldest": _address(HOSTS[0], port),
    }


def _engine_status(host, port, state="Up"):
    return {
        "name": host,
        "state": state,
        "version": "2.5.4",
        "uptime": 12.5,
        "address": _address(host, port),
    }


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
    everyone = [_address(h, port) for h in HOSTS]
    assert health == {
        "healthy": True,
        "expected": everyone,
        "up": everyone,
        "missing": [],
        "unreachable": [],
        "comment": f"all 3 node(s) Up (seen from {HOSTS[0]})",
    }
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
    everyone = [_address(h, int(config["ports"]["management"])) for h in HOSTS]
    assert health == {
        "healthy": False,
        "expected": everyone,
        "up": [],
        "missing": everyone,
        "unreachable": [],
        "comment": f"no engine node answered on its management port "
        f"{config['ports']['management']} (layline:ports:management); are the "
        "reactive engines running?",
    }
    assert layline.__context__["retcode"] == 1


def test_status_rows(layline, engines, config):
    start, port = engines
    view = _members(port, up=HOSTS[:2], unreachable=[HOSTS[1]])
    start(
        HOSTS[0],
        {"/cluster/members": (200, view), "/engine/status": (200, _engine_status(HOSTS[0], port))},
    )
    start(HOSTS[1], {"/engine/status": (200, _engine_status(HOSTS[1], port, "WeaklyUp"))})
    rows = layline.status(config=config, timeout=1)
    assert rows == [
        {
            "node": "ll-node-1",
            "hostname": HOSTS[0],
            "state": "Up",
            "version": "2.5.4",
            "uptime": 12.5,
            "unreachable": False,
            "in_pillar": True,
        },
        {
            "node": "ll-node-2",
            "hostname": HOSTS[1],
            "state": "WeaklyUp",
            "version": "2.5.4",
            "uptime": 12.5,
            "unreachable": True,
            "in_pillar": True,
        },
        {
            "node": "ll-node-3",
            "hostname": HOSTS[2],
            "state": "Unreachable",
            "version": None,
            "uptime": None,
            "unreachable": True,
            "in_pillar": True,
        },
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
    start(
        HOSTS[0],
        {"/cluster/members": (200, view), "/engine/status": (200, _engine_status(HOSTS[0], port))},
    )
    start(
        HOSTS[1], {"/engine/status": (200, dict(_engine_status(HOSTS[1], port), version="2.5.5"))}
    )
    rows = layline.status(config=config, timeout=1)
    assert [(r["node"], r["hostname"], r["in_pillar"]) for r in rows] == [
        ("ll-node-1", HOSTS[0], True),
        (None, HOSTS[1], False),
        (None, HOSTS[2], False),
    ]
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
        "layline_db.check_connection": lambda cfg: (
            calls.append(cfg)
            or (False, f"Access denied for user 'layline' (using password: {SECRET})")
        ),
    }
    report = layline.diagnose(config=config, timeout=1)
    assert report["ok"] is False
    assert layline.__context__["retcode"] == 1
    by_target = {(row["check"], row["target"]): row for row in report["checks"]}
    node2 = by_target[("cluster port reachable", f"ll-node-2 (127.0.0.2:{port})")]
    assert node2["result"] == "failed" and node2["fix"]
    assert by_target[("cluster port reachable", f"ll-node-3 (127.0.0.3:{port})")]["result"] == "ok"
    assert by_target[("seed nodes match canonical hostnames", "rendered config")]["result"] == "ok"
    assert all(
        row["result"] == "ok" for row in report["checks"] if row["check"] == "hostname resolves"
    )
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
    failed = [
        row
        for row in report["checks"]
        if row["check"] == "hostname resolves" and row["result"] == "failed"
    ]
    assert "no-such-host.invalid" in [row["target"] for row in failed]
    assert "/etc/hosts" in failed[0]["fix"]


def test_cluster_health_every_member_up_but_one_unreachable(layline, engines, config):
    """All members still Up (not yet downed) but one unreachable: not healthy."""
    start, port = engines
    start(HOSTS[0], {"/cluster/members": (200, _members(port, unreachable=[HOSTS[2]]))})
    health = layline.cluster_health(config=config, timeout=1)
    assert health["missing"] == []
    assert health["unreachable"] == [_address(HOSTS[2], port)]
    assert health["healthy"] is False
    assert "unreachable" in health["comment"] and HOSTS[2] in health["comment"]


def test_cluster_health_lists_who_is_up(layline, engines, config):
    start, port = engines
    view = _members(port, up=HOSTS[:1])
    start(HOSTS[0], {"/cluster/members": (200, view)})
    health = layline.cluster_health(config=config, timeout=1)
    assert health["up"] == [_address(HOSTS[0], port)]
    missing = [_address(h, port) for h in HOSTS[1:]]
    assert health["missing"] == missing and health["healthy"] is False
    assert health["comment"] == (
        f"cluster not healthy (seen from {HOSTS[0]}): not Up: {', '.join(missing)}"
    )


def test_status_error_answer_with_json_body_is_unreachable(layline, engines, config):
    start, port = engines
    start(
        HOSTS[0],
        {
            "/cluster/members": (200, _members(port)),
            "/engine/status": (500, _engine_status(HOSTS[0], port)),
        },
    )
    row = layline.status(config=config, timeout=1)[0]
    assert (row["state"], row["version"], row["unreachable"]) == ("Unreachable", None, True)


# ---------------------------------------------------------------- diagnose: seed nodes


def _seed_rows(layline, config):
    return [
        (r["target"], r["result"], r["detail"])
        for r in layline._diagnose_seed_nodes(config, "ll-node-1")
    ]


def test_diagnose_seed_nodes_of_rendered_and_deployed_file(
    layline, make_config, tmp_path, tmp_paths_allowed
):
    config = make_config(SEED_PILLAR, {"config_dir": str(tmp_path / "etc")})
    assert _seed_rows(layline, config) == [
        ("rendered config", "ok", "3 seed node(s) in pillar order")
    ]
    # the file config_managed deploys: <config_dir>/reactive-engine/application.conf
    deployed = tmp_path / "etc/reactive-engine/application.conf"
    deployed.parent.mkdir(parents=True)
    deployed.write_text(layline._render_text("reactive-engine", config, "ll-node-1"))
    assert _seed_rows(layline, config)[1] == (str(deployed), "ok", "3 seed node(s) in pillar order")
    # a hand-edited file: seed list in another order
    text = deployed.read_text().replace("ll-node-1.orb.local:5843", "ll-node-9.orb.local:5843")
    deployed.write_text(text)
    target, result, detail = _seed_rows(layline, config)[1]
    assert (target, result) == (str(deployed), "failed")
    assert "ll-node-9.orb.local" in detail and "differ from" in detail
    deployed.write_text("pekko { cluster { seed-nodes = [ }")
    assert _seed_rows(layline, config)[0][:2] == (str(deployed), "failed")
    assert "cannot parse" in _seed_rows(layline, config)[0][2]


def test_diagnose_seed_nodes_flags_an_override_in_extra_config(
    layline, make_config, tmp_path, tmp_paths_allowed
):
    extra = {"reactive_engine": {"pekko": {"cluster": {"seed-nodes": ["pekko://x@y:1"]}}}}
    config = make_config(SEED_PILLAR, {"config_dir": str(tmp_path), "extra_config": extra})
    [(target, result, detail)] = _seed_rows(layline, config)
    assert (target, result) == ("rendered config", "failed")
    assert "pekko://x@y:1" in detail
    extra = {"reactive_engine": {"pekko.remote.artery.canonical.hostname": "elsewhere"}}
    config = make_config(SEED_PILLAR, {"config_dir": str(tmp_path), "extra_config": extra})
    assert _seed_rows(layline, config)[0][1] == "failed"


def test_status_on_the_single_host_names_this_minion(layline, engines, make_config):
    start, port = engines
    config = make_config(
        SINGLE_PILLAR, {"ports": {"rest": port, "management": port, "cluster": port}}
    )
    start(
        "127.0.0.1",
        {
            "/cluster/members": (200, _members(port, up=["127.0.0.1"])),
            "/engine/status": (200, _engine_status("127.0.0.1", port)),
        },
    )
    layline.__opts__["id"] = "ll-single"
    assert layline.status(config=config, timeout=1) == [
        {
            "node": "ll-single",
            "hostname": "127.0.0.1",
            "state": "Up",
            "version": "2.5.4",
            "uptime": 12.5,
            "unreachable": False,
            "in_pillar": True,
        }
    ]


def test_diagnose_database_rows_login_and_tables(layline, config):
    config["database"].update({"hostname": "127.0.0.1", "port": 1})  # nothing listens
    target = "layline@127.0.0.1:1/layline"
    missing = []
    layline.__salt__ = {
        "layline_db.check_connection": lambda cfg: (True, "login ok"),
        "layline_db.missing_tables": lambda cfg: list(missing),
    }

    def rows():
        return [
            (r["check"], r["target"], r["result"], r["detail"], bool(r["fix"]))
            for r in layline._diagnose_database(config, 0.2)
        ]

    port_row, *rest = rows()
    assert port_row[:3] == ("database port reachable", "mysql (127.0.0.1:1)", "failed")
    assert rest == [
        ("database login", target, "ok", "login ok", False),
        ("database tables present", target, "ok", "all tables present", False),
    ]
    missing[:] = ["event_tag", "snapshot"]
    assert rows()[2] == (
        "database tables present",
        target,
        "failed",
        "missing: event_tag, snapshot",
        True,
    )
    layline.__salt__ = {"layline_db.check_connection": lambda cfg: (False, "denied")}
    assert [r[2] for r in rows()[1:]] == ["failed", "skipped"]


def test_diagnose_resolution_rows_every_role_host_once(layline, make_config):
    nodes = [
        {"minion": "ll-node-1", "hostname": "127.0.0.2"},
        {"minion": "ll-node-2", "hostname": "127.0.0.3"},
    ]
    config = make_config(
        SEED_PILLAR,
        {
            "cluster": {"nodes": nodes},
            "config_server": {"hostname": "127.0.0.2"},
            "database": {"hostname": "127.0.0.9"},
        },
    )
    rows = [
        (r["check"], r["target"], r["result"], r["detail"])
        for r in layline._diagnose_resolution(config, "ll-node-1")
    ]
    assert rows == [
        ("hostname resolves", h, "ok", h) for h in ("127.0.0.2", "127.0.0.3", "127.0.0.9")
    ]
    config["database"]["backend"] = "h2"
    assert [r["target"] for r in layline._diagnose_resolution(config, "ll-node-1")] == [
        "127.0.0.2",
        "127.0.0.3",
    ]
