"""The seed guide's topology from one `salt '*' state.apply layline` (scenario test/pillar/seed).

Four bare machines (only Salt: no pyhocon, pymysql, saltext.mysql, MariaDB) -> first, before
`saltutil.sync_all`, an apply that fails with the hint and changes nothing; then the formula's
Python libraries from the lab's package index (layline.python), MariaDB with the
database, user and grants, the schema applied from the config server, both engines Up in one
cluster writing their journal to MySQL, the config server's cluster definition listing them.
The last test boots four fresh machines and deploys them with `state.orch layline.orch.deploy`.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import hardening
import pytest
import yaml
from formula import (
    apply,
    assert_applied,
    changed,
    files_changed_since_marker,
    http_get,
    lab_host,
    make_marker,
    prometheus_api,
    prometheus_targets,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "verify"))
import checks  # noqa: E402  (test/verify: the same checks test-kitchen's verifier runs)

pytestmark = pytest.mark.lab

CHECKOUT = Path(__file__).resolve().parents[2]
PILLAR = CHECKOUT / "test" / "pillar" / "seed"
ENGINES = ["ll-node-1", "ll-node-2"]
ALL = ["ll-mysql", "ll-config-server", *ENGINES]
SALT_PYTHON = "/opt/saltstack/salt/bin/python3"
# the lab's package index logs every request here (test/lab/lablib/pyindex.py)
INDEX_LOG = Path(os.environ.get("LAYLINE_LAB_STATE", "/var/lib/layline-lab")) / "master/pyindex.log"
POLICY_FILE = "/var/lib/layline-formula/x509_signing_policies.json"
# what pip asks an index for when it must build an sdist (PEP 517 build backends)
BUILD_BACKENDS = {"setuptools", "wheel", "flit-core", "hatchling", "poetry-core", "pdm-backend"}
ENGINE_LOG = "/var/lib/layline/.layline/reactive-engine/log/reactive-engine.log"
FORMULA_LIBRARIES = ["pyhocon", "pymysql", "saltext.mysql"]
# Exits non-zero, naming it, when one of the distributions in argv is installed.
NOT_INSTALLED = (
    "import importlib.metadata as m, sys\n"
    "for name in sys.argv[1:]:\n"
    "    try:\n"
    "        m.version(name)\n"
    "    except m.PackageNotFoundError:\n"
    "        continue\n"
    "    sys.exit(name)\n"
)


def _pillar() -> dict:
    return yaml.safe_load((PILLAR / "layline.sls").read_text())["layline"]


def _sync(lab):
    sync = lab.salt("*", "saltutil.sync_all")
    assert sorted(sync) == sorted(ALL), sync


def _up(lab):
    lab.up("seed", pillar=PILLAR, nodes=2)
    _sync(lab)


@pytest.fixture(scope="module")
def seed(lab):
    try:
        lab.up("seed", pillar=PILLAR, nodes=2)  # not synced: the first test needs that
        yield lab
    finally:
        lab.down()


def _get_json(url: str, auth: tuple[str, str] | None = None):
    request = urllib.request.Request(url)  # noqa: S310 (http:// to a lab address)
    if auth:
        token = base64.b64encode(":".join(auth).encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310
        return json.loads(answer.read())


def _sql(lab, query: str) -> list[list[str]]:
    """Run a query as MariaDB's root (unix socket) on ll-mysql; rows as lists of strings."""
    proc = lab.shell("ll-mysql", ["mysql", "-N", "-B", "layline", "-e", query], check=True)
    return [line.split("\t") for line in proc.stdout.splitlines() if line]


def _connect_from(lab, machine: str, user: str, password: str, tls: bool = True) -> str:
    """Try a MySQL login from machine with PyMySQL (Salt's Python), over TLS verified against
    the cluster CA (tls) or plain; 'ok <Ssl_cipher>' or 'error <code>'."""
    script = (
        "import base64, ssl, sys, pymysql\n"
        "tls = sys.argv[3] == 'tls'\n"
        "args = {'ssl': ssl.create_default_context(cafile='/etc/layline/tls/ca.crt')} if tls \\\n"
        "    else {'ssl_disabled': True}\n"
        "try:\n"
        "    conn = pymysql.connect(host='ll-mysql.orb.local', user=sys.argv[1],\n"
        "                           password=base64.b64decode(sys.argv[2]).decode(),\n"
        "                           database='layline', connect_timeout=5, **args)\n"
        "    with conn.cursor() as cur:\n"
        "        cur.execute(\"SHOW SESSION STATUS LIKE 'Ssl_cipher'\")\n"
        "        print('ok', cur.fetchone()[1] or '-')\n"
        "    conn.close()\n"
        "except pymysql.err.MySQLError as exc:\n"
        "    print('error', exc.args[0])\n"
    )
    secret = base64.b64encode(password.encode()).decode()
    mode = "tls" if tls else "plain"
    return lab.shell(machine, [SALT_PYTHON, "-c", script, user, secret, mode]).stdout.strip()


def _members_on(lab, machine: str) -> dict | None:
    """/cluster/members asked on the engine itself: the firewall lets only engines and the
    config server reach the management port (8558), not the lab host."""
    code, body = http_get(lab, machine, f"http://{machine}.orb.local:8558/cluster/members")
    return json.loads(body) if code == 200 else None


def assert_cluster_formed(lab) -> None:
    """Both engines Up everywhere, LAY-11001 logged, journal rows in MySQL, config server view."""

    def all_up(machine):
        view = _members_on(lab, machine)
        if view is None:
            return False
        up = {m["node"] for m in view["members"] if m["status"] == "Up"}
        return len(up) == 2 and not view["unreachable"] and view

    for machine in ENGINES:
        view = lab.wait_for(
            lambda m=machine: all_up(m),
            timeout=180,
            what=f"both engines Up in {machine}'s /cluster/members",
        )
        assert {m["node"] for m in view["members"]} == {
            f"pekko://layline@{e}.orb.local:5843" for e in ENGINES
        }
        log = lab.shell(machine, ["cat", ENGINE_LOG]).stdout
        assert "[LAY-11001] cluster successfully joined, member status is up" in log, machine

    rows = dict(
        _sql(lab, "SELECT persistence_id, COUNT(*) FROM event_journal GROUP BY persistence_id")
    )
    for machine in ENGINES:
        assert int(rows.get(f"reactive-engine|{machine}.orb.local", 0)) > 0, rows

    nodes_url = f"http://{lab.address('ll-config-server')}:5841/api/clusters/Production/nodes"
    nodes = lab.wait_for(
        lambda: (
            (table := _get_json(nodes_url, ("admin", "admin")))
            and all(row["state"] == "Up" for row in table)
            and table
        ),
        timeout=60,
        what="config server listing both engines Up",
    )
    assert sorted(row["name"] for row in nodes) == [f"{e}.orb.local" for e in ENGINES]


def _salt_call_rc(lab, machine: str, *args: str) -> tuple[int, str]:
    proc = lab.shell(machine, ["salt-call", "--out=json", *args])
    return proc.returncode, proc.stdout


def test_apply_before_sync_names_sync_all_and_changes_nothing(seed):
    for machine in ALL:  # the bare image: only Salt
        proc = seed.shell(machine, [SALT_PYTHON, "-c", NOT_INSTALLED, *FORMULA_LIBRARIES])
        assert proc.returncode == 0, f"{machine}: pre-installed: {proc.stdout}"
        assert seed.shell(machine, "dpkg -s mariadb-server").returncode != 0, machine
    marker = make_marker(seed, "ll-mysql")
    ret = seed.salt("ll-mysql", "state.apply", "layline", timeout=300)["ll-mysql"]
    assert isinstance(ret, dict) and len(ret) == 1, ret
    (only,) = ret.values()
    assert only["result"] is False and "saltutil.sync_all" in only["comment"], only
    assert not only["changes"]
    assert files_changed_since_marker(seed, "ll-mysql", marker) == []
    assert seed.shell("ll-mysql", "test -e /var/lib/layline-formula").returncode != 0
    assert seed.shell("ll-mysql", "dpkg -s mariadb-server").returncode != 0
    # Called directly, a part of the formula stops with the same hint.
    rc, out = _salt_call_rc(seed, "ll-mysql", "state.apply", "layline.validate")
    assert rc != 0 and "saltutil.sync_all" in out, out


