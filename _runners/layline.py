"""
Runner for layline.io clusters: the rolling restart, the first deployment's order and
the restore of a database backup.

Synced with ``salt-run saltutil.sync_all`` (it imports ``_utils``: ``layline_plan``,
``layline_model``, ``layline_schema``). See README "Operations" and ``docs/design.md``.

Functions: :py:func:`plan` and :py:func:`rolling` (``salt-run state.orch
layline.rolling``), :py:func:`deploy` (``layline.orch.deploy``), :py:func:`restore_check`
and :py:func:`restore` (``layline.orch.restore``).

The runner never sees a secret and never trusts a minion for the cluster's shape: the
orchestrations render on the master with the master's own pillar and pass its non-secret
part (``settings``, built in ``layline/orch/settings.jinja``); the runner validates it
(``layline_plan.settings_of``) and asks the minions only for the live state:
``layline.members``, ``layline.ready``, ``layline.pending`` (the restart markers).

Planning is pure and lives in ``layline_plan`` (unit-tested without Salt). Execution:
:py:class:`Roller` and :py:class:`Restorer` with a client that calls minions
(:py:class:`SaltClient`, a fake in the unit tests).

Order rule. Nodes whose ``/ready`` is not 200 go first. Pekko's
``/cluster/members`` names the ``oldest`` member but gives no age for the
others (no upNumber): the oldest goes last and alone; the others go in the
reverse order of the ``members`` list (Pekko sorts it by address, so the order
is stable from run to run).
"""

import datetime
import logging
import sys
import time

from salt.exceptions import CommandExecutionError, SaltInvocationError

import layline_gate
import layline_model
import layline_plan
from layline_schema import (
    CONFIG_SERVER_UNIT,
    ENGINE_UNIT,
)

try:
    import salt.client
    import salt.utils.event

    HAS_CLIENT = True
except ImportError:  # pragma: no cover
    HAS_CLIENT = False

log = logging.getLogger(__name__)

__virtualname__ = "layline"

LOG_TAIL_LINES = 30
# seconds a graceful stop may take at most before systemd kills (the unit sets 90 s)
STOP_ALLOWANCE = 150
# seconds a release switch may take (it only moves a symlink and may restart a config server)
SWITCH_ALLOWANCE = 120
# the tag prefix of the per-node progress events (layline/rolling/<node>/<phase>)
EVENT_PREFIX = "layline/rolling"
# how a node's progress event reads on stderr
EVENT_TEXT = {
    "left": "left the cluster",
    "up": "Up in a peer's view",
    "ready": "ready (/ready 200, members back)",
    "rolled_back": "rolled back",
}
# seconds the database minion may take to load a backup
RESTORE_TIMEOUT = 6 * 3600
# the runner's clock (the unit tests replace them)
_CLOCK = None
_SLEEP = None


def __virtual__():
    return __virtualname__


class PlanRefused(CommandExecutionError):
    """The rolling restart must not start; the message says why."""


class MinionCallError(CommandExecutionError):
    """A minion did not answer or its function failed."""


# ---------------------------------------------------------------------------
# execution
# ---------------------------------------------------------------------------


