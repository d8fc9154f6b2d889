"""Simulated layline reactive engine: ``python3 -m layline_sim.engine [-J-D...]``.

Reads ``$HOME/.layline/reactive-engine/config/application.conf`` (or
``<dir>/application.conf`` with ``-J-Dlayline.configDirectory=<dir>``), waits
``LAYLINE_SIM_STARTUP_DELAY`` seconds (JVM start), then serves the engine REST API, the
Pekko management API and the Artery cluster port, and journals its membership changes.

Exit codes: 1 configuration error or bind failure; 143 after a graceful leave on
SIGTERM/SIGINT. Downed (or removed) by the cluster, it runs coordinated shutdown like Pekko:
with ``pekko.coordinated-shutdown.exit-jvm = on`` it exits 255 (Pekko's exit code -1 for
ClusterDowningReason), or 0 when removed after a Leave requested by someone else
(ClusterLeavingReason). With exit-jvm off (Pekko's default) the process stays alive as no
member at all: its ports close and it never rejoins (with
``pekko.cluster.run-coordinated-shutdown-when-down = off`` only the cluster stops and the
HTTP servers keep answering with the node Down) until it gets SIGTERM (then 143).
"""

import json
import logging
import os
import signal
import sys
import threading
import time
from urllib.parse import unquote

from . import config, metrics, read_version
from . import log as simlog
from .cluster import ClusterNode
from .http import Response, Server, json_response
from .journal import Journal

log = logging.getLogger("Layline")
SIGTERM_EXIT = 143
DOWNING_EXIT = 255  # System.exit(-1): Pekko's exit-code for ClusterDowningReason
# fault injection: while this file exists in the engine's config directory, /ready answers
# 500 even when the member is Up (a health check that never passes: an engine Up, not ready)
NEVER_READY = "simulator-never-ready"


def parse_args(argv):
    """Return (install_dir, config_dir or None); -J options other than the config dir are
    ignored like the JVM launcher would pass them on."""
    install_dir, config_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__))), None
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg == "--install-dir" and args:
            install_dir = args.pop(0)
        elif arg.startswith(("-J-Dlayline.configDirectory=", "-Dlayline.configDirectory=")):
            config_dir = arg.split("=", 1)[1]
        elif arg.startswith("-J"):
            continue
        else:
            print(f"WARN ignoring unknown argument {arg}", file=sys.stderr)
    return install_dir, config_dir


def home_dir():
    """The running user's home ($HOME)."""
    return os.environ.get("HOME") or os.path.expanduser("~")


def startup_delay():
    """LAYLINE_SIM_STARTUP_DELAY seconds (default 2)."""
    try:
        return max(0.0, float(os.environ.get("LAYLINE_SIM_STARTUP_DELAY", "2")))
    except ValueError:
        return 2.0