def test_one_apply_deploys_the_seed_topology(seed):
    _sync(seed)
    ret = apply(seed, "*")
    assert_applied(ret, ALL)
    assert_cluster_formed(seed)


def test_second_apply_reports_no_changes(seed):
    ret = apply(seed, "*")
    assert_applied(ret, ALL)
    assert changed(ret) == {}, changed(ret)
    # Converged: the Python libraries are checked in-process; no pip state, so pip is neither
    # run nor imported.
    for machine in ALL:
        ids = {st["__id__"] for st in ret[machine].values()}
        assert "layline-python-file-managed" in ids and "layline-python-pip-installed" not in ids


def test_the_minions_installed_wheels_only_and_built_nothing(seed):
    """Issue 18, finding 2: layline.python downloads wheels only (--only-binary :all:); an
    sdist build would first ask the index for its build backend, which pip does not
    hash-check."""
    requests = re.findall(r'^(\S+) .*"GET (\S+) HTTP', INDEX_LOG.read_text(), re.MULTILINE)
    fetched = {(host, path.rsplit("/", 1)[1]) for host, path in requests if "/files/" in path}
    # every machine installed the formula's libraries from the index, as wheels
    assert {host for host, _ in fetched} == {seed.address(m) for m in ALL}, requests
    assert all(name.endswith(".whl") for _, name in fetched), fetched
    asked = {path.strip("/").split("/")[-1] for _, path in requests if path.startswith("/simple/")}
    assert asked and not asked & BUILD_BACKENDS, asked


def _engine_pids(lab) -> dict[str, str]:
    pids = {
        m: lab.shell(
            m, "systemctl show -p MainPID --value layline-reactive-engine", check=True
        ).stdout.strip()
        for m in ENGINES
    }
    assert all(pid not in ("", "0") for pid in pids.values()), pids
    return pids


# The engine's restart marker: the formula's current place, and the root-owned place the
# rolling restart work moves it to. (Not asked from state.show_sls: while states still get
# the model as an argument, that would copy the password into the master's job cache.)
MARKERS = [
    "/var/lib/layline-formula/pending/layline-reactive-engine.json",
    "/var/lib/layline/.layline/reactive-engine/restart-pending",
]


def _markers(lab, machine: str) -> list[str]:
    """The restart markers present (non-empty) on machine."""
    return [path for path in MARKERS if lab.shell(machine, ["test", "-s", path]).returncode == 0]


def _clear_markers(lab) -> None:
    for machine in ENGINES:
        lab.shell(machine, ["rm", "-f", *MARKERS], check=True)


def _reapply_engines(lab, *args) -> dict:
    ret = apply(lab, "ll-node-*", *args)
    assert_applied(ret, ENGINES)
    return ret


def test_config_change_marks_engines_and_restarts_none(seed):
    """Multi-node: a configuration change writes each engine's marker; no engine restarts."""
    before = _engine_pids(seed)
    extra = {"reactive_engine": {"pekko": {"loglevel": "DEBUG"}}}
    loglevel = json.dumps({"layline": {"extra_config": extra}})
    _clear_markers(seed)
    try:
        ret = _reapply_engines(seed, f"pillar={loglevel}")
        for machine in ENGINES:
            assert "layline-config-layline-config_managed-engine" in " ".join(
                changed(ret).get(machine, [])
            ), changed(ret)
            assert len(_markers(seed, machine)) == 1, f"{machine}: no restart marker"
        assert _engine_pids(seed) == before, "state.apply restarted an engine"
    finally:
        _reapply_engines(seed)  # back to the pillar's configuration
        _clear_markers(seed)
    assert _engine_pids(seed) == before, "state.apply restarted an engine"


def test_grants_of_every_layline_account_name_only_the_layline_database(seed):
    # skip-name-resolve: one account per canonical address (config server and engines)
    hosts = [row[0] for row in _sql(seed, "SELECT host FROM mysql.user WHERE user = 'layline'")]
    assert sorted(hosts) == sorted(seed.address(m) for m in ["ll-config-server", *ENGINES]), hosts
    for host in hosts:
        grants = [row[0] for row in _sql(seed, f"SHOW GRANTS FOR 'layline'@'{host}'")]
        on = [g.split(" ON ", 1)[1].split(" TO ", 1)[0] for g in grants]
        # *.* only for USAGE (MariaDB lists the login itself that way), everything else layline.*
        for grant, target in zip(grants, on, strict=True):
            what = grant.split(" ON ", 1)[0]
            assert target == "`layline`.*" or (target == "*.*" and what == "GRANT USAGE"), (
                f"layline@{host}: {what} ON {target}"
            )
            assert "WITH GRANT OPTION" not in grant, f"layline@{host} may grant: {what}"
        assert "`layline`.*" in on, f"layline@{host} has no grant on the layline database"


def test_verifier_checks_pass_on_the_seed_machines(seed):
    """test/verify's checks (kitchen's verifier) on the lab's machines, per role."""
    checks.check_database_host(lab_host("ll-mysql"))
    nodes = tuple(f"http://{e}.orb.local:5842" for e in ENGINES)
    server = lab_host("ll-config-server")
    checks.check_account_and_install(server)
    checks.check_config_server(server, engine_urls=nodes)
    for machine in ENGINES:
        host = lab_host(machine)
        checks.check_account_and_install(host)
        checks.check_engine(host, hostname=f"{machine}.orb.local")


def test_status_table_lists_both_engines_up(seed):
    rows = seed.salt("ll-config-server", "layline.status")["ll-config-server"]
    assert sorted((row["hostname"], row["state"]) for row in rows) == [
        (f"{e}.orb.local", "Up") for e in ENGINES
    ], rows


def test_password_only_in_private_files(seed):
    """No log, journal or world-readable file holds the password, raw or HOCON/JSON-escaped."""
    password = _pillar()["database"]["password"]
    forms = [password, json.dumps(password)[1:-1]]
    patterns = " ".join(f"-e {shlex.quote(form)}" for form in forms)
    for machine in ALL:
        found = seed.shell(
            machine,
            f"grep -rlF {patterns} /etc /opt /var /tmp /root /srv "
            f"2>/dev/null | xargs -r stat -c '%a %n'",
        ).stdout.split("\n")
        for line in filter(None, found):
            mode, path = line.split(" ", 1)
            assert int(mode, 8) & 0o004 == 0, f"{machine}: world-readable {path} ({mode})"
            assert not path.startswith("/var/log/"), f"{machine}: password in log {path}"
        # journalctl's own exit code and line count: an unreadable journal must not pass
        journal = seed.shell(
            machine,
            f"journalctl --no-pager -q >/run/ll-journal; echo $?; "
            f"wc -l </run/ll-journal; grep -cF {patterns} "
            f"/run/ll-journal; rm -f /run/ll-journal",
        ).stdout.split()
        assert journal[0] == "0", f"{machine}: journalctl failed: {journal}"
        assert int(journal[1]) >= 10, f"{machine}: the journal is (nearly) empty: {journal}"
        assert journal[2] == "0", f"{machine}: password in the journal"
    # The master caches each minion's pillar (by design); it must stay private, out of logs.
    master = subprocess.run(
        ["grep", "-rlF", *[a for f in forms for a in ("-e", f)], "/var/lib/layline-lab/master"],
        capture_output=True,
        text=True,
    )
    for path in filter(None, master.stdout.split("\n")):
        assert Path(path).stat().st_mode & 0o004 == 0, f"master: world-readable {path}"
        assert "/pillar/" in path, f"password in the master's {path}"


