"""
Execution module ``layline_member``: one engine node's whole step of the rolling restart,
in one call on the node's minion.

``salt-run state.orch layline.rolling`` plans on the master and publishes
:py:func:`restart` to every node of a wave at once; each node then stops its engine
gracefully, waits until its peers no longer list it, switches the release when its restart
marker says so, starts the engine and waits for its gate (Up in a peer's view, its own
``/ready``, the member count back), and returns the timings of every phase (the log tail
too when it failed). :py:func:`state` is the runner's one question per node before the
plan (marker, ``/ready``, the unit's state and stop timeout, its start time).

It calls the ``layline`` and ``layline_release`` execution modules in-process
(``__salt__``); the pure logic is ``_utils/layline_gate.py``.

Functions: ``restart``, ``state``, ``log_tail``.
"""

import errno
import logging
import os
import stat
import time

from salt.exceptions import CommandExecutionError

import layline_gate
import layline_schema
import layline_sync

# a re-sync in this process takes effect (see layline_sync)
layline_sync.refresh(layline_schema, layline_gate)
# the utils this module was written for: an older synced copy counts as not synced
UTILS_API = 6

log = logging.getLogger(__name__)

__virtualname__ = "layline_member"

LOG_RELATIVE = (".layline", "reactive-engine", "log", "reactive-engine.log")
LOG_TAIL_LINES = 30
# the clock (the unit tests replace them)
_CLOCK = time.monotonic
_SLEEP = time.sleep
_WALL = time.time


def __virtual__():
    problem = layline_sync.out_of_date(layline_schema, UTILS_API)
    if problem:
        return False, problem
    return __virtualname__


# --------------------------------------------------------------------------- helpers


def _fire(minion, phase, data):
    """A progress event ``layline/rolling/<minion>/<phase>`` on the master's bus."""
    try:
        __salt__["event.send"](f"layline/rolling/{minion}/{phase}", data)
    except Exception as exc:  # noqa: BLE001 - progress must never fail the step
        log.debug("layline_member: event %s not sent: %s", phase, exc)


def _peer_view(peers, timeout):
    """``(view, url)`` of the first peer that answers ``/cluster/members``, else (None, None)."""
    for url in peers:
        host, port = layline_gate.management_endpoint(url)
        try:
            view = __salt__["layline.members"](host=host, port=port, timeout=timeout)
        except CommandExecutionError:
            continue
        if isinstance(view, dict):
            return view, url
    return None, None


def _own_ready(url, timeout):
    host, port = layline_gate.management_endpoint(url)
    try:
        return __salt__["layline.ready"](host=host, port=port, timeout=timeout) is True
    except CommandExecutionError:
        return False


def _unit_active():
    try:
        return bool(__salt__["service.status"](layline_schema.ENGINE_UNIT))
    except CommandExecutionError:
        return False


