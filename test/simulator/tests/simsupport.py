"""Fixtures: build and install the simulator once, run engines/config servers as processes.

Engines run with HOME set to a per-node tmp dir, on loopback addresses 127.0.0.11..13
(REST 25842, Artery 25843, management 28558), with a short start-up delay.
"""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SIM = os.path.dirname(HERE)
BUILD = os.path.join(SIM, "build")
VERSION = "2.5.4"
REST, ARTERY, MGMT = 25842, 25843, 28558
SBR = "org.apache.pekko.cluster.sbr.SplitBrainResolverProvider"
sys.path.insert(0, os.path.join(SIM, "payload", "lib"))


def host(i):
    """Loopback address of node ``i`` (1-based)."""
    return f"127.0.0.{10 + i}"


def address(i):
    """Cluster address of node ``i``."""
    return f"pekko://layline@{host(i)}:{ARTERY}"


def http_get(url, timeout=2.0, auth=None):
    """GET url -> (status, body text); (None, error) when nothing answers."""
    request = urllib.request.Request(url)  # noqa: S310 - test URLs are http
    if auth:
        import base64

        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:  # noqa: S310 - http only
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError as exc:
        return None, str(exc)


def wait_for(predicate, timeout=30.0, interval=0.2, what="condition"):
    """Poll ``predicate`` until it returns a truthy value or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")


def engine_conf(
    i,
    seeds=(1, 2, 3),
    min_nr=1,
    provider=SBR,
    strategy="keep-majority",
    stable_after="2s",
    journal=None,
    extra="",
):
    """application.conf text for node ``i``."""
    seed_list = ", ".join(f'"{address(s)}"' for s in seeds)
    if journal is None:
        journal = (
            "jdbc:h2:file:~/.layline/reactive-engine/database/h2/journal;DATABASE_TO_UPPER=false"
        )
    db = "mysql" if journal.startswith("jdbc:mysql") else "h2file"
    return f"""
layline.reactive-engine.rest-server {{
  canonical.hostname = "{host(i)}"
  bind {{ hostname = "{host(i)}", port = {REST} }}
}}
pekko {{
  actor.provider = cluster
  remote.artery {{
    canonical {{ hostname = "{host(i)}", port = {ARTERY} }}
    bind {{ hostname = "{host(i)}", port = {ARTERY} }}
  }}
  cluster {{
    seed-nodes = [{seed_list}]
    seed-node-timeout = 1s
    min-nr-of-members = {min_nr}
    downing-provider-class = "{provider}"
    split-brain-resolver {{ active-strategy = {strategy}, stable-after = {stable_after} }}
    failure-detector.acceptable-heartbeat-pause = 2s
  }}
  management.http {{ hostname = "{host(i)}", bind-hostname = "{host(i)}", bind-port = {MGMT} }}
  persistence {{
    journal.plugin = "jdbc-journal"
    snapshot-store.plugin = "jdbc-snapshot-store"
  }}
}}
jdbc-journal.use-shared-db = "{db}"
jdbc-read-journal.use-shared-db = "{db}"
jdbc-snapshot-store.use-shared-db = "{db}"
pekko-persistence-jdbc.shared-databases.{db} {{
  profile = "slick.jdbc.H2Profile$"
  db {{ url = "{journal}", user = "layline", password = "s3cret-pw", driver = "x" }}
}}
{extra}
"""


@pytest.fixture(scope="session")
def dist(tmp_path_factory):
    """Build the installer into a tmp dir; return the installer path."""
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, BUILD, "--version", VERSION, "--out", str(out)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return out / f"layline-linux-amd64-{VERSION}.sh"


@pytest.fixture(scope="session")
def install_dir(dist, tmp_path_factory):
    """The simulator installed with ``-q -dir``."""
    target = tmp_path_factory.mktemp("inst") / "layline"
    subprocess.run(
        ["sh", str(dist), "-q", "-dir", str(target)],
        check=True,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=60,
    )
    return target


def sim_env(home):
    """Environment for a simulator process: own HOME, fast start, no venv leaking in."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")
    }
    env["HOME"] = str(home)
    env["LAYLINE_SIM_STARTUP_DELAY"] = "0.2"
    venv_bin = os.path.dirname(sys.executable)
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != venv_bin)
    return env