class SaltClient:
    """Calls minions from the master (LocalClient)."""

    def __init__(self, opts, timeout=30):
        self._local = salt.client.LocalClient(mopts=opts)
        self._timeout = timeout

    def call_many(self, minions, fun, *args, **kwargs):
        """``{minion: (ok, value)}``; a minion that does not answer gets (False, message)."""
        timeout = kwargs.pop("_timeout", self._timeout)
        answers = self._local.cmd(
            list(minions),
            fun,
            arg=list(args),
            kwarg=kwargs or None,
            tgt_type="list",
            timeout=timeout,
            full_return=True,
        )
        result = {}
        for minion in minions:
            answer = answers.get(minion)
            if not isinstance(answer, dict) or "ret" not in answer:
                result[minion] = (False, f"{minion} did not answer {fun} within {timeout} s")
            elif answer.get("retcode", 0) != 0:
                result[minion] = (False, f"{fun} on {minion} failed: {answer['ret']}")
            else:
                result[minion] = (True, answer["ret"])
        return result

    def call(self, minion, fun, *args, **kwargs):
        ok, value = self.call_many([minion], fun, *args, **kwargs)[minion]
        if not ok:
            raise MinionCallError(value)
        return value

    def close(self):
        """Close the LocalClient's event connection (Salt 3008 warns of an unclosed one)."""
        self._local.destroy()

    def publish(self, minions, fun, kwarg, timeout, on_event=None):
        """
        Run ``fun`` on every one of ``minions`` with ONE publish and collect the returns
        as they arrive; meanwhile every ``layline/rolling/...`` event on the master's
        bus (the minions' progress) is handed to ``on_event(tag, data)``.

        Returns ``{minion: return or None}`` (None: no return within ``timeout``);
        a return counts whatever its retcode: the function reports its failure in it.
        """
        minions = list(minions)
        event = salt.utils.event.get_master_event(
            self._local.opts, self._local.opts["sock_dir"], listen=True
        )
        try:
            job = self._local.run_job(
                minions, fun, arg=[], kwarg=kwarg, tgt_type="list", timeout=timeout, listen=True
            )
            if not job or not job.get("jid"):
                return dict.fromkeys(minions)
            ret_prefix = f"salt/job/{job['jid']}/ret/"
            returns = {}
            deadline = time.monotonic() + timeout
            while len(returns) < len(minions) and time.monotonic() < deadline:
                answer = event.get_event(wait=0.25, full=True, auto_reconnect=True)
                if not answer:
                    continue
                tag, data = answer.get("tag", ""), answer.get("data") or {}
                if tag.startswith(ret_prefix):
                    minion = tag[len(ret_prefix) :]
                    if minion in minions:
                        returns[minion] = data.get("return")
                elif tag.startswith(EVENT_PREFIX + "/") and on_event is not None:
                    on_event(tag, data.get("data", data) if isinstance(data, dict) else data)
            return {minion: returns.get(minion) for minion in minions}
        finally:
            event.destroy()


