"""The config server's turn in the rolling restart (_runners/layline.py
Roller.roll_config_server, and through the runner): stop and switch only for a release
move, restart, wait until it listens, clear its marker; what the operator reads and the
exit code when any of it fails."""

import pytest
import unitsupport
from rollingsupport import FakeClock, runner, settings
from simcluster import SimClient, SimCluster

import layline_gate

UNIT = "layline-config-server"
MARK = {"reasons": ["configuration changed"], "version": None}
BIND = "10.0.0.9"
PORT = 5841
START = 1000.0  # the runner's clock does not start at 0
TIMEOUT = 30  # layline:rolling:timeout in these tests


class ServerFake(unitsupport.FakeMinionCalls):
    """The config server ``cfg`` as the runner's client reaches it; records
    ``(fun, args, kwargs, _timeout)``. ``refused``: connects refused after the restart
    before it listens (None: never); ``fails``: ``{fun: message}`` calls that fail."""

    minion_error = runner.MinionCallError

    def __init__(self, clock, refused=0, fails=None):
        self.clock = clock
        self.refused = refused
        self.fails = dict(fails or {})
        self.calls = []
        self.running = True
        self.release = "2.5.4"
        self.restarted_at = None

    def call_many(self, minions, fun, *args, **kwargs):
        timeout = kwargs.pop("_timeout", None)
        return {m: self._one(m, fun, args, kwargs, timeout) for m in minions}

    def _one(self, minion, fun, args, kwargs, timeout):
        assert minion == "cfg", (minion, fun)
        self.calls.append((fun, args, kwargs, timeout))
        self.clock.now += 0.137
        if fun in self.fails:
            return False, self.fails[fun]
        if fun == "service.stop":
            self.running = False
            return True, True
        if fun == "layline_release.switch":
            self.release = kwargs["version"]
            return True, {"previous": "2.5.4", "active": self.release, "changed": True}
        if fun == "service.restart":
            self.running = True
            self.restarted_at = self.clock.now
            return True, True
        if fun == "layline.bind_address":
            return True, BIND
        if fun == "network.connect":
            listening = self.running and self.restarted_at is not None and args == (BIND, PORT)
            if self.refused is None:
                listening = False
            elif listening and self.refused > 0:
                self.refused -= 1
                listening = False
            return True, {"result": listening}
        if fun == "layline.clear_pending":
            return True, True
        return False, f"unexpected {fun}"

    def funs(self):
        return [fun for fun, _args, _kwargs, _timeout in self.calls]

    def timeout_of(self, fun):
        (timeout,) = {t for f, _a, _k, t in self.calls if f == fun}
        return timeout


def roll(version=None, **fake):
    clock = FakeClock()
    clock.now = START
    client = ServerFake(clock, **fake)
    lines = []
    roller = runner.Roller(
        settings(3, timeout=TIMEOUT), client, progress=lines.append, clock=clock, sleep=clock.sleep
    )
    failure = roller.roll_config_server({"minion": "cfg", "reasons": ["x"], "version": version})
    return failure, roller, client, lines


GATE = ["layline.bind_address", "network.connect"] * layline_gate.GATE_POLLS


def test_a_release_move_stops_switches_restarts_waits_until_it_listens_then_clears():
    failure, roller, client, lines = roll(version="2.5.5")
    assert failure is None
    assert client.funs() == [
        "service.stop",
        "layline_release.switch",
        "service.restart",
        *GATE,
        "layline.clear_pending",
    ]
    calls = {fun: (args, kwargs) for fun, args, kwargs, _t in client.calls}
    assert calls["service.stop"] == ((UNIT,), {})
    assert calls["layline_release.switch"] == ((), {"version": "2.5.5"})
    assert calls["service.restart"] == ((UNIT,), {})
    assert calls["layline.bind_address"] == (("config_server",), {})
    assert calls["network.connect"] == ((BIND, PORT), {})
    assert calls["layline.clear_pending"] == ((UNIT,), {})
    assert client.release == "2.5.5" and client.running