class Proc:
    """A running simulator process with its HOME and output file."""

    def __init__(self, name, home, args, env):
        self.name, self.home = name, home
        self.out_path = home / "stdout.log"
        self.err_path = home / "stderr.log"
        self.proc = subprocess.Popen(
            args,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=open(self.out_path, "wb"),  # noqa: SIM115
            stderr=open(self.err_path, "wb"),  # noqa: SIM115
        )

    def log(self):
        """The engine's log file (falls back to stdout)."""
        path = self.home / ".layline" / "reactive-engine" / "log" / "reactive-engine.log"
        if not path.exists():
            path = self.home / ".layline" / "config-server" / "log" / "config-server.log"
        if not path.exists():
            path = self.out_path
        return path.read_text(errors="replace")

    def stderr(self):
        """What the process wrote to stderr."""
        return self.err_path.read_text(errors="replace")

    def wait(self, timeout):
        """Wait for exit; return the exit code."""
        return self.proc.wait(timeout=timeout)

    def kill(self, sig=signal.SIGKILL):
        """Send ``sig`` if still running."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)


class Lab:
    """Starts engines and config servers; kills all of them on teardown."""

    def __init__(self, install, tmp_path):
        self.install, self.tmp = install, tmp_path
        self.procs = []

    def home(self, name):
        """HOME directory for ``name`` (created)."""
        path = self.tmp / name
        path.mkdir(exist_ok=True)
        return path

    def engine(self, i, conf=None, args=(), env=None, **conf_kwargs):
        """Write node i's config into its HOME and start bin/reactive-engine (``env``: more
        environment, e.g. LAYLINE_SIM_BLOCKED)."""
        home = self.home(f"node{i}")
        conf_dir = home / ".layline" / "reactive-engine" / "config"
        conf_dir.mkdir(parents=True, exist_ok=True)
        (conf_dir / "application.conf").write_text(conf or engine_conf(i, **conf_kwargs))
        proc = Proc(
            f"node{i}",
            home,
            [str(self.install / "bin" / "reactive-engine"), *args],
            {**sim_env(home), **(env or {})},
        )
        self.procs.append(proc)
        return proc

    def config_server(self, conf_text, clusters=None):
        """Start bin/config-server with its config in a -J-Dlayline.configDirectory dir."""
        home = self.home("config-server")
        conf_dir = home / "conf"
        conf_dir.mkdir(exist_ok=True)
        (conf_dir / "application.conf").write_text(conf_text)
        cluster_dir = home / ".layline" / "config-server" / "clusters"
        cluster_dir.mkdir(parents=True, exist_ok=True)
        for name, doc in (clusters or {}).items():
            (cluster_dir / f"{name}.json").write_text(json.dumps(doc))
        proc = Proc(
            "config-server",
            home,
            [
                str(self.install / "bin" / "config-server"),
                f"-J-Dlayline.configDirectory={conf_dir}",
                "-J-Xmx1g",
            ],
            sim_env(home),
        )
        self.procs.append(proc)
        return proc

    def stop_all(self):
        """SIGKILL everything still running."""
        for proc in self.procs:
            proc.kill()
        for proc in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)


@pytest.fixture
def lab(install_dir, tmp_path):
    """A Lab; every process it started is killed at teardown, pass or fail."""
    lab = Lab(install_dir, tmp_path)
    try:
        yield lab
    finally:
        lab.stop_all()


def members(i):
    """Node i's ``/cluster/members`` document, or None."""
    status, body = http_get(f"http://{host(i)}:{MGMT}/cluster/members")
    return json.loads(body) if status == 200 else None


def statuses(i):
    """address -> status as node i sees it ({} when it does not answer)."""
    doc = members(i)
    return {m["node"]: m["status"] for m in doc["members"]} if doc else {}


def all_up(nodes, among):
    """True when each node in ``among`` sees exactly ``nodes`` as Up."""
    want = {address(n): "Up" for n in nodes}
    return all(statuses(i) == want for i in among)