def test_db_user_reaches_mysql_only_from_allowed_hosts(seed):
    password = _pillar()["database"]["password"]
    for machine in [*ENGINES, "ll-config-server"]:
        assert _connect_from(seed, machine, "layline", password).startswith("ok "), machine
    # The lab host (10.231.7.1) has no account, and the firewall drops its packets before
    # MySQL could answer 1130: a TCP connection attempt times out (refused would be a reject).
    with pytest.raises(TimeoutError):
        socket.create_connection((seed.address("ll-mysql"), 3306), timeout=3).close()


def test_root_cannot_log_in_remotely(seed):
    # ll-node-1 has an account (layline@ll-node-1), so root is denied (1045) rather than
    # the host refused (1130); either way no remote root login, with or without a password.
    for password in ("", "root"):
        assert _connect_from(seed, "ll-node-1", "root", password) in ("error 1045", "error 1130")
    hosts = {row[0] for row in _sql(seed, "SELECT host FROM mysql.user WHERE user = 'root'")}
    assert hosts <= {"localhost", "127.0.0.1", "::1"}, hosts
    assert _sql(seed, "SELECT COUNT(*) FROM mysql.user WHERE user = ''") == [["0"]]


def test_schema_reapply_keeps_every_journal_row(seed):
    before = {
        tuple(r) for r in _sql(seed, "SELECT persistence_id, sequence_number FROM event_journal")
    }
    assert before
    ret = seed.salt("ll-config-server", "state.apply", "layline.schema", timeout=300)
    assert_applied(ret, ["ll-config-server"])
    assert changed(ret) == {}, changed(ret)
    after = {
        tuple(r) for r in _sql(seed, "SELECT persistence_id, sequence_number FROM event_journal")
    }
    assert before <= after, before - after


# ------------------------------------------------------------------ hardening (issue 8)


def test_engine_config_is_root_owned_and_units_are_sandboxed(seed):
    for machine in ENGINES:
        out = seed.shell(
            machine,
            "stat -c '%U:%G %a %n' /etc/layline /etc/layline/reactive-engine"
            " /etc/layline/reactive-engine/application.conf",
            check=True,
        )
        assert out.stdout.split("\n")[:3] == [
            "root:layline 750 /etc/layline",
            "root:layline 750 /etc/layline/reactive-engine",
            "root:layline 640 /etc/layline/reactive-engine/application.conf",
        ], out.stdout
        unit = seed.shell(machine, "systemctl cat layline-reactive-engine", check=True).stdout
        assert "-J-Dlayline.configDirectory=/etc/layline/reactive-engine" in unit
        assert hardening.exposure(seed, machine, "layline-reactive-engine") < 4.0
    assert hardening.exposure(seed, "ll-config-server", "layline-config-server") < 4.0


def test_links_planted_by_the_service_user_change_no_root_file(seed):
    """The layline user plants links at every path root wrote under its home; then apply."""
    planted = {
        "ll-config-server": "cd .layline/config-server/clusters && rm -f Production.json && "
        "ln -s /etc/shadow Production.json",
        # where the engine's configuration used to be: root writes nothing there any more
        "ll-node-1": "mkdir -p .layline/reactive-engine/config && "
        "ln -sfn /etc/shadow .layline/reactive-engine/config/application.conf",
    }
    before = {m: hardening.root_fingerprints(seed, m) for m in planted}
    for machine, script in planted.items():
        hardening.as_service_user(seed, machine, f"cd {hardening.HOME} && {script}")
    ret = apply(seed, "*")
    assert_applied(ret, ALL)
    for machine in planted:
        assert hardening.root_fingerprints(seed, machine) == before[machine], machine
    definition = f"{hardening.HOME}/.layline/config-server/clusters/Production.json"
    out = seed.shell("ll-config-server", f"stat -c '%F %U %a' {definition}", check=True)
    assert out.stdout.strip() == "regular file layline 640", out.stdout

    # a planted directory link: the state refuses it, names it, and writes nowhere
    clusters = f"{hardening.HOME}/.layline/config-server/clusters"
    hardening.as_service_user(
        seed, "ll-config-server", f"mv {clusters} {clusters}.away && ln -s /etc/cron.d {clusters}"
    )
    try:
        ret = seed.salt("ll-config-server", "state.apply", "layline.cluster", timeout=600)
        states = ret["ll-config-server"]
        failed = [st["comment"] for st in states.values() if st["result"] is False]
        assert any("symbolic link" in comment for comment in failed), states
        assert hardening.root_fingerprints(seed, "ll-config-server") == before["ll-config-server"]
    finally:
        hardening.as_service_user(
            seed, "ll-config-server", f"rm -f {clusters} && mv {clusters}.away {clusters}"
        )


def test_no_password_in_caches_debug_log_or_event_bus(seed, tmp_path):
    password = _pillar()["database"]["password"]
    forms = [password, json.dumps(password)[1:-1]]
    with hardening.EventCapture(tmp_path / "events.txt") as events:
        ret = apply(seed, "*")
    assert_applied(ret, ALL)
    assert "salt/job/" in events.text and "layline-validate-layline-validated" in events.text
    assert not any(form in events.text for form in forms), "password on the event bus"
    patterns = " ".join(f"-e {shlex.quote(form)}" for form in forms)
    for machine in ALL:
        # an apply with the minion's log file at debug (salt-call writes the minion's log)
        seed.shell(
            machine,
            "salt-call --log-file-level=debug --out=json state.apply layline >/dev/null",
            check=True,
            timeout=600,
        )
        log = seed.shell(machine, "cat /var/log/salt/minion", check=True).stdout
        assert "[DEBUG   ]" in log, machine
        assert not any(form in log for form in forms), f"{machine}: password in the log"
        cache = seed.shell(
            machine,
            "ls /var/cache/salt/minion/sls.p && "
            f"grep -rlaF {patterns} /var/cache/salt/minion || true",
        )
        assert cache.stdout.strip() == "/var/cache/salt/minion/sls.p", (machine, cache.stdout)


def test_diagnose_and_cluster_health_name_a_cut_node(seed):
    healthy = seed.salt("ll-node-1", "layline.diagnose")["ll-node-1"]
    assert healthy["ok"] is True, [c for c in healthy["checks"] if c["result"] == "failed"]
    seed.cut("ll-node-2")
    try:
        report = seed.salt("ll-node-1", "layline.diagnose")["ll-node-1"]
        # ll-node-2 still Up but unreachable (before the split-brain resolver downs it)
        node2 = "pekko://layline@ll-node-2.orb.local:5843"
        seed.wait_for(
            lambda: any(
                u["node"] == node2
                for u in (_members_on(seed, "ll-node-1") or {"unreachable": []})["unreachable"]
            ),
            timeout=30,
            interval=0.5,
            what="ll-node-1 seeing ll-node-2 unreachable",
        )
        health = seed.salt("ll-node-1", "layline.cluster_health")["ll-node-1"]
    finally:
        seed.heal("ll-node-2")
    assert health["healthy"] is False, health
    assert health["unreachable"] == [node2], health
    assert report["ok"] is False
    failed = [c for c in report["checks"] if c["result"] == "failed"]
    assert any(
        "5843" in f"{c['check']} {c['target']} {c['detail']}" and "ll-node-2" in c["target"]
        for c in failed
    ), failed


