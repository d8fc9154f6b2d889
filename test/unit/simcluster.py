"""
A simulated layline cluster over virtual time for the rolling restart's unit tests.

Each engine is a :py:class:`Member` with its own state: the systemd unit (active,
inactive, failed), its Pekko status as the cluster lists it (Joining, Up, Leaving,
Exiting, or None once removed), its ``/ready``, whether its management endpoint answers,
whether its peers list it as unreachable, its release. A graceful stop walks the member
through Leaving -> Exiting -> removed while the unit stops; a start walks it through
(not listed) -> Joining -> Up -> ready. Knobs per member make it never leave, never come
Up, never become ready, fail its start, or crash on a release; :py:meth:`SimCluster.at`
schedules a change at a virtual time (e.g. a peer that drops out during a wave).

The REAL ``_modules/layline_member.py`` runs against it: :py:meth:`SimCluster.salt_for`
is a minion's ``__salt__``; :py:class:`SimClient` is the runner's client (its ``publish``
runs ``layline_member.restart`` on each minion of a wave, one after the other).
"""

import unitsupport
from salt.exceptions import CommandExecutionError

ENGINE = "layline-reactive-engine"
SERVER = "layline-config-server"
DOMAIN = ".example.com"


def address(minion):
    return f"pekko://layline@{minion}{DOMAIN}:5843"


class Clock:
    def __init__(self):
        self.now = 0.0
        self.cluster = None

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.advance(max(float(seconds), 0.01))

    def advance(self, seconds):
        self.now += seconds
        if self.cluster is not None:
            self.cluster.tick()


class Member:
    def __init__(self, minion, release="2.5.4"):
        self.minion = minion
        self.unit = "active"
        self.status = "Up"
        self.ready = True
        self.answers = True
        self.unreachable = False
        self.release = release
        self.installed = {release}
        self.started_at = 1000.0
        self.starts = 0
        self.stops = 0
        # knobs
        self.never_leaves = False
        self.never_up = False
        self.never_ready = False
        self.start_fails = False
        self.bad_releases = set()
        # virtual time until which a state job (an apply) runs on the minion
        self.applying_until = None


class SimCluster:
    """Engines ``n1..nN`` (``n1`` the oldest) and the config server ``cfg``."""

    def __init__(self, count=3, markers=None, stop_timeout="1min 30s", **timing):
        self.clock = Clock()
        self.clock.cluster = self
        self.members = {f"n{i}": Member(f"n{i}") for i in range(1, count + 1)}
        self.markers = {minion: dict(marker) for minion, marker in (markers or {}).items()}
        self.stop_timeout = stop_timeout
        # seconds after a stop / a start (virtual time)
        self.stop_seconds = timing.get("stop_seconds", 2.0)  # systemctl stop returns
        self.exiting_after = timing.get("exiting_after", 1.0)
        self.removed_after = timing.get("removed_after", 3.0)  # peers no longer list it
        self.joining_after = timing.get("joining_after", 2.0)
        self.up_after = timing.get("up_after", 4.0)
        self.ready_after = timing.get("ready_after", 5.0)
        self.crash_after = 3.0
        self.pending_changes = []  # (time, function)
        self.calls = []  # (minion, function, args)
        self.events = []  # (tag, data)
        self.switch_fails = set()
        self.clear_fails = set()  # minions whose marker cannot be removed
        self.up_views = []  # (time, Up count) seen at every view
        self.server_restarts = 0

    # -- time
    def at(self, time, change):
        self.pending_changes.append((time, change))

    def tick(self):
        due = [item for item in self.pending_changes if item[0] <= self.clock.now]
        self.pending_changes = [item for item in self.pending_changes if item[0] > self.clock.now]
        for _time, change in sorted(due, key=lambda item: item[0]):
            change()

    def _later(self, seconds, change):
        self.at(self.clock.now + seconds, change)

    # -- the cluster's view
    def view(self):
        listed = [m for m in self.members.values() if m.status is not None]
        up = [m for m in listed if m.status == "Up"]
        self.up_views.append((self.clock.now, sum(1 for m in up if not m.unreachable)))
        return {
            "members": [{"node": address(m.minion), "status": m.status} for m in listed],
            "unreachable": [
                {"node": address(m.minion), "observedBy": []} for m in listed if m.unreachable
            ],
            "leader": address(up[0].minion) if up else None,
            "oldest": address(up[0].minion) if up else None,
        }

    def _member_at(self, host):
        minion = str(host).removesuffix(DOMAIN)
        if minion not in self.members:
            raise CommandExecutionError(f"cannot resolve {host}")
        return self.members[minion]

    def _answers(self, member):
        return member.answers and member.unit == "active" and member.status is not None

    # -- systemd and Pekko
    def _stop(self, member):
        member.stops += 1
        member.ready = False
        if member.status is not None:
            member.status = "Leaving"
            if not member.never_leaves:
                self._later(self.exiting_after, lambda: setattr(member, "status", "Exiting"))
                self._later(self.removed_after, lambda: setattr(member, "status", None))
        self.clock.advance(self.stop_seconds)
        member.unit = "inactive"

    def _start(self, member):
        if member.start_fails:
            member.unit = "failed"
            return False
        member.starts += 1
        member.unit = "active"
        member.started_at = 1000.0 + self.clock.now
        incarnation = member.starts
        if member.release in member.bad_releases:

            def crash():
                if member.starts == incarnation:
                    member.unit = "failed"

            self._later(self.crash_after, crash)
            return True

        def status(value):
            def change():
                if member.starts == incarnation and member.unit == "active":
                    member.status = value

            return change

        def ready():
            # its own view: Up (a peer may still list it as Joining until up_after)
            if member.starts == incarnation and member.unit == "active":
                member.ready = True

        self._later(self.joining_after, status("Joining"))
        if not member.never_up:
            self._later(self.up_after, status("Up"))
            if not member.never_ready:
                self._later(self.ready_after, ready)
        return True

    # -- a minion's __salt__
    def salt_for(self, minion):
        cluster = self
        member = self.members.get(minion)

        def record(name, *args):
            cluster.calls.append((minion, name, args))
            cluster.clock.advance(0.02)

        def members(host=None, port=None, timeout=5):
            record("layline.members", host)
            target = member if host is None else cluster._member_at(host)
            if not cluster._answers(target):
                raise CommandExecutionError(f"cannot read http://{host}:{port}/cluster/members")
            return cluster.view()

        def ready(host=None, port=None, timeout=5):
            record("layline.ready", host)
            target = member if host is None else cluster._member_at(host)
            return cluster._answers(target) and target.ready

        def stop(unit):
            record("service.stop", unit)
            if unit == ENGINE:
                cluster._stop(member)
            return True

        def start(unit):
            record("service.start", unit)
            return cluster._start(member) if unit == ENGINE else True

        def status(unit):
            return member is not None and member.unit == "active"

        def show(unit):
            return {
                "ActiveState": member.unit if member else "inactive",
                "SubState": "running" if member and member.unit == "active" else "dead",
                "Result": "success",
                "TimeoutStopUSec": cluster.stop_timeout,
            }

        def cmd_run(cmd, **kwargs):
            return f"@{member.started_at:.0f}" if member else ""

        def pending():
            record("layline.pending")
            marker = cluster.markers.get(minion)
            unit = SERVER if minion == "cfg" else ENGINE
            return {unit: dict(marker)} if marker else {}

        def clear_pending(unit):
            record("layline.clear_pending", unit)
            if minion in cluster.clear_fails:
                raise CommandExecutionError("disk full")
            return cluster.markers.pop(minion, None) is not None

        def switch(version, restart_config_server=False, **kwargs):
            record("layline_release.switch", version)
            if minion in cluster.switch_fails or version not in member.installed:
                raise CommandExecutionError(f"release {version} is not installed on this node")
            previous, member.release = member.release, version
            return {"previous": previous, "active": version, "changed": previous != version}

        def running():
            record("saltutil.running")
            until = member.applying_until if member else None
            applying = until is not None and cluster.clock.now < until
            return [{"fun": "state.apply", "jid": "20261203170000000000"}] if applying else []

        def send(tag, data=None, **kwargs):
            cluster.events.append((tag, dict(data or {})))
            return True

        return {
            "layline.members": members,
            "layline.ready": ready,
            "layline.pending": pending,
            "layline.clear_pending": clear_pending,
            "layline_release.switch": switch,
            "service.stop": stop,
            "service.start": start,
            "service.status": status,
            "service.show": show,
            "cmd.run": cmd_run,
            "event.send": send,
            "saltutil.running": running,
        }