class Roller:
    """
    Executes a plan node by node (wave by wave) through ``client``; stops at
    the first node that is not back in time and leaves every later node alone.
    """

    def __init__(self, settings, client, progress=None, clock=None, sleep=None):
        self.settings = settings
        self.client = client
        self.progress = progress or (lambda text: None)
        self.clock = clock or time.monotonic
        self.sleep = sleep or time.sleep
        rolling = settings["rolling"]
        self.timeout = float(rolling.get("timeout", 300))
        self.interval = min(float(rolling.get("poll_interval", 0.5)), 0.5)
        self.hostnames = {
            node["minion"]: node["hostname"] for node in layline_plan.engine_nodes(settings)
        }
        self.started = self.clock()
        self.rows = []

    # -- helpers
    def _say(self, text):
        line = f"[{self.clock() - self.started:7.1f}s] {text}"
        log.info("layline.rolling: %s", line)
        self.progress(line)

    def _address(self, minion):
        return layline_plan.address_of(self.settings, self.hostnames[minion])

    def _view(self, observers):
        """``/cluster/members`` from the first observer that answers, or None."""
        for minion in observers:
            try:
                view = self.client.call(minion, "layline.members", _timeout=10)
            except MinionCallError:
                continue
            if isinstance(view, dict):
                return view
        return None

    def _poll(self, condition, what, polls=layline_gate.GATE_POLLS):
        """Poll ``condition()`` every interval until it held ``polls`` times in a row."""
        deadline = self.clock() + self.timeout
        passed = 0
        while True:
            began = self.clock()
            passed = passed + 1 if condition() else 0
            if passed >= polls:
                return True
            if self.clock() >= deadline:
                log.info("layline.rolling: timed out waiting for %s", what)
                return False
            self.sleep(max(0.0, self.interval - (self.clock() - began)))

    # -- the gates (the rolling restart and the restore)
    def wait_ready(self, wave, observers, expected):
        """Poll until every minion of ``wave`` is Up in the view of ``observers`` (or of the
        wave itself), at least ``expected`` members are Up and each ``/ready`` is 200."""
        addresses = {self._address(minion) for minion in wave}

        def healthy():
            view = self._view(observers or list(wave))
            if view is None:
                return False
            up = layline_plan.up_addresses(view)
            if not addresses <= up or len(up) < expected:
                return False
            answers = self.client.call_many(wave, "layline.ready", _timeout=10)
            return all(ok and value is True for ok, value in answers.values())

        return self._poll(healthy, f"{', '.join(wave)} to be Up and ready")

    def wait_listening(self, minion):
        """Poll until the config server on ``minion`` accepts connections on its port, at the
        address it binds (its canonical address since the firewall work, not loopback)."""
        port = layline_model.section(self.settings, "ports").get("config_server")

        def listening():
            try:
                address = self.client.call(
                    minion, "layline.bind_address", "config_server", _timeout=10
                )
                # 0.0.0.0 (layline:network:bind_any) is reached through loopback
                host = "127.0.0.1" if address in ("0.0.0.0", "::") else address
                answer = self.client.call(minion, "network.connect", host, port, _timeout=10)
                return answer.get("result") is True
            except MinionCallError:
                return False

        return self._poll(listening, f"config server {minion}")

    # -- one wave
    def member_nodes(self):
        """Every configured engine as ``layline_member.restart`` takes it:
        ``[{"minion", "address" (pekko://...), "url" (management)}]``."""
        port = layline_model.section(self.settings, "ports").get("management")
        return [
            {
                "minion": node["minion"],
                "address": self._address(node["minion"]),
                "url": layline_gate.management_url(node.get("address") or node["hostname"], port),
            }
            for node in layline_plan.engine_nodes(self.settings)
        ]

    def _event(self, tag, data):
        """A minion's progress event ``layline/rolling/<minion>/<phase>``: one stderr line."""
        parts = tag.split("/")
        if len(parts) < 4:
            return
        minion, phase = parts[2], parts[3]
        if phase == "done":  # said with the step's return ("Up and ready")
            return
        seconds = data.get("seconds") if isinstance(data, dict) else None
        detail = f" ({seconds:.1f}s after its stop began)" if isinstance(seconds, float) else ""
        if phase == "failed" and isinstance(data, dict):
            detail = f": {data.get('comment')}"
        if phase == "switched" and isinstance(data, dict):
            detail = f" to release {data.get('to')}{detail}"
        self._say(f"{minion} {EVENT_TEXT.get(phase, phase)}{detail}")

    def _fail(self, wave, stage, detail, tails=None):
        names = ", ".join(wave)
        tails = tails or {}
        text = "\n".join(
            f"--- last lines of {minion}'s engine log:\n{tails[minion]}"
            for minion in wave
            if tails.get(minion)
        )
        message = f"{names}: {stage}: {detail}" + (f"\n{text}" if text else "")
        self._say(f"FAILED {names}: {stage}")
        for minion in wave:
            self.rows.append({"node": minion, "result": f"FAILED ({stage})", "seconds": None})
        return message

    def cluster_problems(self, view):
        """What keeps the next wave from starting, read from ``view`` (the last gate's
        view of a peer, or a fresh one): every configured engine Up, none unreachable."""
        if view is None:
            return ["no engine answered /cluster/members"]
        return layline_plan.precheck(self.settings, view)

    def roll_wave(self, wave, plan_nodes, everyone, baseline=None):
        """Restart ``wave`` with ONE publish of ``layline_member.restart`` (each node stops,
        leaves, switches, starts and passes its gate on its own minion); returns
        ``(failure message or None, the last gate's view)``."""
        observers = [minion for minion in everyone if minion not in wave]
        before = baseline if baseline is not None else self._view(observers or list(wave))
        expected = layline_gate.up_count(before) if before else len(everyone)
        kwarg = {
            "nodes": self.member_nodes(),
            "wave": list(wave),
            "expected": expected,
            "home": self.settings.get("home") or "/var/lib/layline",
            "timeout": self.timeout,
            "poll_interval": self.interval,
            "on_failure": self.on_failure(wave, plan_nodes),
            # each node clears its own marker once its gate held: no second call per wave
            "clear_marker": True,
        }
        allowance = 2 * self.timeout + STOP_ALLOWANCE + SWITCH_ALLOWANCE
        returns = self.client.publish(
            wave, "layline_member.restart", kwarg, allowance, on_event=self._event
        )
        failed = []
        tails = {}
        view = None
        for minion in wave:
            ret = returns.get(minion)
            if not isinstance(ret, dict) or "result" not in ret:
                failed.append(
                    f"{minion}: no answer from layline_member.restart within {allowance:.0f} s"
                    + (f" ({ret})" if ret else "")
                )
                continue
            if ret["result"] is not True:
                failed.append(f"{minion}: {ret.get('phase')}: {ret.get('comment')}")
                tails[minion] = ret.get("log_tail")
                continue
            view = ret.get("view") or view
        if failed:
            names = [m for m in wave if any(line.startswith(f"{m}:") for line in failed)]
            return self._fail(names, "restart failed", "; ".join(failed), tails), None
        for minion in wave:
            ret = returns[minion]  # a dict with "result": True (checked above)
            cleared = ret.get("marker_cleared")
            if not isinstance(cleared, bool):
                self._say(f"{minion}: its restart marker was not cleared: {cleared}")
            timings = ret.get("timings") or {}
            seconds = timings.get("ready", timings.get("done"))
            up = timings.get("up")
            self._say(f"{minion} Up and ready ({seconds:.1f}s after its stop began)")
            self.rows.append(
                {
                    "node": minion,
                    "result": "restarted",
                    "seconds": round(seconds, 1) if seconds is not None else None,
                    # the step begins with the stop: its "up" timing is the stop-to-Up
                    "stop_to_up": round(up, 1) if up is not None else None,
                    "timings": timings,
                }
            )
        return None, view

    def on_failure(self, wave, plan_nodes):
        """``layline:rolling:on_failure``; unset: rollback when the wave changes a version."""
        chosen = self.settings["rolling"].get("on_failure")
        if chosen:
            return chosen
        moves = any(plan_nodes.get(minion, {}).get("version") for minion in wave)
        return "rollback" if moves else "stop"

    def roll_config_server(self, server):
        """Restart the config server ``server`` (``{"minion", "version"}``): for a release
        move stop it and switch, then restart it, wait until it listens and clear its
        marker. Returns None or the failure message; on failure the marker stays."""
        minion = server["minion"]
        t0 = self.clock()
        step, stage = "restart", "restart"
        try:
            if server.get("version"):
                step, stage = "stop", "stop"
                self.client.call(minion, "service.stop", CONFIG_SERVER_UNIT, _timeout=120)
                step, stage = f"switch to release {server['version']}", "switch"
                self.client.call(
                    minion, "layline_release.switch", version=server["version"], _timeout=600
                )
                step, stage = "restart", "restart"
            self.client.call(minion, "service.restart", CONFIG_SERVER_UNIT, _timeout=120)
        except MinionCallError as exc:
            self._say(f"FAILED config server {minion}: {step}")
            self.rows.append({"node": minion, "result": f"FAILED ({stage})", "seconds": None})
            stopped = "; the config server is stopped" if stage == "switch" else ""
            return (
                f"config server {minion}: {step} failed: {exc}{stopped}; its restart stays "
                "pending (state.apply layline on it, then layline.rolling again)"
            )
        port = layline_model.section(self.settings, "ports").get("config_server")
        if not self.wait_listening(minion):
            self.rows.append({"node": minion, "result": "FAILED (not listening)", "seconds": None})
            return f"config server {minion}: not listening on port {port} after its restart"
        try:
            self.client.call(minion, "layline.clear_pending", CONFIG_SERVER_UNIT)
        except MinionCallError as exc:
            self._say(f"config server {minion}: its restart marker was not cleared: {exc}")
        seconds = self.clock() - t0
        self._say(f"config server {minion} restarted ({seconds:.1f}s)")
        self.rows.append({"node": minion, "result": "restarted", "seconds": round(seconds, 1)})
        return None

    def run(self, plan, view=None):
        """Execute ``plan`` (``view``: the ``/cluster/members`` it was made from, the first
        wave's baseline); returns None on success or the failure message."""
        everyone = [node["minion"] for node in layline_plan.engine_nodes(self.settings)]
        plan_nodes = {node["minion"]: node for node in plan["nodes"]}
        baseline = view
        for index, wave in enumerate(plan["waves"]):
            if index:
                problems = self.cluster_problems(baseline)
                if problems:
                    # the last gate's view is not whole: ask once more before giving up
                    baseline = self._view(everyone)
                    problems = self.cluster_problems(baseline)
                if problems:
                    failure = f"before wave {index + 1}: {'; '.join(problems)}"
                    self._say(f"FAILED {failure}")
                    self._untouched(plan["waves"][index:])
                    return failure
            self._say(f"wave {index + 1}/{len(plan['waves'])}: restarting {', '.join(wave)}")
            failure, baseline = self.roll_wave(wave, plan_nodes, everyone, baseline)
            if failure:
                self._untouched(plan["waves"][index + 1 :])
                return failure
        if plan["config_server"]:
            return self.roll_config_server(plan["config_server"])
        return None

    def _untouched(self, waves):
        for wave in waves:
            for minion in wave:
                self.rows.append(
                    {"node": minion, "result": "untouched (still pending)", "seconds": None}
                )

    def summary(self):
        width = max([len(row["node"]) for row in self.rows] + [4])
        lines = [f"{'node':<{width}}  {'result':<28}  {'stop-to-Up':>10}  {'step':>7}"]
        for row in self.rows:
            seconds = f"{row['seconds']:.1f}s" if row.get("seconds") is not None else "-"
            up = f"{row['stop_to_up']:.1f}s" if row.get("stop_to_up") is not None else "-"
            lines.append(f"{row['node']:<{width}}  {row['result']:<28}  {up:>10}  {seconds:>7}")
        lines.append(f"total {self.clock() - self.started:.1f}s")
        return "\n".join(lines)