def test_exit_codes_healthy_and_broken(seed):
    """validate, diagnose, cluster_health and status exit non-zero exactly when they find a
    problem (salt-call), and still print their data."""
    healthy = seed.wait_for(
        lambda: _salt_call_rc(seed, "ll-config-server", "layline.cluster_health")[0] == 0,
        timeout=120,
        what="cluster healthy again (after the cut of the previous test)",
    )
    assert healthy
    calls = [
        ("ll-config-server", "layline.validate"),
        ("ll-node-1", "layline.diagnose"),
        ("ll-config-server", "layline.cluster_health"),
        ("ll-config-server", "layline.status"),
    ]
    for machine, fun in calls:
        rc, out = _salt_call_rc(seed, machine, fun)
        assert rc == 0, (fun, out)
    rc, out = _salt_call_rc(seed, "ll-config-server", "layline.validate", 'config={"user": "root"}')
    assert rc != 0 and json.loads(out)["local"]["errors"], out
    seed.shell("ll-node-2", "systemctl stop layline-reactive-engine", check=True)
    try:
        seed.wait_for(
            lambda: _salt_call_rc(seed, "ll-config-server", "layline.cluster_health")[0] != 0,
            timeout=120,
            what="cluster_health to report ll-node-2 gone",
        )
        for machine, fun in calls[1:]:
            rc, out = _salt_call_rc(seed, machine, fun)
            assert rc != 0, (fun, out)
            assert "ll-node-2" in json.dumps(json.loads(out)["local"]), (fun, out)
    finally:
        seed.shell("ll-node-2", "systemctl start layline-reactive-engine", check=True)
    seed.wait_for(
        lambda: _salt_call_rc(seed, "ll-config-server", "layline.cluster_health")[0] == 0,
        timeout=180,
        what="ll-node-2 back in the cluster",
    )


def test_deploy_orchestration_on_fresh_machines(seed):
    seed.down()
    _up(seed)
    ret = seed.run("state.orch", "layline.orch.deploy")
    text = json.dumps(ret)
    assert '"result": false' not in text, text[:4000]
    assert_cluster_formed(seed)
    again = apply(seed, "*")
    assert_applied(again, ALL)
    assert changed(again) == {}, changed(again)


# ------------------------------------------------------------------ network security (issue 10a)

LAB_HOST = "10.231.7.1"  # the salt master; test/pillar/seed lists it in browsers and clients
# Prints "<port> open|refused|timeout" for each port of argv[2:] at address argv[1].
PROBE = (
    "import socket, sys\n"
    "for port in sys.argv[2:]:\n"
    "    try:\n"
    "        socket.create_connection((sys.argv[1], int(port)), timeout=2).close()\n"
    "        print(port, 'open')\n"
    "    except ConnectionRefusedError:\n"
    "        print(port, 'refused')\n"
    "    except OSError:\n"
    "        print(port, 'timeout')\n"
)
# (from, to) -> {port: expected}; 'timeout' is the firewall's drop (a listener is there).
PORT_TABLE = {
    ("lab host", "ll-node-1"): {5842: "open", 5843: "timeout", 8558: "timeout", 9095: "timeout"},
    ("lab host", "ll-config-server"): {5841: "open"},
    # Prometheus (9090) for layline:firewall:operators only; the node exporter (9100) and
    # the engines' metrics (9095) for the monitoring minion only (issue 18, finding 5)
    ("lab host", "ll-mysql"): {3306: "timeout", 9090: "open", 9100: "timeout"},
    ("ll-node-1", "ll-mysql"): {9090: "timeout", 9100: "timeout"},
    ("ll-mysql", "ll-node-1"): {5842: "timeout", 5843: "timeout", 8558: "timeout", 9095: "open"},
    ("ll-mysql", "ll-config-server"): {5841: "timeout"},
    ("ll-config-server", "ll-node-2"): {5842: "open", 5843: "timeout", 8558: "open"},
    ("ll-config-server", "ll-mysql"): {3306: "open", 9090: "timeout", 9100: "timeout"},
    ("ll-node-1", "ll-node-2"): {5842: "timeout", 5843: "open", 8558: "open"},
    ("ll-node-2", "ll-config-server"): {5841: "open"},
    ("ll-node-2", "ll-mysql"): {3306: "open"},
}
LISTENERS = {
    "ll-mysql": [3306, 9090, 9100],
    "ll-config-server": [5841],
    **{e: [5842, 5843, 8558] for e in ENGINES},
}