def test_without_a_release_move_it_is_only_restarted_gated_and_cleared():
    failure, _roller, client, _lines = roll(version=None)
    assert failure is None
    assert client.funs() == ["service.restart", *GATE, "layline.clear_pending"]
    assert client.release == "2.5.4"


def test_the_calls_outlast_a_graceful_stop_and_a_switch():
    # the unit's TimeoutStopSec is 90 s: a call that gives up first reports a stop in progress
    # as a failure (the client's default is 30 s; None falls to Salt's 5 s)
    _failure, _roller, client, _lines = roll(version="2.5.5")
    assert client.timeout_of("service.stop") > 90
    assert client.timeout_of("service.restart") > 90
    assert client.timeout_of("layline_release.switch") >= runner.SWITCH_ALLOWANCE


def test_it_waits_until_it_listens_and_its_step_time_includes_the_wait():
    failure, roller, client, lines = roll(refused=5)
    assert failure is None
    connects = client.funs().count("network.connect")
    assert connects == 5 + layline_gate.GATE_POLLS
    assert client.funs()[-1] == "layline.clear_pending"
    (row,) = roller.rows
    elapsed = client.clock.now - START
    assert elapsed > 5 * roller.interval
    assert row == {"node": "cfg", "result": "restarted", "seconds": round(elapsed, 1)}
    assert lines[-1].endswith(f"config server cfg restarted ({elapsed:.1f}s)")
    assert f"{elapsed:.1f}s" in roller.summary().splitlines()[1]


def test_not_listening_within_the_timeout_fails_naming_server_and_port_marker_kept():
    failure, roller, client, lines = roll(version="2.5.5", refused=None)
    assert failure == f"config server cfg: not listening on port {PORT} after its restart"
    assert "layline.clear_pending" not in client.funs()
    # the gate polled for the whole layline:rolling:timeout
    assert client.clock.now - client.restarted_at >= TIMEOUT
    assert roller.rows == [{"node": "cfg", "result": "FAILED (not listening)", "seconds": None}]
    assert "FAILED (not listening)" in roller.summary()


@pytest.mark.parametrize(
    ("fun", "step"),
    [
        ("service.stop", "stop"),
        ("layline_release.switch", "switch to release 2.5.5"),
        ("service.restart", "restart"),
    ],
)
def test_a_failed_call_is_a_failure_naming_the_step_marker_kept(fun, step):
    failure, roller, client, _lines = roll(version="2.5.5", fails={fun: f"{fun} on cfg: boom"})
    assert failure.startswith(f"config server cfg: {step} failed: {fun} on cfg: boom")
    assert "its restart stays pending" in failure
    assert client.funs()[-1] == fun  # nothing after the failed call
    (row,) = roller.rows
    assert row["node"] == "cfg" and row["result"].startswith("FAILED (")
    assert row["seconds"] is None


def test_a_failed_switch_says_the_config_server_is_stopped():
    failure, _roller, client, _lines = roll(
        version="2.5.5", fails={"layline_release.switch": "release 2.5.5 is not installed"}
    )
    assert not client.running
    assert failure == (
        "config server cfg: switch to release 2.5.5 failed: release 2.5.5 is not installed; "
        "the config server is stopped; its restart stays pending (state.apply layline on it, "
        "then layline.rolling again)"
    )


def test_a_marker_that_cannot_be_cleared_is_said_not_a_failure():
    failure, roller, _client, lines = roll(fails={"layline.clear_pending": "disk full"})
    assert failure is None
    assert any(
        "config server cfg: its restart marker was not cleared: disk full" in line for line in lines
    )
    assert roller.rows[0]["result"] == "restarted"


# ---------------------------------------------------------------------------
# through the runner: what layline.rolling returns and its exit code
# ---------------------------------------------------------------------------


class Context(dict):
    pass