class Restorer:
    """Executes a restore plan; the gates are :py:class:`Roller`'s."""

    def __init__(self, settings, client, progress=None, clock=None, sleep=None):
        self.roller = Roller(settings, client, progress=progress, clock=clock, sleep=sleep)
        self.client = client
        self.report = {"rows_before": None, "rows_restored": None, "rows_after": None}
        self.last_count_failed = False

    def _say(self, text):
        self.roller._say(text)

    def _stop(self, plan):
        """Stop the engines and the config server; the failure message or None."""
        for minion in plan["stop"]:
            self._say(f"stopping {minion} (graceful leave)")
            try:
                stopped = self.client.call(minion, "service.stop", ENGINE_UNIT, _timeout=120)
            except MinionCallError as exc:
                return f"graceful stop of {minion} failed: {exc}"
            if stopped is not True:
                return f"graceful stop of {minion} failed: {stopped}"
        server = plan["config_server"]
        if server:
            self._say(f"stopping config server {server}")
            try:
                stopped = self.client.call(server, "service.stop", CONFIG_SERVER_UNIT, _timeout=120)
            except MinionCallError as exc:
                return f"stop of config server {server} failed: {exc}"
            if stopped is not True:
                return f"stop of config server {server} failed: {stopped}"
        return None

    def _start(self, plan):
        """Start the config server, then the engines in seed order, each gated."""
        server = plan["config_server"]
        if server:
            try:
                self.client.call(server, "service.start", CONFIG_SERVER_UNIT, _timeout=120)
            except MinionCallError as exc:
                return f"start of config server {server} failed: {exc}"
            if not self.roller.wait_listening(server):
                return f"config server {server}: not listening within {self.roller.timeout:.0f} s"
            self._say(f"config server {server} listening")
        started = []
        for group in plan["start_groups"]:
            for minion in group:
                try:
                    self.client.call(minion, "service.start", ENGINE_UNIT, _timeout=60)
                except MinionCallError as exc:
                    return f"start of {minion} failed: {exc}"
                self._say(f"{minion} started")
            started += group
            if not self.roller.wait_ready(group, started, len(started)):
                return (
                    f"{', '.join(group)}: not Up and ready within "
                    f"{self.roller.timeout:.0f} s (layline:rolling:timeout)"
                )
            self._say(f"{', '.join(group)} Up and ready")
        return None

    def _rows(self, database):
        rows = self.client.call(database, "layline_db.journal_rows", _timeout=120)
        self._say(f"journal rows: {'no journal table' if rows is None else rows}")
        return rows

    def run(self, plan):
        """Execute ``plan``; returns None on success or the failure message."""
        database = plan["database"]
        failure = self._stop(plan)
        if failure is None:
            try:
                self.report["rows_before"] = self._rows(database)
            except MinionCallError as exc:
                failure = f"counting the journal rows failed: {exc}"
        if failure:
            # the database is untouched: bring back what was stopped
            again = self._start(plan)
            return failure + (
                "; the services were started again"
                if again is None
                else f"; starting the services again failed too: {again}"
            )
        self._say(f"restoring {plan['file']} on {database}")
        try:
            result = self.client.call(
                database, "layline_db.restore", plan["file"], _timeout=RESTORE_TIMEOUT
            )
        except MinionCallError as exc:
            return (
                f"restore failed: {exc}; the engines and the config server stay stopped "
                "(restore again, or start them with state.apply layline)"
            )
        self.report["rows_restored"] = result.get("journal_rows")
        self._say(
            f"restored in {result.get('seconds')} s, journal rows: {self.report['rows_restored']}"
        )
        failure = self._start(plan)
        if failure:
            return failure
        try:
            self.report["rows_after"] = self._rows(database)
        except MinionCallError as exc:  # restored and running: only the last count is missing
            self.last_count_failed = True
            self._say(f"counting the journal rows after the start failed: {exc}")
        return None

    def summary(self):
        report = self.report

        def show(value):
            return "none (no journal table)" if value is None else str(value)

        after = "unknown" if self.last_count_failed else show(report["rows_after"])
        return (
            f"journal rows: before {show(report['rows_before'])}, restored "
            f"{show(report['rows_restored'])}, after the start {after}"
            f"\ntotal {self.roller.clock() - self.roller.started:.1f}s"
        )