def _probe(lab, source: str, target: str, ports) -> dict[int, str]:
    args = [lab.address(target), *map(str, ports)]
    if source == "lab host":
        proc = subprocess.run(
            [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, check=True
        )
        out = proc.stdout
    else:
        out = lab.shell(source, [SALT_PYTHON, "-c", PROBE, *args], check=True).stdout
    return {int(port): state for port, state in (line.split() for line in out.splitlines())}


def test_every_listener_binds_its_canonical_address(seed):
    for machine, ports in LISTENERS.items():
        out = seed.shell(machine, "ss -Htln", check=True).stdout
        bound = {}
        for line in out.splitlines():
            local = line.split()[3]
            host, _, port = local.rpartition(":")
            bound.setdefault(int(port), set()).add(host)
        for port in ports:
            assert bound.get(port) == {seed.address(machine)}, (machine, port, out)


def test_ports_answer_only_as_the_guide_table_says(seed):
    seen = {pair: _probe(seed, *pair, expected) for pair, expected in PORT_TABLE.items()}
    assert seen == PORT_TABLE
    for machine in ALL:  # the site's own ruleset file is the package's, untouched
        assert seed.shell(machine, "dpkg -V nftables", check=True).stdout == "", machine
        assert (
            seed.shell(machine, "systemctl is-enabled layline-firewall").stdout.strip() == "enabled"
        ), machine


def test_engine_account_writes_but_cannot_drop_or_create(seed):
    password = _pillar()["database"]["password"]
    script = (
        "import base64, sys, pymysql\n"
        "db = pymysql.connect(host='ll-mysql.orb.local', user='layline', database='layline',\n"
        "                     password=base64.b64decode(sys.argv[1]).decode(),\n"
        "                     connect_timeout=5, autocommit=True)\n"
        "cur = db.cursor()\n"
        'cur.execute("INSERT INTO snapshot (persistence_id, sequence_number, created,"\n'
        '            " snapshot_ser_id, snapshot_ser_manifest, snapshot_payload)"\n'
        "            \" VALUES ('10a-probe', 1, 0, 1, '', 'x')\")\n"
        "print('insert', cur.rowcount)\n"
        "cur.execute(\"DELETE FROM snapshot WHERE persistence_id = '10a-probe'\")\n"
        "print('delete', cur.rowcount)\n"
        "for sql in ('DROP TABLE snapshot', 'CREATE TABLE probe_10a (id INT)'):\n"
        "    try:\n"
        "        cur.execute(sql)\n"
        "        print('allowed', sql)\n"
        "    except pymysql.err.MySQLError as exc:\n"
        "        print('refused', exc.args[0])\n"
    )
    secret = base64.b64encode(password.encode()).decode()
    out = seed.shell("ll-node-1", [SALT_PYTHON, "-c", script, secret], check=True).stdout
    assert out.split("\n")[:4] == ["insert 1", "delete 1", "refused 1142", "refused 1142"], out
    assert [r[0] for r in _sql(seed, "SHOW TABLES LIKE 'snapshot'")] == ["snapshot"]


def test_broader_grants_are_reduced_on_the_next_apply(seed):
    engine = f"'layline'@'{seed.address('ll-node-2')}'"
    _sql(seed, f"GRANT ALL PRIVILEGES ON layline.* TO {engine}")
    ret = seed.salt("ll-mysql", "state.apply", "layline", timeout=600)
    assert_applied(ret, ["ll-mysql"])
    assert any("privileges_reduced" in state for state in changed(ret)["ll-mysql"]), changed(ret)
    grants = [row[0] for row in _sql(seed, f"SHOW GRANTS FOR {engine}")]
    on_layline = [g.split(" ON ")[0] for g in grants if "`layline`.*" in g]
    assert on_layline == ["GRANT SELECT, INSERT, UPDATE, DELETE"], grants


def test_firewall_disabled_removes_the_table_and_enabled_restores_it(seed):
    off = json.dumps({"layline": {"firewall": {"enabled": False}}})
    ret = seed.salt("ll-node-2", "state.apply", "layline", f"pillar={off}", timeout=600)
    assert_applied(ret, ["ll-node-2"])
    assert seed.shell("ll-node-2", "nft list table inet layline").returncode != 0
    assert seed.shell("ll-node-2", "test -e /etc/nftables.d/layline.nft").returncode != 0
    assert _probe(seed, "lab host", "ll-node-2", [8558]) == {8558: "open"}
    ret = apply(seed, "ll-node-2")
    assert_applied(ret, ["ll-node-2"])
    assert _probe(seed, "lab host", "ll-node-2", [8558]) == {8558: "timeout"}


# ---------------------------------------------------------------- layline.tls (issue 10b)

TLS_DIR = "/etc/layline/tls"
SBR_PROVIDER = "org.apache.pekko.cluster.sbr.SplitBrainResolverProvider"
ROTATING_KEYS = "org.apache.pekko.remote.artery.tcp.ssl.RotatingKeysSSLEngineProvider"


def _stat(lab, machine: str, *paths: str) -> dict[str, str]:
    proc = lab.shell(machine, ["stat", "-c", "%n %U:%G %a", *paths])
    return {
        line.split()[0]: " ".join(line.split()[1:])
        for line in proc.stdout.splitlines()
        if line.startswith("/")
    }


def test_tls_files_and_modes_on_every_machine(seed):
    from cryptography import x509

    ca_pem = seed.shell("ll-config-server", ["cat", f"{TLS_DIR}/ca.crt"], check=True).stdout
    ca = x509.load_pem_x509_certificate(ca_pem.encode())
    for machine in ALL:
        group = "mysql" if machine == "ll-mysql" else "layline"
        # the config server alone does not use its key: root's only (issue 18)
        key_group = "root" if machine == "ll-config-server" else group
        modes = _stat(
            seed,
            machine,
            TLS_DIR,
            f"{TLS_DIR}/ca.crt",
            f"{TLS_DIR}/node.crt",
            f"{TLS_DIR}/node.key",
            "/etc/layline/ca",
            "/etc/layline/ca/ca.key",
            POLICY_FILE,
        )
        expected = {
            TLS_DIR: f"root:{group} 750",
            f"{TLS_DIR}/ca.crt": "root:root 644",
            f"{TLS_DIR}/node.crt": "root:root 644",
            f"{TLS_DIR}/node.key": f"root:{key_group} 640",
        }
        if machine == "ll-config-server":  # the CA minion
            expected.update(
                {
                    "/etc/layline/ca": "root:root 700",
                    "/etc/layline/ca/ca.key": "root:root 400",
                    POLICY_FILE: "root:root 600",  # its signing policies (its grain)
                }
            )
        assert modes == expected, machine
        assert seed.shell(machine, ["cat", f"{TLS_DIR}/ca.crt"]).stdout == ca_pem, machine
        cert = x509.load_pem_x509_certificate(
            seed.shell(machine, ["cat", f"{TLS_DIR}/node.crt"], check=True).stdout.encode()
        )
        cert.verify_directly_issued_by(ca)
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert names.get_values_for_type(x509.DNSName) == [f"{machine}.orb.local"], machine
        key_head = seed.shell(machine, ["head", "-1", f"{TLS_DIR}/node.key"]).stdout
        assert key_head.strip() == "-----BEGIN PRIVATE KEY-----", machine  # PKCS#8, as Pekko reads


def test_the_ca_minion_publishes_its_ca_certificate_in_the_mine(seed):
    """Issue 16: the other minions read ca.crt with one master request (the mine entry the
    CA minion sends), not a peer publish to the CA minion on every apply."""
    ca_pem = seed.shell("ll-config-server", ["cat", f"{TLS_DIR}/ca.crt"], check=True).stdout
    rc, out = _salt_call_rc(
        seed, "ll-node-1", "mine.get", "ll-config-server", "layline_ca_certificate"
    )
    assert rc == 0 and json.loads(out)["local"] == {"ll-config-server": ca_pem}, out
    # answered from the mine: a policy the CA minion does not have is never asked for
    rc, out = _salt_call_rc(
        seed, "ll-node-1", "layline_tls.ca_certificate", "ll-config-server", "no-such-policy"
    )
    assert rc == 0 and json.loads(out)["local"] == ca_pem, out


def _ask_ca(lab, machine: str, policy: str) -> tuple[int, str]:
    """``machine`` asks the CA minion, through the master, for an engine's certificate with
    its own key: the engines' CN, an engine's and its own names, a CA flag, 100 years."""
    return _salt_call_rc(
        lab,
        machine,
        "x509.create_certificate",
        "ca_server=ll-config-server",
        f"signing_policy={policy}",
        f"private_key={TLS_DIR}/node.key",
        "CN=layline-Production-engine",
        "subjectAltName=DNS:ll-node-1.orb.local, DNS:ll-mysql.orb.local",
        "basicConstraints=critical, CA:TRUE",
        "days_valid=36500",
    )


def test_the_database_minion_cannot_get_an_engine_certificate(seed):
    """Issue 18, finding 1: the CA minion's policies (its grain x509_signing_policies, written
    by its own apply from the pillar) fix every field; ll-mysql gets only its own certificate
    and cannot use an engine's policy."""
    from cryptography import x509

    rc, out = _ask_ca(seed, "ll-mysql", "layline-ll-node-1")
    assert rc != 0 and "minion not permitted to use specified signing policy" in out, out
    rc, out = _ask_ca(seed, "ll-mysql", "layline-ll-mysql")
    assert rc == 0, out
    cert = x509.load_pem_x509_certificate(json.loads(out)["local"].encode())
    assert cert.subject.rfc4514_string() == "CN=ll-mysql.orb.local"
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["ll-mysql.orb.local"]
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc).days <= 730
    # the CA minion's own check agrees that its pillar widens none of them, and its grain
    # serves exactly the formula's policies (no pillar file in this scenario)
    rc, out = _salt_call_rc(seed, "ll-config-server", "layline_tls.signing_problems")
    assert rc == 0 and json.loads(out)["local"] == [], out
    served = seed.salt("ll-config-server", "grains.get", "x509_signing_policies")
    wanted = seed.salt("ll-config-server", "layline_tls.signing_policies")
    assert served["ll-config-server"] == wanted["ll-config-server"], served
    assert seed.salt("ll-config-server", "pillar.get", "x509_signing_policies") == {
        "ll-config-server": ""
    }


def _forged_files() -> dict[str, bytes]:
    """A key and certificate from a CA that only looks like the cluster's (same names)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    def name(text):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key, key = (rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(2))
    cert = (
        x509.CertificateBuilder()
        .subject_name(name("layline-Production-engine"))
        .issuer_name(name("layline Production cluster CA"))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("ll-node-1.orb.local")]), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return {
        "node.key": key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        "node.crt": cert.public_bytes(serialization.Encoding.PEM),
    }


def _intruder_conf() -> str:
    seeds = ", ".join(f'"pekko://layline@{e}.orb.local:5843"' for e in ENGINES)
    return f"""