def load_member(cluster):
    """The real ``_modules/layline_member.py`` on the simulated clock; its log tail is a
    marker string (``test_layline_member.py`` tests the real reading)."""
    mod = unitsupport.load_file("_modules/layline_member.py", "layline_member_under_test")
    mod._CLOCK = cluster.clock
    mod._SLEEP = cluster.clock.sleep
    mod._read_tail = lambda home, lines, max_bytes: f"last log lines of {mod.__opts__['id']}"
    return mod


def on_minion(mod, cluster, minion):
    """Point the module's loader dunders at ``minion``; returns its ``__context__``."""
    mod.__opts__ = {"id": minion}
    mod.__salt__ = cluster.salt_for(minion)
    mod.__context__ = {}
    return mod.__context__


class SimClient(unitsupport.FakeMinionCalls):
    """The runner's client over a :py:class:`SimCluster`, with the real member module."""

    def __init__(self, cluster, minion_error):
        self.cluster = cluster
        self.member = load_member(cluster)
        self.minion_error = minion_error
        self.publishes = []
        self.asked = []  # (minion, function) of every call the runner made itself

    def _one(self, minion, fun, args, kwargs):
        cluster = self.cluster
        self.asked.append((minion, fun))
        if fun == "layline_member.state":
            on_minion(self.member, cluster, minion)
            if minion == "cfg":
                return True, {"pending": cluster.salt_for("cfg")["layline.pending"]()}
            return True, self.member.state()
        if minion == "cfg":
            cluster.calls.append((minion, fun, args))
            if fun == "service.restart":
                cluster.server_restarts += 1
                return True, True
            if fun == "layline.bind_address":
                return True, "10.0.0.9"
            if fun == "network.connect":
                return True, {"result": True}
            if fun == "layline.clear_pending":
                return True, cluster.markers.pop(minion, None) is not None
            if fun in ("service.stop", "layline_release.switch"):
                return True, True
            return False, f"unexpected {fun} on cfg"
        salt = cluster.salt_for(minion)
        if fun not in salt:
            return False, f"unexpected {fun}"
        try:
            return True, salt[fun](*args, **kwargs)
        except CommandExecutionError as exc:
            return False, str(exc)

    def publish(self, minions, fun, kwarg, timeout, on_event=None):
        assert fun == "layline_member.restart"
        self.publishes.append((list(minions), dict(kwarg)))
        returns = {}
        for minion in minions:
            seen = len(self.cluster.events)
            on_minion(self.member, self.cluster, minion)
            returns[minion] = self.member.restart(**kwarg)
            for tag, data in self.cluster.events[seen:]:
                if on_event is not None:
                    on_event(tag, data)
        return returns