# ---------------------------------------------------------------------------
# live data
# ---------------------------------------------------------------------------


def _marker(value):
    return value if isinstance(value, dict) else None


def _first_view(client, minions):
    for minion in minions:
        try:
            return client.call(minion, "layline.members", _timeout=10)
        except MinionCallError:
            continue
    return None


def _wait_for_joiners(settings, client, minions, wait, clock, sleep, say):
    """
    The pre-check's view; while configured engines are not Up but their unit runs (they
    are joining: an apply still finishing), ask again every 2 s for at most ``wait``
    seconds (``layline:rolling:join_timeout``), saying who it waits for. Returns
    ``(view, problems)``: ``problems`` names the engines whose unit is failed or stopped
    (refused at once, no waiting).
    """
    clock = clock or time.monotonic
    sleep = sleep or time.sleep
    began = clock()
    while True:
        view = _first_view(client, minions)
        problems = layline_plan.precheck(settings, view)
        lagging = layline_plan.not_up_minions(settings, view) if view is not None else []
        only_lagging = problems and all(
            problem.startswith(("not a cluster member:", "not Up:")) for problem in problems
        )
        if not problems or not lagging or not only_lagging:
            return view, []
        answers = client.call_many(lagging, "layline_member.state", _timeout=15)
        units = {
            minion: ((value or {}).get("unit") or {}).get("active") if ok else None
            for minion, (ok, value) in answers.items()
        }
        joining, dead = layline_plan.joining_split(units)
        if dead and wait:
            # a minion whose apply still runs may not have started its engine yet (salt
            # returned before it did, or the master is busy): wait for it too
            stopped = [minion for minion in units if minion not in joining]
            running = client.call_many(stopped, "saltutil.running", _timeout=15)
            joining, dead = layline_plan.joining_split(
                units, layline_plan.applying_minions(running)
            )
        if dead:
            return view, [layline_plan.dead_problem(dead)]
        waited = clock() - began
        if waited >= wait:
            if wait:
                say(
                    f"{', '.join(joining)} still not Up after {wait} s "
                    "(layline:rolling:join_timeout)"
                )
            return view, []
        say(
            f"waiting for {', '.join(joining)} to join (unit or apply running, not Up yet): "
            f"{waited:.0f}s of layline:rolling:join_timeout {wait} s"
        )
        sleep(2.0)