layline.reactive-engine.rest-server {{
  canonical.hostname = "ll-node-1.orb.local"
  bind {{ hostname = "0.0.0.0", port = 25842 }}
}}
pekko {{
  actor.provider = cluster
  remote.artery {{
    transport = tls-tcp
    canonical {{ hostname = "ll-node-1.orb.local", port = 25843 }}
    bind {{ hostname = "0.0.0.0", port = 25843 }}
    ssl {{
      ssl-engine-provider = "{ROTATING_KEYS}"
      rotating-keys-engine {{
        key-file = "/root/intruder/node.key"
        cert-file = "/root/intruder/node.crt"
        # the cluster's CA certificate is public: the intruder trusts the real engines
        ca-cert-file = "{TLS_DIR}/ca.crt"
      }}
    }}
  }}
  cluster {{
    seed-nodes = [{seeds}]
    downing-provider-class = "{SBR_PROVIDER}"
    split-brain-resolver.active-strategy = keep-majority
  }}
  management.http {{ hostname = "ll-node-1.orb.local", bind-hostname = "0.0.0.0",
                     bind-port = 28558 }}
}}
"""


# A client without a certificate, from an engine machine: it verifies the engine's
# certificate (cluster CA, hostname in the SAN), then the engine must refuse it.
NO_CERT_CLIENT = """
import socket, ssl, sys
host = sys.argv[1]
context = ssl.create_default_context(cafile="/etc/layline/tls/ca.crt")
with socket.create_connection((host, 5843), timeout=5) as raw:
    with context.wrap_socket(raw, server_hostname=host) as sock:
        print("server certificate verified:", dict(sock.getpeercert()["subjectAltName"]))
        try:
            sock.sendall(b'{"type": "gossip"}\\n')
            print("reply bytes:", len(sock.recv(65536)))
        except (ssl.SSLError, OSError) as exc:
            print("refused:", exc)
"""


def _refusals(lab, machine: str, peer: str) -> str:
    """The engine's log lines about Artery connections from ``peer`` it refused."""
    return "\n".join(
        line
        for line in lab.shell(machine, ["cat", ENGINE_LOG]).stdout.splitlines()
        if f"refused Artery connection from [{peer}]" in line
    )


def test_artery_is_mutual_tls_and_refuses_a_joiner_without_a_cluster_certificate(seed):
    node_1 = seed.address("ll-node-1")
    for machine in ENGINES:
        log = seed.shell(machine, ["cat", ENGINE_LOG]).stdout
        assert "Remoting started with transport [Artery tls-tcp]" in log, machine
    # a client without a certificate: it sees a valid engine certificate, the engine refuses it
    out = seed.shell(
        "ll-node-1", ["python3", "-c", NO_CERT_CLIENT, "ll-node-2.orb.local"], check=True
    ).stdout
    assert "server certificate verified: {'DNS': 'll-node-2.orb.local'}" in out, out
    assert "reply bytes: 0" in out or "refused:" in out, out
    seed.wait_for(
        lambda: "did not return a certificate" in _refusals(seed, "ll-node-2", node_1),
        timeout=30,
        what="ll-node-2 logging the refused client",
    )

    # a joiner with a certificate of another CA (same names as the cluster's)
    files = {**_forged_files(), "application.conf": _intruder_conf().encode()}
    seed.shell("ll-node-1", "mkdir -p -m 0700 /root/intruder", check=True)
    for name, content in files.items():
        seed.shell(
            "ll-node-1",
            f"base64 -d > /root/intruder/{name} <<'EOF'\n{base64.b64encode(content).decode()}\nEOF",
            check=True,
        )
    seed.shell(
        "ll-node-1",
        [
            "systemd-run",
            "--unit=ll-intruder",
            "--setenv=HOME=/root/intruder",
            "/usr/bin/timeout",
            "300",
            "/opt/layline/current/bin/reactive-engine",
            "-J-Dlayline.configDirectory=/root/intruder",
        ],
        check=True,
    )
    intruder_log = "/root/intruder/.layline/reactive-engine/log/reactive-engine.log"
    try:
        for machine in ENGINES:
            seed.wait_for(
                lambda m=machine: "certificate verify failed" in _refusals(seed, m, node_1),
                timeout=60,
                what=f"{machine} refusing the intruder's certificate",
            )
        intruder = seed.shell("ll-node-1", ["cat", intruder_log]).stdout
        assert "TLS connection to [pekko://layline@ll-node-" in intruder, intruder[-2000:]
        assert "LAY-11001" not in intruder
        for machine in ENGINES:
            view = _members_on(seed, machine)  # 8558 answers engines, not the lab host
            assert {(m["node"], m["status"]) for m in view["members"]} == {
                (f"pekko://layline@{e}.orb.local:5843", "Up") for e in ENGINES
            }, view
            assert view["unreachable"] == [], view
    finally:
        seed.shell("ll-node-1", "systemctl stop ll-intruder; rm -rf /root/intruder")


# ------------------------------------------------------------------ MySQL TLS (issue 10c)

CONFIG_SERVER_LOG = "/var/lib/layline/.layline/config-server/log/config-server.log"
REFUSED = (
    "Server identity verification failed. None of the DNS or IP Subject Alternative "
    "Name entries matched the server hostname/IP 'll-mysql.orb.local'"
)
# Run on the CA minion (the config server): a certificate from the cluster CA for another name.
ISSUE_OTHER = """
import datetime, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
ca_key = serialization.load_pem_private_key(open('/etc/layline/ca/ca.key', 'rb').read(), None)
ca = x509.load_pem_x509_certificate(open('/etc/layline/tls/ca.crt', 'rb').read())
key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
now = datetime.datetime.now(datetime.timezone.utc)
name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'll-other.orb.local')])
cert = (x509.CertificateBuilder().subject_name(name).issuer_name(ca.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName('ll-other.orb.local')]), False)
        .sign(ca_key, hashes.SHA256()))
sys.stdout.write(cert.public_bytes(serialization.Encoding.PEM).decode())
sys.stdout.write(key.private_bytes(serialization.Encoding.PEM,
    serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode())
"""


def _ready(lab, machine: str) -> int:
    """/ready of machine's management port, asked on the machine itself (the firewall lets
    only engines and the config server reach 8558); 0 when nothing answers."""
    return http_get(lab, machine, f"http://{machine}.orb.local:8558/ready")[0]


def test_every_database_connection_is_tls(seed):
    """The server requires secure transport and the accounts REQUIRE SSL, so every session of
    the engines and the config server (all listed) is TLS; a plain client from an engine is
    refused, a client verifying the cluster CA and the name gets a cipher."""
    assert _sql(seed, "SELECT @@require_secure_transport, @@have_ssl") == [["1", "YES"]]
    accounts = _sql(seed, "SELECT host, ssl_type FROM mysql.user WHERE user = 'layline'")
    assert accounts and all(ssl_type == "ANY" for _host, ssl_type in accounts), accounts
    sessions = {
        row[0].rsplit(":", 1)[0]
        for row in _sql(
            seed, "SELECT host FROM information_schema.processlist WHERE user = 'layline'"
        )
    }
    for machine in [*ENGINES, "ll-config-server"]:  # by name, or by address (skip-name-resolve)
        assert {f"{machine}.orb.local", seed.address(machine)} & sessions, (machine, sessions)
    password = _pillar()["database"]["password"]
    for machine in [ENGINES[0], "ll-config-server"]:
        assert _connect_from(seed, machine, "layline", password, tls=False).startswith("error "), (
            machine
        )
        answer = _connect_from(seed, machine, "layline", password)
        assert answer.startswith("ok ") and answer != "ok -", (machine, answer)
    store = seed.shell(ENGINES[0], ["stat", "-c", "%U:%G %a", "/etc/layline/tls/truststore.jks"])
    assert store.stdout.split() == ["root:layline", "640"], store.stdout


