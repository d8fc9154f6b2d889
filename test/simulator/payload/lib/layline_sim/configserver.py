"""Simulated layline configuration server: ``python3 -m layline_sim.configserver``.

Reads ``<install>/config/config-server/application.conf`` (or
``<dir>/application.conf`` with ``-J-Dlayline.configDirectory=<dir>``), serves a login page
and a small REST API (HTTP basic admin/admin) on port 5841, and reads cluster definitions
from ``$HOME/.layline/config-server/clusters/<Name>.json``. Logs ``LAY-10018 ... up and
running`` once it serves and its journal works. SIGTERM/SIGINT -> exit 143.
"""

import glob
import json
import logging
import os
import signal
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import unquote, urlsplit

from . import config, read_version
from . import log as simlog
from .engine import SIGTERM_EXIT, home_dir, parse_args, startup_delay
from .http import Response, Server, json_response
from .journal import Journal

log = logging.getLogger("ConfigServer")
USER, PASSWORD = "admin", "admin"
NODE_TIMEOUT = 1.5
LOGIN_PAGE = """<!DOCTYPE html>
<html><head><title>layline.io - Login</title></head>
<body><h1>layline.io configuration server {version}</h1>
<form method="post" action="/login">
<label>User <input name="user" value=""></label>
<label>Password <input name="password" type="password"></label>
<button type="submit">Login</button>
</form></body></html>
"""


def load_clusters(directory):
    """Cluster definitions: name -> list of bootstrap node URLs."""
    clusters = {}
    for path in sorted(glob.glob(os.path.join(directory, "*.json"))):
        try:
            with open(path, encoding="utf-8") as fh:
                doc = json.load(fh)
        except (OSError, ValueError) as exc:
            log.warning("ignoring cluster definition %s: %s", path, exc)
            continue
        name = doc.get("name") or os.path.splitext(os.path.basename(path))[0]
        nodes = [
            n.get("data")
            for n in doc.get("bootstrapNodes", [])
            if isinstance(n, dict) and n.get("modifier", "add") == "add" and n.get("data")
        ]
        clusters[name] = nodes
    return clusters


def node_status(url, timeout=NODE_TIMEOUT):
    """Ask a bootstrap node's ``/engine/status``; ``Unreachable`` when it does not answer."""
    host = urlsplit(url).hostname or url
    try:
        with urllib.request.urlopen(  # noqa: S310 - http(s) URLs of the cluster definition
            url.rstrip("/") + "/engine/status",
            timeout=timeout,
        ) as resp:
            doc = json.loads(resp.read())
        return {k: doc.get(k) for k in ("name", "state", "version", "uptime", "address")}
    except (OSError, ValueError):
        return {
            "name": host,
            "state": "Unreachable",
            "version": None,
            "uptime": None,
            "address": None,
        }


class ConfigServer:
    """HTTP application of the configuration server."""

    def __init__(self, settings, version, clusters_dir):
        self.s = settings
        self.version = version
        self.clusters_dir = clusters_dir
        self.started = time.monotonic()
        self.journal = Journal(
            settings.journal,
            f"config-server|{settings.canonical_hostname}",
            writer="config-server#sim",
        )
        self.pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="node-status")

    def app(self, request):
        """Route one request."""
        path = request.path.rstrip("/") or "/"
        if path == "/" or path == "/login":
            return Response(
                200, LOGIN_PAGE.format(version=self.version), "text/html; charset=utf-8"
            )
        if path == "/health":
            return Response(
                200 if self.journal.healthy else 500,
                "OK" if self.journal.healthy else f"journal: {self.journal.error}",
            )
        if not path.startswith("/api/"):
            return Response(404, "not found")
        if request.basic_auth() != (USER, PASSWORD):
            return Response(
                401,
                "authentication required",
                headers={"WWW-Authenticate": 'Basic realm="layline"'},
            )
        if request.method != "GET":
            return Response(405, "method not allowed")
        clusters = load_clusters(self.clusters_dir)
        if path == "/api/clusters":
            return json_response([{"name": n, "bootstrapNodes": b} for n, b in clusters.items()])
        parts = path.split("/")
        if len(parts) == 5 and parts[2] == "clusters" and parts[4] == "nodes":
            name = unquote(parts[3])
            if name not in clusters:
                return json_response({"message": f"cluster {name} not found"}, 404)
            return json_response(list(self.pool.map(node_status, clusters[name])))
        return Response(404, "not found")


def main(argv=None):
    """Entry point; returns the exit code."""
    install_dir, config_dir = parse_args(sys.argv[1:] if argv is None else argv)
    home = home_dir()
    base = os.path.join(home, ".layline", "config-server")
    config_dir = config_dir or os.path.join(install_dir, "config", "config-server")
    simlog.setup("ConfigServer", os.path.join(base, "log", "config-server.log"))
    version = read_version(install_dir)
    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    log.info("[LAY-00050] Layline Config Server %s (simulator)", version)
    try:
        settings = config.config_server_settings(
            config.load(os.path.join(config_dir, "application.conf"))
        )
    except config.ConfigError as exc:
        log.error("configuration error: %s", exc)
        print(f"ERROR {exc}", file=sys.stderr)
        return 1
    if settings.bind_hostname_defaulted:
        log.info(
            "[LAY-00360] layline.config-server.rest-server.bind.hostname not set, "
            "binding to 127.0.0.1 only"
        )
    deadline = time.monotonic() + startup_delay()
    while time.monotonic() < deadline:
        if stop.wait(0.05):
            return SIGTERM_EXIT
    server = ConfigServer(settings, version, os.path.join(base, "clusters"))
    try:
        http = Server(settings.bind_hostname, settings.port, server.app)
    except OSError as exc:
        log.error("cannot bind %s:%d: %s", settings.bind_hostname, settings.port, exc)
        print(f"ERROR cannot bind {settings.bind_hostname}:{settings.port}: {exc}", file=sys.stderr)
        return 1
    http.start("http")
    log.info("REST server bound to %s:%d", settings.bind_hostname, settings.port)
    server.journal.on_first_healthy(
        lambda: log.info(
            "[LAY-10018] layline configuration server is up and running at http://%s:%d",
            settings.canonical_hostname,
            settings.port,
        )
    )
    server.journal.append(
        {"event": "ConfigServerStarted", "version": version, "timestamp": int(time.time() * 1000)}
    )
    server.journal.start()
    while not stop.wait(0.5):
        pass
    log.info("received SIGTERM: shutting down")
    http.shutdown()
    http.server_close()
    server.journal.stop()
    return SIGTERM_EXIT


if __name__ == "__main__":
    code = main()
    logging.shutdown()
    sys.stdout.flush()
    os._exit(code)