def _gather(settings, client, wait=0, clock=None, sleep=None, say=None):
    """Ask the minions, one call each: ``(view, markers, ready, config_server_marker,
    stop_timeouts, problems)``. The view comes from the first engine that answers
    ``layline.members`` (after waiting up to ``wait`` seconds for joining engines);
    everything else from ``layline_member.state`` (one publish to every engine and the
    config server)."""
    minions = [node["minion"] for node in layline_plan.engine_nodes(settings)]
    view, problems = _wait_for_joiners(
        settings, client, minions, wait, clock, sleep, say or (lambda text: None)
    )
    if problems or layline_plan.precheck(settings, view):
        # refused anyway: answer at once instead of waiting for nodes that may be cut off
        return view, {}, {}, None, {}, problems, []
    server = layline_model.section(settings, "config_server").get("minion")
    asked = minions + ([server] if server and server not in minions else [])
    states = client.call_many(asked, "layline_member.state", _timeout=15) if asked else {}
    markers, ready, stop_timeouts, done = {}, {}, {}, []
    for minion in minions:
        ok, value = states[minion]
        if not ok or not isinstance(value, dict):
            markers[minion] = {"error": f"cannot read the restart markers of {minion}: {value}"}
            ready[minion] = False
            stop_timeouts[minion] = None
            continue
        marker = _marker((value.get("pending") or {}).get(ENGINE_UNIT))
        if layline_gate.marker_done(marker, (value.get("unit") or {}).get("started_at")):
            # restarted by hand after the change (and no release to switch): done
            done.append(minion)
            marker = None
        markers[minion] = marker
        ready[minion] = value.get("ready") is True
        stop_timeouts[minion] = (value.get("unit") or {}).get("stop_timeout")
    server_marker = None
    if server:
        ok, value = states[server]
        if ok and isinstance(value, dict):
            server_marker = _marker((value.get("pending") or {}).get(CONFIG_SERVER_UNIT))
    return view, markers, ready, server_marker, stop_timeouts, [], done