def test_server_certificate_for_another_name_is_refused(seed):
    """MariaDB restarted with a certificate from the cluster CA for another host name: the
    engines, the config server and Salt's own connection refuse it and say why; with the
    right certificate back the cluster is healthy again."""
    pem = seed.shell("ll-config-server", [SALT_PYTHON, "-c", ISSUE_OTHER], check=True).stdout
    cut = pem.index("-----BEGIN PRIVATE KEY-----")
    other = {"crt": pem[:cut], "key": pem[cut:]}
    assert "BEGIN CERTIFICATE" in other["crt"]
    swap = (
        "set -e; cd /etc/layline/tls; cp -p node.crt /root/node.crt.keep;"
        " cp -p node.key /root/node.key.keep;"
        " printf '%s' \"$1\" > node.crt; printf '%s' \"$2\" > node.key;"
        " systemctl restart mariadb"
    )
    restore = (
        "set -e; cp -p /root/node.crt.keep /etc/layline/tls/node.crt;"
        " cp -p /root/node.key.keep /etc/layline/tls/node.key;"
        " rm -f /root/node.crt.keep /root/node.key.keep; systemctl restart mariadb"
    )
    seed.shell("ll-mysql", ["bash", "-c", swap, "swap", other["crt"], other["key"]], check=True)
    try:
        for machine, log in [(ENGINES[0], ENGINE_LOG), ("ll-config-server", CONFIG_SERVER_LOG)]:
            seed.wait_for(
                lambda m=machine, f=log: REFUSED in seed.shell(m, ["cat", f]).stdout,
                timeout=120,
                what=f"{machine} refusing the server certificate",
            )
        seed.wait_for(
            lambda: _ready(seed, ENGINES[0]) == 500,
            timeout=60,
            what="ll-node-1 /ready 500 without its journal",
        )
        ok, message = seed.salt("ll-config-server", "layline_db.check_connection")[
            "ll-config-server"
        ]
        assert ok is False, message
        assert "certificate verify failed" in message, message
        assert "not valid for ll-mysql.orb.local" in message, message
        assert _pillar()["database"]["password"] not in message
    finally:
        seed.shell("ll-mysql", ["bash", "-c", restore], check=True)
    for machine in ENGINES:
        seed.wait_for(
            lambda m=machine: _ready(seed, m) == 200,
            timeout=180,
            what=f"{machine} ready again with the right certificate",
        )
    ok, message = seed.salt("ll-config-server", "layline_db.check_connection")["ll-config-server"]
    assert ok is True, message
    seed.wait_for(
        lambda: _salt_call_rc(seed, "ll-config-server", "layline.cluster_health")[0] == 0,
        timeout=180,
        what="the cluster healthy again",
    )


# --- monitoring role (issue 11): Debian's Prometheus on ll-mysql scrapes the engines ----------

SCRAPE_TIMEOUT = 90  # seconds: several 2 s scrapes after a (re)start, under lab load


def _prometheus(lab, path: str) -> dict:
    return prometheus_api(lab, "ll-mysql", path)


def _targets_up(lab, job: str) -> dict[str, str]:
    return prometheus_targets(lab, "ll-mysql", job)


def test_prometheus_scrapes_every_engine_and_the_node_exporter(seed):
    """The real Prometheus (Debian package, installed by the formula) lists every engine of the
    pillar and the database machine's node exporter as up: it parsed their text. promtool, also
    from the package, lints an engine's exposition."""
    every_engine_up = seed.wait_for(
        lambda: (t := _targets_up(seed, "layline-engine")) and set(t.values()) == {"up"} and t,
        timeout=SCRAPE_TIMEOUT,
        interval=2,
        what="every engine target up in Prometheus",
    )
    assert sorted(every_engine_up) == ENGINES
    seed.wait_for(
        lambda: _targets_up(seed, "layline-node-exporter") == {"ll-mysql": "up"},
        timeout=SCRAPE_TIMEOUT,
        interval=2,
        what="node exporter target up",
    )
    rules = _prometheus(seed, "rules?type=alert")["groups"]
    names = {rule["name"] for group in rules for rule in group["rules"]}
    assert {
        "LaylineMemberNotUp",
        "LaylineUnreachableMembers",
        "LaylineMembersMissing",
        "LaylineBackupStale",
        "LaylineBackupMissing",
    } <= names, names
    up = _prometheus(seed, 'query?query=layline_cluster_members{status="Up"}')["result"]
    assert sorted(r["metric"]["minion"] for r in up) == ENGINES
    assert {r["value"][1] for r in up} == {str(len(ENGINES))}
    fetch = (
        "import sys, urllib.request; sys.stdout.write(urllib.request.urlopen("
        "'http://ll-node-1.orb.local:9095/metrics', timeout=5).read().decode())"
    )
    lint = seed.shell("ll-mysql", f"python3 -c {shlex.quote(fetch)} | promtool check metrics")
    assert lint.returncode == 0, lint.stdout + lint.stderr


def _firing(lab, alert: str) -> set[str]:
    try:
        alerts = _prometheus(lab, "alerts")["alerts"]
    except OSError:
        return set()
    return {
        a["labels"].get("minion", "")
        for a in alerts
        if a["labels"]["alertname"] == alert and a["state"] == "firing"
    }


def test_member_not_up_alert_fires_for_a_stopped_engine(seed):
    """ll-node-2's engine stopped: LaylineMemberNotUp fires for it within its `for` period
    (6 s in the seed pillar; the wait allows scrapes and rule evaluations under load); started
    again, the cluster is healthy before the next test."""
    seed.wait_for(
        lambda: not _firing(seed, "LaylineMemberNotUp"),
        timeout=SCRAPE_TIMEOUT,
        interval=2,
        what="no LaylineMemberNotUp before the stop",
    )
    seed.shell("ll-node-2", "systemctl stop layline-reactive-engine", check=True)
    try:
        seed.wait_for(
            lambda: "ll-node-2" in _firing(seed, "LaylineMemberNotUp"),
            timeout=SCRAPE_TIMEOUT,
            interval=2,
            what="LaylineMemberNotUp firing for ll-node-2",
        )
        assert "ll-node-1" not in _firing(seed, "LaylineMemberNotUp")
    finally:
        seed.shell("ll-node-2", "systemctl start layline-reactive-engine", check=True)
    seed.wait_for(
        lambda: _salt_call_rc(seed, "ll-config-server", "layline.cluster_health")[0] == 0,
        timeout=180,
        what="ll-node-2 back in the cluster",
    )
    seed.wait_for(
        lambda: not _firing(seed, "LaylineMemberNotUp"),
        timeout=SCRAPE_TIMEOUT,
        interval=2,
        what="LaylineMemberNotUp resolved",
    )


# ------------------------------------------------------------------ backup and restore (issue 11)
# Destructive (drops the database): the last test of the module; it leaves the cluster healthy.

BACKUP_DIR = "/var/backups/layline"
BACKUP_SERVICE = "layline-backup.service"
# Samples every process's argv (what `ps` shows: /proc/<pid>/cmdline) in-process, fast
# enough to see a dump of a small database; writes each distinct argv of a dump or a
# MySQL client, one per line, to argv[1] until argv[2] exists.
SAMPLER = (
    "import glob, os, sys\n"
    "seen = set()\n"
    "while not os.path.exists(sys.argv[2]):\n"
    "    for path in glob.glob('/proc/[0-9]*/cmdline'):\n"
    "        try:\n"
    "            with open(path, 'rb') as fh:\n"
    "                argv = fh.read().replace(b'\\0', b' ').decode('utf-8', 'replace')\n"
    "        except OSError:\n"
    "            continue\n"
    "        if 'mariadb' in argv or 'mysql' in argv or 'layline-backup' in argv:\n"
    "            seen.add(argv.strip())\n"
    "with open(sys.argv[1], 'w') as fh:\n"
    "    fh.write('\\n'.join(sorted(seen)))\n"
)


def _journal_keys(lab) -> set[tuple[str, ...]]:
    return {
        tuple(r) for r in _sql(lab, "SELECT persistence_id, sequence_number FROM event_journal")
    }