class ServerClient(SimClient):
    """SimClient whose config server can fail a call or never listen."""

    def __init__(self, cluster, minion_error, fails=None, listening=True):
        super().__init__(cluster, minion_error)
        self.fails = dict(fails or {})
        self.listening = listening

    def _one(self, minion, fun, args, kwargs):
        if minion == "cfg" and fun in self.fails:
            self.cluster.calls.append((minion, fun, args))
            return False, self.fails[fun]
        if minion == "cfg" and fun == "network.connect" and not self.listening:
            self.cluster.calls.append((minion, fun, args))
            return True, {"result": False}
        return super()._one(minion, fun, args, kwargs)


@pytest.fixture
def rolling(monkeypatch):
    def run(cluster, **client):
        context = Context()
        monkeypatch.setattr(runner, "__context__", context, raising=False)
        monkeypatch.setattr(runner, "__opts__", {"quiet": True}, raising=False)
        monkeypatch.setattr(
            runner,
            "SaltClient",
            lambda opts, timeout=30: ServerClient(cluster, runner.MinionCallError, **client),
        )
        monkeypatch.setattr(runner, "_SLEEP", cluster.clock.sleep)
        monkeypatch.setattr(runner, "_CLOCK", cluster.clock)
        ret = runner.rolling(settings=dict(settings(3, timeout=TIMEOUT)))
        return ret, context

    return run


def summary_row(ret, node):
    return next(line for line in ret["comment"].splitlines() if line.startswith(f"{node} "))


def test_the_config_server_goes_after_every_engine_and_the_run_succeeds(rolling):
    cluster = SimCluster(3, markers={"n3": MARK, "n2": MARK, "cfg": MARK})
    ret, context = rolling(cluster)
    assert ret["result"] is True and "retcode" not in context
    assert ret["comment"].startswith("rolling restart done at ")
    assert "restarted" in summary_row(ret, "cfg")
    order = [
        (m, fun) for m, fun, _args in cluster.calls if fun in ("service.start", "service.restart")
    ]
    assert order == [("n3", "service.start"), ("n2", "service.start"), ("cfg", "service.restart")]
    assert cluster.markers == {}


def test_not_listening_fails_the_run_with_retcode_1_engines_done_its_marker_kept(rolling):
    cluster = SimCluster(3, markers={"n3": MARK, "cfg": MARK})
    ret, context = rolling(cluster, listening=False)
    assert ret["result"] is False and context["retcode"] == 1
    assert ret["comment"].startswith(
        f"rolling restart FAILED at config server cfg: not listening on port {PORT} "
        "after its restart\n"
    )
    assert "restarted" in summary_row(ret, "n3")
    assert "FAILED (not listening)" in summary_row(ret, "cfg")
    assert cluster.markers == {"cfg": MARK}  # the next run restarts it again


def test_a_failed_switch_fails_the_run_with_retcode_1_and_the_summary(rolling):
    cluster = SimCluster(3, markers={"n3": MARK, "cfg": {"reasons": ["v"], "version": "2.5.5"}})
    ret, context = rolling(
        cluster, fails={"layline_release.switch": "release 2.5.5 is not installed on this node"}
    )
    assert ret["result"] is False and context["retcode"] == 1
    assert ret["comment"].startswith(
        "rolling restart FAILED at config server cfg: switch to release 2.5.5 failed: "
        "release 2.5.5 is not installed on this node"
    )
    assert "restarted" in summary_row(ret, "n3")
    assert "FAILED (switch)" in summary_row(ret, "cfg")
    assert [fun for m, fun, _a in cluster.calls if m == "cfg"] == [
        "layline.pending",
        "service.stop",
        "layline_release.switch",
    ]
    assert "cfg" in cluster.markers


def test_an_engine_failure_leaves_the_config_server_alone(rolling):
    cluster = SimCluster(3, markers={"n3": MARK, "cfg": MARK})
    cluster.members["n3"].never_ready = True
    ret, context = rolling(cluster)
    assert ret["result"] is False and context["retcode"] == 1
    # only its marker was read (by the pre-check)
    assert [fun for m, fun, _a in cluster.calls if m == "cfg"] == ["layline.pending"]
    assert "cfg" in cluster.markers