def _settings(settings, required=layline_plan.REQUIRED_KEYS):
    """The orchestration's settings (layline/orch/settings.jinja, the master's pillar),
    validated; never a minion's answer (a minion must not name the others)."""
    if settings is None:
        raise SaltInvocationError(
            "pass settings: salt-run state.orch layline.rolling (or layline.orch.restore, "
            "layline.orch.deploy) builds them from the master's pillar"
        )
    return layline_plan.settings_of(settings, required)


def _rolling_overrides(settings, overrides):
    for key in ("all", "max_unavailable", "timeout", "poll_interval", "join_timeout", "on_failure"):
        if overrides.get(key) is not None:
            settings["rolling"][key] = overrides[key]
    # an override is checked like the pillar's value
    return layline_plan.settings_of(settings)


def _progress(text):
    """
    A progress line: an event ``salt/run/<jid>/progress``, which ``salt-run
    layline.rolling`` prints itself; inside ``state.orch`` (where the runner
    runs in the salt-run process but its events are not printed) also stderr.
    """
    log.info("%s", text)
    try:
        event = __jid_event__
    except NameError:
        event = None
    if event is not None:
        event.fire_event({"message": text}, "progress")
        if getattr(event, "print_func", None) is not None:
            return
    if not __opts__.get("quiet"):
        # stderr: the terminal shows it live, stdout stays the outputter's (e.g. --out=json)
        print(text, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# public runner functions
# ---------------------------------------------------------------------------


def plan(settings=None, **overrides):
    """
    Return the rolling restart's plan without changing anything (what
    ``salt-run state.orch layline.rolling test=True`` prints).

    settings
        the non-secret formula settings (cluster, ports, config_server, home,
        rolling) of the master's pillar; ``layline/orch/settings.jinja`` builds them
    all, max_unavailable, timeout, poll_interval
        override ``layline:rolling:*``

    CLI Example:

    .. code-block:: bash

        salt-run state.orch layline.rolling test=True
        salt-run layline.plan settings='{"cluster": {"nodes": [...]}, "ports": {...}}'
    """
    settings = _rolling_overrides(_settings(settings), overrides)
    client = SaltClient(__opts__)
    try:
        return layline_plan.build_plan(settings, *_gather(settings, client))
    finally:
        client.close()


def rolling(settings=None, **overrides):
    """
    Restart the engines (and the config server) whose restart is pending, in
    waves that keep the cluster's decision, each gated on health; stop at the
    first node that is not back in time. Sets a non-zero retcode and returns
    ``{"result": False, "comment": ...}`` when refused or failed.

    CLI Example:

    .. code-block:: bash

        salt-run state.orch layline.rolling
        salt-run state.orch layline.rolling \\
            pillar='{"layline": {"rolling": {"max_unavailable": 2}}}'
    """
    settings = _rolling_overrides(_settings(settings), overrides)
    client = SaltClient(__opts__)
    try:
        return _roll(settings, client)
    finally:
        client.close()


def _roll(settings, client):
    """The body of :py:func:`rolling` with its ``client``."""
    gathered = _gather(
        settings,
        client,
        wait=settings["rolling"]["join_timeout"],
        clock=_CLOCK,
        sleep=_SLEEP,
        say=_progress,
    )
    the_plan = layline_plan.build_plan(settings, *gathered)
    _progress(the_plan["text"])
    if the_plan["refused"]:
        __context__["retcode"] = 1
        return {"result": False, "comment": the_plan["text"], "plan": the_plan}
    if the_plan["done"]:
        cleared = client.call_many(the_plan["done"], "layline.clear_pending", ENGINE_UNIT)
        for minion, (ok, value) in sorted(cleared.items()):
            if not ok:
                _progress(f"{minion}: its restart marker was not cleared: {value}")
    if not the_plan["waves"] and not the_plan["config_server"]:
        return {"result": True, "comment": the_plan["text"], "plan": the_plan}
    roller = Roller(settings, client, progress=_progress, clock=_CLOCK, sleep=_SLEEP)
    failure = roller.run(the_plan, view=gathered[0])
    summary = roller.summary()
    _progress(summary)
    if failure:
        __context__["retcode"] = 1
        return {
            "result": False,
            "comment": f"rolling restart FAILED at {failure}\n{summary}",
            "plan": the_plan,
        }
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%H:%M:%SZ")
    return {
        "result": True,
        "comment": f"rolling restart done at {stamp}\n{summary}",
        "plan": the_plan,
    }


def deploy(settings=None):
    """
    Return the first deployment's ordered steps (see :py:func:`deploy_steps`);
    ``layline.orch.deploy`` renders them.

    CLI Example:

    .. code-block:: bash

        salt-run state.orchestrate_show_sls layline.orch.deploy
        salt-run layline.deploy settings='{"cluster": {"nodes": [...]}}'
    """
    return layline_plan.deploy_steps(_settings(settings, required=("cluster",)))


def _restore_inputs(file, settings):
    settings = _settings(settings)
    client = SaltClient(__opts__)
    database = layline_model.section(settings, "database").get("minion")
    backup = None
    if file and database and layline_model.section(settings, "database").get("backend") == "mysql":
        try:
            backup = client.call(database, "layline_db.check_backup", file, _timeout=600)
        except MinionCallError as exc:
            backup = str(exc)
    return settings, client, layline_plan.restore_plan(settings, file, backup)


def restore_check(file=None, settings=None):
    """
    Return the restore's plan without changing anything (what ``salt-run state.orch
    layline.orch.restore test=True`` prints): the database minion checks the file
    (``layline_db.check_backup``).

    CLI Example:

    .. code-block:: bash

        salt-run state.orch layline.orch.restore test=True \\
            pillar='{"layline": {"restore": {"file": "layline-20260101T020000Z.sql.gz"}}}'
    """
    _checked, client, the_plan = _restore_inputs(file, settings)
    client.close()
    return the_plan


def restore(file=None, settings=None, test=False):
    """
    Restore backup ``file`` (a name from ``salt <database minion> layline_db.backups``)
    as one operation: stop the engines gracefully and the config server, count the
    journal rows, restore the database (``layline_db.restore`` on the database minion),
    start the config server and the engines in seed order, each gated on readiness,
    and report the journal rows before and after. Refused, changing nothing, without a
    file or when the database minion cannot restore it. ``test=True`` returns the plan.
    Sets a non-zero retcode and returns ``{"result": False, "comment": ...}`` when
    refused or failed.

    CLI Example:

    .. code-block:: bash

        salt-run state.orch layline.orch.restore \\
            pillar='{"layline": {"restore": {"file": "layline-20260101T020000Z.sql.gz"}}}'
    """
    settings, client, the_plan = _restore_inputs(file, settings)
    try:
        return _restore(settings, client, the_plan, test)
    finally:
        client.close()


def _restore(settings, client, the_plan, test):
    """The body of :py:func:`restore` with its ``client`` and checked plan."""
    _progress(the_plan["text"])
    if the_plan["refused"]:
        __context__["retcode"] = 1
        return {"result": False, "comment": the_plan["text"], "plan": the_plan}
    if test:
        return {"result": None, "comment": the_plan["text"], "plan": the_plan}
    restorer = Restorer(settings, client, progress=_progress, clock=_CLOCK, sleep=_SLEEP)
    failure = restorer.run(the_plan)
    summary = restorer.summary()
    _progress(summary)
    result = {"plan": the_plan, **restorer.report}
    if failure:
        __context__["retcode"] = 1
        return {"result": False, "comment": f"restore FAILED: {failure}\n{summary}", **result}
    return {"result": True, "comment": f"restored {the_plan['file']}\n{summary}", **result}