def _backup_with_sampler(lab) -> tuple[str, list[str]]:
    """Start the timer's service while the sampler watches; (journal line, sampled argvs)."""
    lab.shell("ll-mysql", "rm -f /run/ll-sample /run/ll-sample.stop", check=True)
    cmd = (
        f"{SALT_PYTHON} -c {shlex.quote(SAMPLER)} /run/ll-sample /run/ll-sample.stop & "
        f"sleep 0.5; systemctl start {BACKUP_SERVICE}; rc=$?; touch /run/ll-sample.stop; "
        "wait; exit $rc"
    )
    lab.shell("ll-mysql", cmd, check=True)
    sampled = lab.shell("ll-mysql", "cat /run/ll-sample", check=True).stdout.splitlines()
    line = lab.shell(
        "ll-mysql",
        f"journalctl -q -o cat -n 1 -u {BACKUP_SERVICE} --grep 'layline-backup: wrote'",
        check=True,
    ).stdout.strip()
    return line, sampled


def test_backup_by_the_timer_service_and_restore_orchestration(seed):
    password = _pillar()["database"]["password"]
    forms = [password, json.dumps(password)[1:-1]]
    timer = seed.shell(
        "ll-mysql",
        "systemctl is-enabled layline-backup.timer && systemctl "
        "is-active layline-backup.timer && systemctl show -p "
        "TimersCalendar --value layline-backup.timer",
        check=True,
    )
    assert "OnCalendar=*-*-* 00:00:00 ;" in timer.stdout, timer.stdout  # daily
    assert hardening.exposure(seed, "ll-mysql", "layline-backup") < 2.5  # 1.3 offline

    # the engines journalled their membership changes since the deployment
    rows = _journal_keys(seed)
    assert {pid for pid, _seq in rows} >= {f"reactive-engine|{e}.orb.local" for e in ENGINES}

    # a backup taken by the timer's service; ps (/proc/*/cmdline) sampled during the dump
    for _attempt in range(5):
        line, sampled = _backup_with_sampler(seed)
        if any("mariadb-dump" in argv for argv in sampled):
            break
        time.sleep(1.1)  # backup names have whole seconds
    dumps = [argv for argv in sampled if "mariadb-dump" in argv]
    assert dumps, f"the sampler never saw the dump: {sampled}"
    assert all("--defaults-extra-file=/etc/layline-backup/client.cnf" in argv for argv in dumps)
    assert not any(form in argv for form in forms for argv in sampled), "password in argv"
    assert _journal_keys(seed) == rows, "the journal changed while the cluster was stable"

    path = line.split("wrote ", 1)[1].split(" ", 1)[0]
    assert path.startswith(f"{BACKUP_DIR}/layline-") and path.endswith(".sql.gz"), line
    modes = seed.shell("ll-mysql", f"stat -c '%U:%G %a' {BACKUP_DIR} {path}", check=True)
    assert modes.stdout.split("\n")[:2] == ["root:root 700", "root:root 600"], modes.stdout
    dump = seed.shell("ll-mysql", ["zcat", path], check=True).stdout
    assert "CREATE TABLE `event_journal`" in dump and "-- Dump completed" in dump
    assert not any(form in dump for form in forms), "password in the backup file"
    prom = seed.shell(
        "ll-mysql",
        "cat /var/lib/prometheus/node-exporter/layline_backup.prom; date +%s",
        check=True,
    ).stdout.splitlines()
    stamp = next(x for x in prom if x.startswith("layline_backup_last_success_timestamp_seconds"))
    # whole seconds on both sides: the stamp has a fraction, `date +%s` does not
    assert 0 <= int(prom[-1]) - int(float(stamp.split()[1])) < 600, prom

    listed = seed.salt("ll-mysql", "layline_db.backups")["ll-mysql"]
    name = path.rsplit("/", 1)[1]
    entry = next(item for item in listed if item["file"] == name)
    assert entry["size"] > 0 and entry["age_seconds"] >= 0, listed

    # refusals change nothing: no file, a file that is not there; test=True shows the plan
    pids = _engine_pids(seed)
    text = json.dumps(seed.run("state.orch", "layline.orch.restore"))
    assert "no backup file given" in text and '"result": false' in text, text[:3000]
    missing = json.dumps({"layline": {"restore": {"file": "layline-20200101T000000Z.sql.gz"}}})
    text = json.dumps(seed.run("state.orch", "layline.orch.restore", f"pillar={missing}"))
    assert "does not exist" in text and '"result": false' in text, text[:3000]
    chosen = json.dumps({"layline": {"restore": {"file": name}}})
    text = json.dumps(
        seed.run("state.orch", "layline.orch.restore", "test=True", f"pillar={chosen}")
    )
    assert "drop database layline" in text and "start ll-node-1, ll-node-2" in text, text[:3000]
    assert _engine_pids(seed) == pids and _journal_keys(seed) == rows

    # the database dropped, then the restore orchestration
    seed.shell("ll-mysql", ["mysql", "-e", "DROP DATABASE layline"], check=True)
    ret = seed.run("state.orch", "layline.orch.restore", f"pillar={chosen}")
    text = json.dumps(ret)
    assert '"result": false' not in text, text[:4000]
    report = re.search(r"journal rows: before none \(no journal table\), restored (\d+)", text)
    assert report and int(report.group(1)) == len(rows), text[:4000]
    assert not any(form in text for form in forms), "password in the orchestration's output"

    after = _journal_keys(seed)
    assert rows <= after, rows - after  # every row back (the restart adds membership rows)
    assert_cluster_formed(seed)  # both engines Up, the config server lists both


def test_a_corrupt_dump_fails_the_restore_leaves_the_services_stopped_and_a_good_one_heals(seed):
    """Issue 19: a gzip-valid dump whose trailer is intact (check_backup passes) but with a
    broken statement in the middle: the restore orchestration fails naming the file, the
    engines and the config server stay stopped; the next restore of a good file brings every
    row back and the cluster forms again."""
    good = max(
        (item["file"] for item in seed.salt("ll-mysql", "layline_db.backups")["ll-mysql"]),
        key=str,
    )
    rows = _journal_keys(seed)
    bad = "layline-20000101T000000Z.sql.gz"
    # after the first INSERT, a broken statement; the last line ("-- Dump completed") stays
    broken = "INSERT INTO event_journal VALUES (garbage;"
    program = f'{{print}} /^INSERT INTO/ && !done {{print "{broken}"; done=1}}'
    corrupt = (
        f"set -o pipefail; zcat {BACKUP_DIR}/{good} | awk {shlex.quote(program)} | gzip > "
        f"{BACKUP_DIR}/{bad} && chmod 600 {BACKUP_DIR}/{bad}"
    )
    seed.shell("ll-mysql", ["bash", "-c", corrupt], check=True)
    checked = seed.salt("ll-mysql", "layline_db.check_backup", bad)["ll-mysql"]
    assert isinstance(checked, dict) and checked["file"] == bad, checked  # the pre-check passes

    ret = seed.run(
        "state.orch",
        "layline.orch.restore",
        "pillar=" + json.dumps({"layline": {"restore": {"file": bad}}}),
    )
    text = json.dumps(ret)
    assert '"result": false' in text and bad in text, text[:4000]
    assert "stay stopped" in text, text[:4000]
    for machine, unit in [(e, "layline-reactive-engine") for e in ENGINES] + [
        ("ll-config-server", "layline-config-server")
    ]:
        state = seed.shell(machine, f"systemctl is-active {unit}").stdout.strip()
        assert state in ("inactive", "failed"), (machine, unit, state)

    ret = seed.run(
        "state.orch",
        "layline.orch.restore",
        "pillar=" + json.dumps({"layline": {"restore": {"file": good}}}),
    )
    text = json.dumps(ret)
    assert '"result": false' not in text, text[:4000]
    assert rows <= _journal_keys(seed)  # every row back
    assert_cluster_formed(seed)