class Engine:
    """Wires configuration, cluster node, journal and HTTP servers together."""

    def __init__(self, settings, version, config_dir=None):
        self.s = settings
        self.version = version
        self.config_dir = config_dir
        self.started = time.monotonic()
        self.exit_kind = None
        self.exit_reason = None
        self.done = threading.Event()
        self.journal = Journal(
            settings.journal,
            f"reactive-engine|{settings.rest_hostname}",
            writer=f"{settings.address}#sim",
        )
        self.node = ClusterNode(settings, on_status=self._on_status, on_shutdown=self._request_exit)
        self.servers = []

    # ------------------------------------------------------------------ callbacks
    def _on_status(self, status):
        self.journal.append(
            {
                "event": "MemberStatusChanged",
                "address": self.s.address,
                "uid": str(self.node.uid),
                "status": status,
                "timestamp": int(time.time() * 1000),
            }
        )

    def _request_exit(self, reason, kind):
        if self.exit_kind is None:
            self.exit_reason, self.exit_kind = reason, kind
        self.done.set()

    # ------------------------------------------------------------------ HTTP
    def status_doc(self):
        """``GET /engine/status`` document."""
        return {
            "name": self.s.rest_hostname,
            "state": self.node.status,
            "version": self.version,
            "uptime": round(time.monotonic() - self.started, 3),
            "address": self.s.address,
        }

    def rest_app(self, request):
        """Engine REST server (port 5842)."""
        if request.method not in ("GET", "HEAD"):
            return Response(405, "method not allowed")
        if request.path == "/engine/status":
            return json_response(self.status_doc())
        if request.path == "/engine/prometheus":
            return Response(200, self.prometheus(), metrics.CONTENT_TYPE)
        return Response(404, "not found")

    def prometheus(self):
        """Prometheus text (metrics.py): membership, own status, journal, uptime."""
        return metrics.exposition(
            self.node.snapshot(),
            self.s.address,
            self.node.status,
            self.journal.healthy,
            self.journal.written,
            time.monotonic() - self.started,
        )

    def metrics_app(self, request):
        """Metrics server (layline.reactive-engine.metrics.port)."""
        if request.method not in ("GET", "HEAD"):
            return Response(405, "method not allowed")
        if request.path == "/metrics":
            return Response(200, self.prometheus(), metrics.CONTENT_TYPE)
        return Response(404, "not found")

    def management_app(self, request):
        """Pekko management HTTP (cluster members, health checks, write routes)."""
        path = request.path.rstrip("/") or "/"
        if path == "/alive":
            return Response(200, "OK")
        if path == "/ready":
            return self._ready()
        if path == "/cluster/members" and request.method == "GET":
            return json_response(self.node.snapshot())
        if path.startswith("/cluster/members"):
            return self._member_write(request, unquote(path[len("/cluster/members/") :]))
        return Response(404, "The requested resource could not be found.")

    def _ready(self):
        status = self.node.status
        if status not in ("Up", "WeaklyUp"):
            return Response(500, f"Not Healthy: member status is {status}")
        if self.config_dir and os.path.exists(os.path.join(self.config_dir, NEVER_READY)):
            return Response(500, f"Not Healthy: {NEVER_READY} (simulator fault injection)")
        if not self.journal.healthy:
            return Response(500, f"Not Healthy: journal: {self.journal.error}")
        return Response(200, "OK")

    def _member_write(self, request, address):
        if request.method == "GET":
            doc = self.node.snapshot()
            for member in doc["members"]:
                if member["node"] == address:
                    return json_response(member)
            return json_response({"message": f"Member [{address}] not found"}, 404)
        if request.method not in ("PUT", "DELETE"):
            return Response(405, "HTTP method not allowed, supported methods: GET")
        if self.s.mgmt_read_only:
            return Response(
                405,
                "HTTP method not allowed, supported methods: GET "
                "(route-providers-read-only = true)",
            )
        operation = "Leave" if request.method == "DELETE" else request.form().get("operation")
        if operation not in ("Leave", "Down"):
            return json_response({"message": "Operation not supported"}, 400)
        with self.node.lock:
            member = self.node.members.get(address)
            if member is None or member.status == "Removed":
                return json_response({"message": f"Member [{address}] not found"}, 404)
            if operation == "Leave":
                if member.status in ("Joining", "WeaklyUp", "Up"):
                    self.node._set_status(address, "Leaving")
                return json_response({"message": f"Leaving {address}"})
            if member.status not in ("Down", "Removed"):
                self.node._set_status(address, "Down")
        return json_response({"message": f"Downing {address}"})

    # ------------------------------------------------------------------ run
    def bind(self):
        """Bind REST, management and Artery ports (OSError on failure)."""
        rest = Server(self.s.rest_bind_hostname, self.s.rest_port, self.rest_app)
        try:
            mgmt = Server(self.s.mgmt_bind_hostname, self.s.mgmt_port, self.management_app)
        except OSError:
            rest.server_close()
            raise
        try:
            self.node.start()
        except OSError:
            rest.server_close()
            mgmt.server_close()
            raise
        rest.start("rest")
        mgmt.start("management")
        self.servers += [rest, mgmt]
        if self.s.metrics_enabled:
            # a bind failure propagates: main() shuts the engine down and exits 1
            scrape = Server(self.s.rest_bind_hostname, self.s.metrics_port, self.metrics_app)
            scrape.start("metrics")
            self.servers.append(scrape)
            log.info(
                "metrics server bound to %s:%d", self.s.rest_bind_hostname, self.s.metrics_port
            )
        log.info(
            "REST server bound to %s:%d, management to %s:%d",
            self.s.rest_bind_hostname,
            self.s.rest_port,
            self.s.mgmt_bind_hostname,
            self.s.mgmt_port,
        )

    def run(self, stop_signal):
        """Run until downed/removed or ``stop_signal`` is set; return the exit code."""
        self.journal.start()
        self.bind()
        while not self.done.wait(0.2):
            if stop_signal.is_set():
                log.info("received SIGTERM: leaving the cluster (coordinated shutdown)")
                self.node.leave()
                self.journal.flush(3.0)
                self.shutdown()
                return SIGTERM_EXIT
        leaving = self.exit_kind == "leaving"
        if leaving:
            self.node.farewell()
        if not leaving and not self.s.run_cs_when_down:
            # only the cluster extension stops; the actor system and its HTTP servers go on
            self.node.stop()
            log.error(
                "%s: the cluster extension stopped (run-coordinated-shutdown-when-down "
                "= off); this process is no cluster member any more and never rejoins",
                self.exit_reason,
            )
            return self._linger(stop_signal, closed=False)
        self.journal.flush(3.0)
        self.shutdown()
        if self.s.exit_jvm:
            code = 0 if leaving else DOWNING_EXIT
            log.warning(
                "%s: coordinated shutdown done, exiting the JVM with code %d",
                self.exit_reason,
                code,
            )
            return code
        log.error(
            "%s: coordinated shutdown terminated the actor system, but "
            "pekko.coordinated-shutdown.exit-jvm is off: the process keeps running "
            "without being a cluster member and never rejoins",
            self.exit_reason,
        )
        return self._linger(stop_signal, closed=True)

    def _linger(self, stop_signal, closed):
        """A JVM whose actor system (or cluster) is gone: alive until SIGTERM (then 143)."""
        stop_signal.wait()
        log.info("received SIGTERM after the cluster had stopped")
        if not closed:
            self.journal.flush(3.0)
            self.shutdown()
        return SIGTERM_EXIT

    def shutdown(self):
        """Stop servers, node and journal."""
        self.node.stop()
        for server in self.servers:
            server.shutdown()
            server.server_close()
        self.journal.stop()


