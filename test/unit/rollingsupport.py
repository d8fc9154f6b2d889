"""Helpers for the unit tests of _runners/layline.py: the module, settings, a fake cluster."""

import importlib.util
import pathlib

import unitsupport

import layline_plan

ROOT = pathlib.Path(__file__).resolve().parents[2]


def load_runner():
    spec = importlib.util.spec_from_file_location(
        "layline_runner", ROOT / "_runners" / "layline.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


runner = load_runner()


def settings(count=3, strategy="keep-majority", quorum_size=None, min_nr=1, **rolling):
    nodes = [{"minion": f"n{i}", "hostname": f"n{i}.example.com"} for i in range(1, count + 1)]
    config = {
        "cluster": {
            "nodes": nodes,
            "min_nr_of_members": min_nr,
            "split_brain_resolver": {"strategy": strategy, "quorum_size": quorum_size},
        },
        "ports": {"cluster": 5843, "management": 8558, "config_server": 5841},
        "config_server": {"minion": "cfg", "hostname": "cfg.example.com"},
        "home": "/var/lib/layline",
        "rolling": rolling,
    }
    return layline_plan.settings_of(config)


def address(minion):
    return f"pekko://layline@{minion}.example.com:5843"


def view(minions, oldest=None, status=None, unreachable=(), leader=True, extra=()):
    status = status or {}
    members = [{"node": address(m), "status": status.get(m, "Up")} for m in minions]
    members += [{"node": a, "status": "Up"} for a in extra]
    return {
        "members": members,
        "unreachable": [{"node": address(m), "observedBy": []} for m in unreachable],
        "leader": address(minions[0]) if leader and minions else None,
        "oldest": address(oldest or minions[0]) if minions else None,
    }


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += max(seconds, 0.01)


class FakeCluster(unitsupport.FakeMinionCalls):
    """Engines on minions n1..nN; records every call; ``broken`` engines never come back."""

    minion_error = runner.MinionCallError

    def __init__(self, count=3, oldest="n1", broken=(), markers=None, clock=None):
        self.running = {f"n{i}": True for i in range(1, count + 1)}
        self.pids = {m: 100 for m in self.running}
        self.oldest = oldest
        self.broken = set(broken)
        self.markers = dict(markers or {})
        self.calls = []
        self.clock = clock or FakeClock()
        self.ready_polls = {}
        self.stop_timeout = "1min 30s"

    def _view(self):
        up = [m for m, on in self.running.items() if on]
        return view(up, oldest=self.oldest if self.running.get(self.oldest) else up[0])

    def _one(self, minion, fun, args, kwargs):
        self.calls.append((minion, fun, args, kwargs))
        self.clock.now += 0.1
        if fun == "layline.members":
            if not self.running[minion]:
                return False, "connection refused"
            return True, self._view()
        if fun == "layline.ready":
            self.ready_polls[minion] = self.ready_polls.get(minion, 0) + 1
            return True, self.running[minion]
        if fun == "service.stop":
            self.running[minion] = False
            return True, True
        if fun == "service.start":
            if minion not in self.broken:
                self.running[minion] = True
                self.pids[minion] += 1
            return True, True
        if fun == "layline.clear_pending":
            return True, self.markers.pop(minion, None) is not None
        if fun == "layline.pending":
            marker = self.markers.get(minion)
            unit = "layline-config-server" if minion == "cfg" else "layline-reactive-engine"
            return True, ({unit: marker} if marker else {})
        if fun == "layline_release.switch":
            return True, {"version": kwargs["version"]}
        if fun == "service.restart":
            return True, True
        if fun == "layline.bind_address":
            return True, "10.0.0.9"
        if fun == "network.connect":
            return True, {"result": args[0] == "10.0.0.9", "comment": "ok"}
        if fun == "service.show":
            return True, {"TimeoutStopUSec": self.stop_timeout, "Id": args[0]}
        if fun == "cmd.run":
            return True, f"last log lines of {minion}"
        return False, f"unexpected {fun}"

    def funs(self, fun):
        return [(minion, args, kwargs) for minion, f, args, kwargs in self.calls if f == fun]