def _open_nofollow(home):
    """The log file's descriptor, opened component by component below ``home`` without
    following a symlink (the service user owns everything below home)."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(home, flags | os.O_DIRECTORY)
    try:
        for name in LOG_RELATIVE[:-1]:
            child = os.open(name, flags | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = child
        # O_NONBLOCK: opening a FIFO must not block (it is refused below)
        return os.open(LOG_RELATIVE[-1], flags | os.O_NONBLOCK, dir_fd=fd)
    finally:
        os.close(fd)


def _read_tail(home, lines, max_bytes):
    path = os.path.join(home, *LOG_RELATIVE)
    try:
        fd = _open_nofollow(home)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return f"(not read: a symlink on the way to {path})"
        return f"(cannot read {path}: {exc.strerror})"
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return f"(not read: {path} is not a regular file)"
        if info.st_nlink != 1:
            return f"(not read: {path} has {info.st_nlink} hard links)"
        start = max(0, info.st_size - max_bytes)
        os.lseek(fd, start, os.SEEK_SET)
        data = os.read(fd, max_bytes)
    finally:
        os.close(fd)
    return layline_gate.tail_lines(data, lines)


def _result(minion, phase, ok, comment, timings, t0, **extra):
    ret = {
        "minion": minion,
        "result": ok,
        "phase": phase,
        "comment": comment,
        "timings": {name: round(seconds - t0, 2) for name, seconds in timings.items()},
    }
    ret.update(extra)
    return ret


# --------------------------------------------------------------------------- public


def log_tail(home="/var/lib/layline", lines=LOG_TAIL_LINES, max_bytes=64 * 1024):
    """
    Return the last ``lines`` lines of the engine's log
    ``<home>/.layline/reactive-engine/log/reactive-engine.log``, reading at most
    ``max_bytes`` from its end. The service user owns that path: every component is
    opened without following symlinks (``O_NOFOLLOW``), a FIFO, a device or a file with
    several hard links is refused (the return says so), nothing runs through a shell.

    CLI Example:

    .. code-block:: bash

        salt ll-node-1 layline_member.log_tail
        salt ll-node-1 layline_member.log_tail lines=100
    """
    lines = int(lines)
    max_bytes = int(max_bytes)
    if lines < 0 or not 0 < max_bytes <= 1024 * 1024:
        raise CommandExecutionError("lines must be >= 0 and max_bytes between 1 and 1048576")
    return _read_tail(str(home), lines, max_bytes)


def state():
    """
    Return what the rolling restart's plan needs from this node, in one answer:
    ``{"pending": {unit: marker}, "ready": bool or None, "unit": {"active", "sub",
    "result", "stop_timeout", "started_at"}}`` (``started_at``: the engine unit's
    ``ActiveEnterTimestamp`` in seconds since the epoch, None when it never started).
    ``ready`` is None on a minion that is no engine node.

    CLI Example:

    .. code-block:: bash

        salt 'll-node-*' layline_member.state
    """
    pending = __salt__["layline.pending"]()
    try:
        ready = __salt__["layline.ready"]() is True
    except CommandExecutionError:
        ready = None
    show = __salt__["service.show"](layline_schema.ENGINE_UNIT) or {}
    stamp = __salt__["cmd.run"](
        [
            "systemctl",
            "show",
            "-P",
            "ActiveEnterTimestamp",
            "--timestamp=unix",
            layline_schema.ENGINE_UNIT,
        ],
        python_shell=False,
        ignore_retcode=True,
    )
    stamp = str(stamp or "").strip().lstrip("@")
    return {
        "pending": pending,
        "ready": ready,
        "unit": {
            "active": show.get("ActiveState"),
            "sub": show.get("SubState"),
            "result": show.get("Result"),
            "stop_timeout": show.get("TimeoutStopUSec"),
            "started_at": float(stamp) if stamp.replace(".", "", 1).isdigit() else None,
        },
    }


def restart(
    nodes,
    wave=None,
    expected=None,
    home="/var/lib/layline",
    timeout=300,
    poll_interval=0.5,
    on_failure="stop",
    clear_marker=False,
):
    """
    Restart this node's engine as one step of the rolling restart and return how it went;
    the runner ``layline.rolling`` publishes it to the nodes of a wave at once.

    1. graceful stop (``systemctl stop``: SIGTERM, Pekko's coordinated shutdown, at most
       the unit's stop timeout);
    2. wait until the peers (the engines not in ``wave``) no longer list this node;
    3. when this node's restart marker names a version, ``layline_release.switch`` to it;
    4. start;
    5. the gate, for two polls in a row: this node Up in a peer's ``/cluster/members``,
       its own ``/ready`` 200, at least ``expected`` members Up;
    6. with ``clear_marker``, once the gate held: its restart marker removed
       (``layline.clear_pending``; the runner saves a round trip per wave).

    nodes
        every configured engine: ``[{"minion", "address" (pekko://...), "url"
        (its management URL http://host:port)}]``, from the master's pillar
    wave
        the minions restarting together with this one (default: this one)
    expected
        the number of Up members before the wave (default: all of ``nodes``)
    home
        the service user's home (the engine log lies below it)
    timeout
        seconds for the leave and for the gate each (``layline:rolling:timeout``)
    poll_interval
        seconds between polls
    on_failure
        ``rollback``: a node that fails its gate after a release switch is switched back
        to the release it ran and started again; ``stop``: it is left as it is
    clear_marker
        remove the engine's restart marker after the gate held (a failed step keeps it)

    Returns ``{"minion", "result", "phase", "comment", "timings": {phase: seconds after
    the call began}, "versions": {"from", "to"}, "view", "log_tail"}`` (and
    ``marker_cleared``: True, False when there was none, or why not); ``phase`` is
    ``done`` or the phase that failed (``stop``, ``leave``, ``switch``, ``start``,
    ``gate``). Sets a non-zero retcode when it failed.

    CLI Example:

    .. code-block:: bash

        salt ll-node-3 layline_member.restart \
            nodes='[{"minion": "ll-node-3", "address": "pekko://layline@n3.example.com:5843",
                     "url": "http://n3.example.com:8558"}, ...]'
    """
    me = __opts__["id"]
    by_minion = {node.get("minion"): node for node in nodes or [] if isinstance(node, dict)}
    if me not in by_minion:
        raise CommandExecutionError(f"{me} is not among the nodes passed by the runner")
    if on_failure not in layline_schema.ON_FAILURE:
        raise CommandExecutionError(
            f"layline:rolling:on_failure must be one of {', '.join(layline_schema.ON_FAILURE)}"
        )
    wave = set(wave or [me]) | {me}
    own = by_minion[me]
    address = own["address"]
    peers = [node["url"] for node in by_minion.values() if node.get("minion") not in wave]
    expected = len(by_minion) if expected is None else int(expected)
    timeout = float(timeout)
    interval = min(float(poll_interval), 0.5)
    http_timeout = max(1.0, min(5.0, interval * 4))
    t0 = _CLOCK()
    timings = {}
    done = {}

    def finish(phase, ok, comment, **extra):
        if not ok:
            __context__["retcode"] = 1
            extra.setdefault("log_tail", _read_tail(str(home), LOG_TAIL_LINES, 64 * 1024))
            _fire(me, "failed", {"phase": phase, "comment": comment})
        extra.setdefault("view", None)
        extra.setdefault("versions", done.get("versions"))
        return _result(me, phase, ok, comment, timings, t0, **extra)

    def mark(phase, **data):
        timings[phase] = _CLOCK()
        _fire(me, phase, {"seconds": round(timings[phase] - t0, 2), **data})

    def failed_after_start(phase, comment, view=None):
        """A node that did not come back: on a new release with ``on_failure: rollback``,
        switch back to the release it ran and start it again (its log tail first)."""
        versions = done.get("versions")
        tail = _read_tail(str(home), LOG_TAIL_LINES, 64 * 1024)
        if on_failure != "rollback" or not versions or not versions.get("from"):
            return finish(phase, False, comment, view=view, log_tail=tail)
        __salt__["service.stop"](layline_schema.ENGINE_UNIT)
        try:
            back = __salt__["layline_release.switch"](version=versions["from"])
        except CommandExecutionError as exc:
            return finish(
                phase,
                False,
                f"{comment} on release {versions['to']}; rollback to {versions['from']} "
                f"failed: {exc}",
                rolled_back=False,
                view=view,
                log_tail=tail,
            )
        again = __salt__["service.start"](layline_schema.ENGINE_UNIT)
        _fire(me, "rolled_back", {"from": versions["to"], "to": back.get("active")})
        if again is True:
            back_ok, back_missing, back_view = gate(marks=False)
            view = back_view or view
            if back_ok:
                outcome = "started: Up and ready again"
            else:
                outcome = "started but not back: " + (
                    "; ".join(detail for _condition, detail in back_missing)
                    or f"{layline_schema.ENGINE_UNIT} is no longer active"
                )
        else:
            outcome = f"not started: {again}"
        return finish(
            phase,
            False,
            f"{comment} on release {versions['to']}; rolled back to release "
            f"{back.get('active')} and {outcome}",
            rolled_back=True,
            view=view,
            log_tail=tail,
        )

    def gate(marks=True):
        """Poll until the gate held ``GATE_POLLS`` polls in a row: ``(True, [], view)``;
        ``(False, missing, view)`` at the timeout; ``(None, ...)`` when the unit died."""
        deadline = _CLOCK() + timeout
        passed = 0
        while True:
            view, _url = _peer_view(peers or [own["url"]], http_timeout)
            ready = _own_ready(own["url"], http_timeout)
            missing = layline_gate.gate_missing(view, address, ready, expected)
            held = {condition for condition, _detail in missing}
            if marks and layline_gate.UP_IN_PEER_VIEW not in held and "up" not in timings:
                mark("up")
            if marks and not held and "ready" not in timings:
                mark("ready")
            passed = 0 if missing else passed + 1
            if passed >= layline_gate.GATE_POLLS:
                return True, [], view
            if not _unit_active():
                return None, missing, view
            if _CLOCK() >= deadline:
                return False, missing, view
            _SLEEP(interval)

    # 1. graceful stop
    try:
        stopped = __salt__["service.stop"](layline_schema.ENGINE_UNIT)
    except CommandExecutionError as exc:
        stopped = str(exc)
    if stopped is not True:
        return finish(
            "stop", False, f"graceful stop of {layline_schema.ENGINE_UNIT} failed: {stopped}"
        )
    mark("stopped")

    # 2. the leave: no peer lists this node any more
    if peers:
        deadline = _CLOCK() + timeout
        last = "no peer answered /cluster/members"
        while True:
            view, url = _peer_view(peers, http_timeout)
            if layline_gate.has_left(view, address):
                break
            if view is not None:
                last = f"{url} still lists it as {layline_gate.status_of(view, address)}"
            if _CLOCK() >= deadline:
                return finish(
                    "leave",
                    False,
                    f"not gone {timeout:.0f} s after its stop (layline:rolling:timeout): {last}",
                )
            _SLEEP(interval)
    mark("left")

    # 3. the release switch the marker asks for
    marker = (__salt__["layline.pending"]() or {}).get(layline_schema.ENGINE_UNIT) or {}
    target = marker.get("version") if isinstance(marker, dict) else None
    if target:
        try:
            switched = __salt__["layline_release.switch"](
                version=target, restart_config_server=True
            )
        except CommandExecutionError as exc:
            switched = {"error": str(exc)}
        if not isinstance(switched, dict) or "active" not in switched:
            # the switch changes nothing when it refuses: start the release it ran
            again = __salt__["service.start"](layline_schema.ENGINE_UNIT)
            return finish(
                "switch",
                False,
                f"switch to release {target} failed: "
                f"{(switched or {}).get('error', switched)}; started again on the release "
                f"it ran ({'started' if again is True else f'start failed too: {again}'})",
            )
        done["versions"] = {"from": switched.get("previous"), "to": switched.get("active")}
        mark("switched", **done["versions"])

    # 4. start
    try:
        started = __salt__["service.start"](layline_schema.ENGINE_UNIT)
    except CommandExecutionError as exc:
        started = str(exc)
    if started is not True:
        return failed_after_start(
            "start", f"start of {layline_schema.ENGINE_UNIT} failed: {started}"
        )
    mark("started")

    # 5. the gate
    ok, missing, view = gate()
    if ok is None:
        return failed_after_start("start", f"{layline_schema.ENGINE_UNIT} is no longer active")
    if not ok:
        details = "; ".join(detail for _condition, detail in missing)
        return failed_after_start(
            "gate",
            f"not back {timeout:.0f} s after its start (layline:rolling:timeout): {details}",
            view=view,
        )
    mark("done")
    if not clear_marker:
        return finish("done", True, "restarted", view=view)
    try:
        cleared = __salt__["layline.clear_pending"](layline_schema.ENGINE_UNIT)
    except CommandExecutionError as exc:
        cleared = str(exc)
    return finish("done", True, "restarted", view=view, marker_cleared=cleared)
