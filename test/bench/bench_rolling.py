#!/usr/bin/env python3
"""Efficiency of `salt-run state.orch layline.rolling` in the lab. Prints a table (not a test).

    flock /run/layline-lab.lock .venv/bin/python test/bench/bench_rolling.py [--lab 7] [--lab 5]

Two labs of the seed topology (scenario test/pillar/seed3: keep-majority, min_nr_of_members 2;
every file of the scenario is copied, the engine list rewritten):
- seven engine machines, deployed bare -> Up with N = 7 (the deploy figure), then all engines
  restarted (`layline:rolling:all`) with max_unavailable 1 and 2; the memory of each machine
  is read while the cluster is Up;
- five engine machines, first a cluster of three (restarted with 1), then of five (1 and 2).
Per run:
- wall: the orchestration's wall time (salt-run start to exit);
- start-up: salt-run start to its first "wave 1/" progress line (process start, rendering,
  gathering, plan);
- sum node: the sum over nodes of each node's own stop-to-Up time, from the engine logs
  ("received SIGTERM" to "[LAY-11001] cluster successfully joined");
- efficiency: sum node / wall (with max_unavailable k the ideal is k);
- overhead/node: (wall - the sum over waves of the wave's longest stop-to-Up) / N, the
  seconds the orchestration adds per node (rendering, planning, polling, salt calls);
- min Up: the fewest members Up at any 0.5 s poll of the engines' /cluster/members during the
  run (counted from an engine that is itself Up in its own view), against the floor N - k.
Memory per machine: the proportional set size (PSS, smaps_rollup) summed over the processes of
the machine's PID namespace, and the memory cgroup of its systemd (usage, page cache included).
The lab is taken down at the end, also on failure. Run as root, after test/setup-host.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import yaml

CHECKOUT = Path(__file__).resolve().parents[2]
LAB = str(CHECKOUT / "test" / "lab" / "lab")
SEED3 = CHECKOUT / "test" / "pillar" / "seed3"
ENGINE_LOG = "/var/lib/layline/.layline/reactive-engine/log/reactive-engine.log"
STOP = "received SIGTERM"
UP = "[LAY-11001] cluster successfully joined"
# nodes stopped within this many seconds of each other were one wave
WAVE_GAP = 2.0
POLL = 0.5
MANAGEMENT_PORT = 8558

sys.path.insert(0, str(CHECKOUT / "test" / "lab"))
from lablib import machines as lab_machines  # noqa: E402


def lab(*args: str, timeout: int = 1800) -> subprocess.CompletedProcess:
    return subprocess.run([LAB, *args], capture_output=True, text=True, timeout=timeout)


def checked(*args: str) -> subprocess.CompletedProcess:
    proc = lab(*args)
    if proc.returncode != 0:
        raise SystemExit(f"lab {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def write_pillar(nodes: int, target: Path) -> None:
    """Every file of the scenario, with the engine list rewritten to ``nodes`` engines (the CA
    minion's apply makes the signing policies of the new engine list)."""
    for source in SEED3.iterdir():
        (target / source.name).write_text(source.read_text())
    data = yaml.safe_load((SEED3 / "layline.sls").read_text())
    data["layline"]["cluster"]["nodes"] = [
        {"minion": f"ll-node-{i}", "hostname": f"ll-node-{i}.orb.local"}
        for i in range(1, nodes + 1)
    ]
    (target / "layline.sls").write_text(yaml.safe_dump(data))


def log_time(line: str) -> datetime.datetime:
    return datetime.datetime.strptime(line[:21], "%y-%m-%d %H:%M:%S.%f")


def log_lengths(engines: list[str]) -> dict[str, int]:
    return {e: int(checked("shell", e, "wc", "-l", ENGINE_LOG).stdout.split()[0]) for e in engines}


def stop_to_up(engines: list[str], since: dict[str, int]) -> dict[str, tuple]:
    """{engine: (stop time, seconds from stop to Up)} from the log lines after ``since``."""
    found = {}
    for engine in engines:
        text = checked("shell", engine, "tail", "-n", f"+{since[engine] + 1}", ENGINE_LOG).stdout
        stop = up = None
        for line in text.splitlines():
            if STOP in line and stop is None:
                stop = log_time(line)
            elif UP in line and stop is not None and up is None:
                up = log_time(line)
        if stop is None or up is None:
            raise SystemExit(f"{engine}: no stop/Up pair in its log after the roll:\n{text}")
        found[engine] = (stop, (up - stop).total_seconds())
    return found


def waves_of(found: dict[str, tuple]) -> list[list[float]]:
    waves, last = [], None
    for stop, seconds in sorted(found.values()):
        if last is None or (stop - last).total_seconds() > WAVE_GAP:
            waves.append([])
        waves[-1].append(seconds)
        last = stop
    return waves


def addresses(engines: list[str]) -> dict[str, str]:
    machines = (lab_machines.load_state() or {}).get("machines", {})
    return {engine: machines[engine]["address"] for engine in engines}


def member_view(where: dict[str, str]) -> int:
    """Members Up in the view of the first engine that is itself Up in it (0: none is)."""
    for address in where.values():
        url = f"http://{address}:{MANAGEMENT_PORT}/cluster/members"
        try:
            with urllib.request.urlopen(url, timeout=1) as answer:  # noqa: S310 - lab address
                view = json.loads(answer.read())
        except (OSError, ValueError):
            continue
        up = {m["node"] for m in view.get("members", []) if m.get("status") == "Up"}
        if view.get("selfNode") in up:
            return len(up)
    return 0


class Watcher(threading.Thread):
    """Polls the members' views every POLL seconds; remembers the fewest members Up."""

    def __init__(self, engines: list[str]):
        super().__init__(daemon=True)
        self.where = addresses(engines)
        self.fewest = None
        self.polls = 0
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            began = time.monotonic()
            count = member_view(self.where)
            self.fewest = count if self.fewest is None else min(self.fewest, count)
            self.polls += 1
            self.stopping.wait(max(0.0, POLL - (time.monotonic() - began)))


def orchestrate(*args: str) -> tuple[float, float | None, int, str]:
    """(wall, seconds to the first "wave 1/" line, exit code, output) of salt-run."""
    start = time.monotonic()
    proc = subprocess.Popen(
        [LAB, "run", "state.orch", "layline.rolling", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    first_wave, lines = None, []
    for line in proc.stdout:
        lines.append(line)
        if first_wave is None and "] wave 1/" in line:
            first_wave = time.monotonic() - start
    code = proc.wait(timeout=1800)
    return time.monotonic() - start, first_wave, code, "".join(lines)


def roll(engines: list[str], max_unavailable: int) -> dict:
    since = log_lengths(engines)
    pillar = (
        'pillar={"layline": {"rolling": {"all": true, "max_unavailable": '
        f"{max_unavailable}}}}}}}"
    )
    watcher = Watcher(engines)
    watcher.start()
    try:
        wall, startup, code, output = orchestrate(pillar)
    finally:
        watcher.stopping.set()
        watcher.join(10)
    if code != 0:
        raise SystemExit(f"the rolling restart failed:\n{output}")
    found = stop_to_up(engines, since)
    total = sum(seconds for _stop, seconds in found.values())
    critical = sum(max(wave) for wave in waves_of(found))
    return {
        "wall": wall,
        "startup": startup,
        "sum": total,
        "efficiency": total / wall,
        "overhead": (wall - critical) / len(engines),
        "waves": len(waves_of(found)),
        "min_up": watcher.fewest,
        "polls": watcher.polls,
    }


def _namespace(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return None


def _pss_kib(pid: str) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _cgroup(pid: int) -> tuple[str, int | None] | None:
    """(path, memory usage in bytes or None) of the memory cgroup ``pid`` is in (v1 or v2)."""
    try:
        lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _id, controllers, path = line.split(":", 2)
        if controllers == "memory":
            file = Path("/sys/fs/cgroup/memory" + path) / "memory.usage_in_bytes"
        elif controllers == "" and Path("/sys/fs/cgroup/cgroup.controllers").exists():
            file = Path("/sys/fs/cgroup" + path) / "memory.current"
        else:
            continue
        try:
            return path, int(file.read_text())
        except (OSError, ValueError):
            return path, None
    return None


def memory() -> dict[str, tuple[int, int | None]]:
    """{machine: (PSS MiB of its processes, its memory cgroup MiB or None)}. The cgroup
    figure only where each machine has a cgroup of its own (nspawn --keep-unit under a
    host without systemd leaves them all in the caller's: then None)."""
    state = lab_machines.load_state() or {}
    namespaces = {}
    cgroups = {}
    for name, info in state.get("machines", {}).items():
        init = lab_machines.init_pid(info["pid"])
        if init is not None:
            namespaces[_namespace(init)] = name
            cgroups[name] = _cgroup(init)
    paths = [group[0] for group in cgroups.values() if group]
    shared = len(set(paths)) < len(paths)
    pss = dict.fromkeys(namespaces.values(), 0)
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            name = namespaces.get(_namespace(int(entry)))
            if name is not None:
                pss[name] += _pss_kib(entry)
    return {
        name: (
            pss[name] // 1024,
            None
            if shared or not cgroups[name] or cgroups[name][1] is None
            else cgroups[name][1] // 2**20,
        )
        for name in sorted(pss)
    }


def first_failures(text: str) -> list[str]:
    """Per minion, the first failed state (in run order) that failed by itself, not for a
    failed requisite, from ``salt --out=json --static`` output: what to fix first."""
    try:
        answers = json.loads(text)
    except ValueError:
        return ["(the output is not JSON; its tail:)\n" + text[-3000:]]
    found = []
    for minion, states in sorted(answers.items()):
        if not isinstance(states, dict):
            found.append(f"{minion}: {states}")
            continue
        failed = sorted(
            (
                state
                for state in states.values()
                if isinstance(state, dict) and state.get("result") is False
            ),
            key=lambda state: state.get("__run_num__", 0),
        )
        own = [s for s in failed if not str(s.get("comment", "")).startswith("One or more")]
        for state in own[:1] or failed[:1]:
            found.append(
                f"{minion}: {len(failed)} failed; first: {state.get('__id__')} "
                f"({state.get('name')}): {state.get('comment')}"
            )
    return found


def sync_all() -> None:
    """saltutil.sync_all on every minion of the lab, until each one answered (a loaded host
    lets a minion miss salt's timeout; its apply would then fail as not synced)."""
    names = set((lab_machines.load_state() or {}).get("machines", {}))
    missing = names
    for _attempt in range(3):
        target = ",".join(sorted(missing))
        proc = lab("salt", "-t", "300", "--out=json", "--static", "-L", target, "saltutil.sync_all")
        try:
            answers = json.loads(proc.stdout or "{}")
        except ValueError:
            answers = {}
        missing = {m for m in missing if not isinstance(answers.get(m), dict)}
        if not missing:
            return
    raise SystemExit(f"saltutil.sync_all: no answer from {sorted(missing)}")


def converge(nodes: int) -> tuple[list[str], float]:
    """state.apply everywhere, then wait until the N engines are Up: (engines, seconds)."""
    checked("salt", "*", "saltutil.refresh_pillar")
    start = time.monotonic()
    proc = lab("salt", "-t", "900", "--out=json", "--static", "*", "state.apply", "layline")
    if proc.returncode != 0:
        raise SystemExit(
            "state.apply failed:\n" + "\n".join(first_failures(proc.stdout)) + "\n" + proc.stderr
        )
    engines = [f"ll-node-{i}" for i in range(1, nodes + 1)]
    where = addresses(engines)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if member_view(where) == nodes:
            health = lab("salt", "--out=json", "ll-config-server", "layline.cluster_health").stdout
            if '"healthy": true' in health:
                return engines, time.monotonic() - start
        time.sleep(1)
    raise SystemExit(f"the cluster of {nodes} did not become healthy")


# (engine machines, [(pillar engines N, [max_unavailable, ...]), ...]); the first N of each lab
# is deployed from bare machines
LABS = ((7, ((7, (1, 2)),)), (5, ((3, (1,)), (5, (1, 2)))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--lab",
        type=int,
        action="append",
        choices=[machines for machines, _steps in LABS],
        help="only the lab with this many engine machines (repeatable; default: both)",
    )
    chosen = parser.parse_args().lab
    if os.geteuid() != 0:
        raise SystemExit("run as root (the lab needs it)")
    print(
        f"machine: {platform.node()}, {os.cpu_count()} CPUs, {platform.platform()}; "
        f"load before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
        flush=True,
    )
    rows, deploys, footprints = [], [], []
    try:
        for machines, steps in LABS:
            if chosen and machines not in chosen:
                continue
            with tempfile.TemporaryDirectory() as tmp:
                pillar = Path(tmp)
                write_pillar(steps[0][0], pillar)
                checked("up", "--topology", "seed", "--nodes", str(machines), "--pillar", tmp)
                sync_all()
                for index, (nodes, sizes) in enumerate(steps):
                    write_pillar(nodes, pillar)
                    engines, seconds = converge(nodes)
                    if index == 0:
                        deploys.append((nodes, machines, seconds))
                        footprints.append((nodes, memory()))
                    for size in sizes:
                        row = roll(engines, size)
                        row.update(nodes=nodes, size=size, load=os.getloadavg()[0])
                        rows.append(row)
                        print(f"done: N={nodes} k={size}: {row}", file=sys.stderr, flush=True)
            lab("down")
    finally:
        lab("down")
    report(rows, deploys, footprints)


def report(rows, deploys, footprints) -> None:
    print(
        f"{'N':>2} {'k':>2} {'waves':>5} {'wall s':>7} {'start-up s':>10} {'sum node s':>10} "
        f"{'efficiency':>10} {'overhead/node s':>15} {'min Up':>6} {'floor':>5} {'polls':>5} "
        f"{'load':>5}"
    )
    for row in rows:
        startup = f"{row['startup']:.1f}" if row["startup"] is not None else "-"
        print(
            f"{row['nodes']:>2} {row['size']:>2} {row['waves']:>5} {row['wall']:>7.1f} "
            f"{startup:>10} {row['sum']:>10.1f} {row['efficiency']:>10.2f} "
            f"{row['overhead']:>15.2f} {row['min_up']:>6} {row['nodes'] - row['size']:>5} "
            f"{row['polls']:>5} {row['load']:>5.2f}"
        )
    for nodes, machines, seconds in deploys:
        print(
            f"bare -> Up, N={nodes} ({machines} engine machines + ll-mysql + ll-config-server): "
            f"{seconds:.1f} s (salt '*' state.apply layline, then all N Up and healthy)"
        )
    for nodes, table in footprints:
        print(f"memory per machine with N={nodes} Up (PSS of its processes / its memory cgroup):")
        for name, (pss, cgroup) in table.items():
            print(f"  {name:<18} {pss:>5} MiB / {'-' if cgroup is None else cgroup:>5} MiB")


if __name__ == "__main__":
    main()