def main(argv=None):
    """Entry point; returns the process exit code."""
    install_dir, config_dir = parse_args(sys.argv[1:] if argv is None else argv)
    home = home_dir()
    base = os.path.join(home, ".layline", "reactive-engine")
    config_dir = config_dir or os.path.join(base, "config")
    simlog.setup("Layline", os.path.join(base, "log", "reactive-engine.log"))
    version = read_version(install_dir)
    stop_signal = threading.Event()

    def on_signal(signum, frame):
        stop_signal.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    log.info(
        "[LAY-00050] layline reactive engine %s (simulator) starting, config %s",
        version,
        os.path.join(config_dir, "application.conf"),
    )
    try:
        conf = config.load(os.path.join(config_dir, "application.conf"))
        settings = config.engine_settings(conf)
    except config.ConfigError as exc:
        log.error("configuration error: %s", exc)
        print(f"ERROR {exc}", file=sys.stderr)
        return 1
    deadline = time.monotonic() + startup_delay()
    while time.monotonic() < deadline:
        if stop_signal.wait(0.05):
            return SIGTERM_EXIT
    engine = Engine(settings, version, config_dir=config_dir)
    log.info(
        "cluster address %s, seed nodes %s, journal %s",
        settings.address,
        json.dumps(settings.seed_nodes),
        settings.journal.describe(),
    )
    try:
        return engine.run(stop_signal)
    except OSError as exc:
        log.error("cannot bind: %s", exc)
        print(f"ERROR cannot bind: {exc}", file=sys.stderr)
        engine.shutdown()
        return 1


if __name__ == "__main__":
    code = main()
    logging.shutdown()
    sys.stdout.flush()
    os._exit(code)
