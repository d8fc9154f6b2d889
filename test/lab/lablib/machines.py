"""Machines, bridge and host salt-master of the lab (see docs/design.md, "Lab contract").

Each machine is `systemd-nspawn -b` of the read-only cached image with its own overlay upper
dir (STATE_DIR/machines/NAME/upper), attached to the bridge llbr0. Per-machine identity
(hostname, address, minion id, machine-id) is written into the upper dir before boot. All that
`up` starts is recorded in STATE_DIR/state.json; `down` also finds leftovers of a killed run by
their lab paths, so it never touches processes or mounts that are not the lab's.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import time
import uuid
from pathlib import Path

from . import image, pyindex
from .util import (
    CACHE_DIR,
    CHECKOUT,
    STATE_DIR,
    VENV_BIN,
    LabError,
    log,
    remove_tree,
    run,
    unmount_under,
)

BRIDGE = "llbr0"
SUBNET_PREFIX = "10.231.7."
HOST_ADDRESS = SUBNET_PREFIX + "1"
DOMAIN = "orb.local"
MACHINES_DIR = STATE_DIR / "machines"
MASTER_ROOT = STATE_DIR / "master"
MASTER_CONF_DIR = MASTER_ROOT / "etc" / "salt"
STATE_FILE = STATE_DIR / "state.json"
UP_TIMEOUT = int(os.environ.get("LAYLINE_LAB_UP_TIMEOUT", "180"))


# ---------------------------------------------------------------- topology and state


def topology(name: str, nodes: int = 2) -> dict[str, str]:
    """Machine name -> bridge address, per the lab contract."""
    if name == "single":
        return {"ll-single": SUBNET_PREFIX + "20"}
    if name == "seed":
        if not 1 <= nodes <= 200:
            raise LabError("--nodes must be between 1 and 200")
        result = {"ll-mysql": SUBNET_PREFIX + "10", "ll-config-server": SUBNET_PREFIX + "11"}
        for k in range(1, nodes + 1):
            result[f"ll-node-{k}"] = SUBNET_PREFIX + str(11 + k)
        return result
    raise LabError(f"unknown topology {name!r} (seed or single)")


def load_state() -> dict | None:
    try:
        return json.loads(STATE_FILE.read_text())
    except FileNotFoundError:
        return None
    except ValueError as exc:
        raise LabError(f"{STATE_FILE} is corrupt ({exc}); run `lab down` to clean up") from exc


def save_state(state: dict) -> None:
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    tmp = STATE_FILE.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2) + "\n")
    os.replace(tmp, STATE_FILE)


def need_state() -> dict:
    state = load_state()
    if not state:
        raise LabError("the lab is not up (run `lab up --topology seed|single --pillar DIR`)")
    return state


def need_machine(state: dict, name: str) -> dict:
    if name not in state["machines"]:
        raise LabError(f"no machine {name!r}; machines: {', '.join(state['machines'])}")
    return state["machines"][name]


# ---------------------------------------------------------------- processes


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return [a.decode(errors="replace") for a in fh.read().split(b"\0") if a]
    except OSError:
        return []


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                kids += [int(x) for x in fh.read().split()]
    return kids


def init_pid(nspawn_pid: int) -> int | None:
    """PID (host view) of the machine's systemd: the nspawn child that is PID 1 in its namespace."""
    for kid in _children(nspawn_pid):
        try:
            with open(f"/proc/{kid}/status") as fh:
                for line in fh:
                    if line.startswith("NSpid:") and line.split()[-1] == "1":
                        return kid
        except OSError:
            continue
    return None


def lab_pids() -> dict[str, list[int]]:
    """Processes the lab started, found by the lab paths in their command lines."""
    found: dict[str, list[int]] = {"nspawn": [], "master": [], "index": []}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        args = _cmdline(pid)
        if not args:
            continue
        joined = " ".join(args)
        if os.path.basename(args[0]) == "systemd-nspawn" and str(MACHINES_DIR) + "/" in joined:
            found["nspawn"].append(pid)
        elif "salt-master" in joined and str(MASTER_CONF_DIR) in joined:
            found["master"].append(pid)
        elif pyindex.is_index_server(args):
            found["index"].append(pid)
    return found


def _wait_gone(pids: list[int], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    while True:
        alive = [p for p in pids if _alive(p)]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.2)


def _kill(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _reap(pid: int) -> None:
    # Machines started by this process (tests call up/stop/start in-process) must not stay zombies.
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def stop_machines(nspawn_pids: list[int], graceful: float) -> None:
    """Power off machines: ask systemd to power off, then SIGKILL its PID 1 and nspawn."""
    if graceful > 0:
        for pid in nspawn_pids:
            init = init_pid(pid)
            if init:
                _kill(init, signal.SIGRTMIN + 4)  # systemd: SIGRTMIN+4 = poweroff
        _wait_gone(nspawn_pids, graceful)
    for pid in nspawn_pids:
        if _alive(pid):
            init = init_pid(pid)
            if init:
                # Killing PID 1 of the namespace kills every process in it, like pulling the plug;
                # nspawn then cleans up its veth and overlay mount itself.
                _kill(init, signal.SIGKILL)
    left = _wait_gone(nspawn_pids, 5)
    for pid in left:
        _kill(pid, signal.SIGKILL)
    for pid in nspawn_pids:
        _reap(pid)
    left = _wait_gone(nspawn_pids, 5)
    if left:
        raise LabError(f"systemd-nspawn processes did not exit: {left}")


# ---------------------------------------------------------------- bridge and network


def bridge_up() -> None:
    if Path(f"/sys/class/net/{BRIDGE}").exists():
        run(["ip", "link", "del", BRIDGE], quiet=True)
    run(["ip", "link", "add", BRIDGE, "type", "bridge"], quiet=True)
    run(["ip", "addr", "add", HOST_ADDRESS + "/24", "dev", BRIDGE], quiet=True)
    run(["ip", "link", "set", BRIDGE, "up"], quiet=True)


def bridge_down() -> None:
    if Path(f"/sys/class/net/{BRIDGE}").exists():
        run(["ip", "link", "del", BRIDGE], quiet=True)


def host_veth(nspawn_pid: int) -> str | None:
    """Host-side name of a machine's veth (nspawn shortens long names, so look it up)."""
    init = init_pid(nspawn_pid)
    if not init:
        return None
    # Only the net namespace (host's /sys would show host devices): "2: host0@if7: <...>".
    proc = run(
        ["nsenter", "-t", str(init), "-n", "ip", "-o", "link", "show", "host0"],
        check=False,
        quiet=True,
    )
    match = re.search(r"host0@if(\d+):", proc.stdout or "")
    if proc.returncode != 0 or not match:
        return None
    index = match.group(1)
    for dev in Path("/sys/class/net").iterdir():
        with contextlib.suppress(OSError):
            if (dev / "ifindex").read_text().strip() == index:
                return dev.name
    return None


# ---------------------------------------------------------------- machine files


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def prepare_upper(name: str, address: str, machines: dict[str, str]) -> Path:
    upper = MACHINES_DIR / name / "upper"
    upper.mkdir(parents=True, exist_ok=True)
    upper.chmod(0o755)
    _write(upper / "etc/hostname", f"{name}.{DOMAIN}\n")
    _write(upper / "etc/machine-id", uuid.uuid4().hex + "\n")
    _write(upper / "etc/salt/minion_id", name + "\n")
    _write(upper / "etc/hosts", _hosts_text(machines))
    # Sorts before nspawn's 80-container-host0.network (DHCP), so the static address wins.
    _write(
        upper / "etc/systemd/network/10-host0.network",
        f"[Match]\nName=host0\n\n[Network]\nAddress={address}/24\nLinkLocalAddressing=no\n"
        "IPv6AcceptRA=no\n",
    )
    return upper


def boot(name: str, base: Path) -> int:
    mdir = MACHINES_DIR / name
    upper = mdir / "upper"
    console = open(mdir / "console.log", "ab")  # noqa: SIM115 -- handed to the child
    try:
        proc = subprocess.Popen(
            [
                "systemd-nspawn",
                "--register=no",
                "--keep-unit",
                "-q",
                "-D",
                str(base),
                f"--overlay={base}:{upper}:/",
                "-M",
                name,
                f"--network-bridge={BRIDGE}",
                "--resolv-conf=off",
                "--timezone=off",
                "--console=read-only",
                "-b",
            ],
            stdin=subprocess.DEVNULL,
            stdout=console,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # own session: a Ctrl-C of `lab up` does not kill machines
    finally:
        console.close()
    return proc.pid


def _console_tail(name: str, lines: int = 15) -> str:
    with contextlib.suppress(OSError):
        text = (MACHINES_DIR / name / "console.log").read_text(errors="replace")
        return "\n".join("    " + line for line in text.splitlines()[-lines:])
    return "    (no console log)"


# ---------------------------------------------------------------- salt-master


def write_master_config(pillar: Path) -> None:
    MASTER_CONF_DIR.mkdir(parents=True, exist_ok=True)
    conf = {
        "root_dir": str(MASTER_ROOT),
        "interface": HOST_ADDRESS,
        "user": "root",
        "auto_accept": True,  # fresh minion keys on every `up`; the lab network is private
        "file_roots": {"base": [str(CHECKOUT)]},
        "pillar_roots": {"base": [str(pillar)]},
        "log_file": str(MASTER_ROOT / "master.log"),
        "log_level_logfile": "info",
        "pidfile": str(MASTER_ROOT / "salt-master.pid"),
        # A peer call (x509.sign_remote_certificate, layline.tls) holds a master worker while
        # the master publishes to the CA minion through its own request server, which needs
        # a free worker too: with 4 workers and 9 minions asking at once (seed, 7 engines)
        # every worker waited on the next one and the bare apply timed out. One worker per
        # machine of the largest lab (2 + 9 engines) plus one.
        "worker_threads": 12,
        "timeout": 15,
        # layline.tls: minions have their certificates signed by the CA minion (README, TLS)
        "peer": {"ll-.*": ["x509.sign_remote_certificate"]},
    }
    # JSON is valid YAML: no yaml module needed in the CLI.
    (MASTER_CONF_DIR / "master").write_text(json.dumps(conf, indent=2) + "\n")


def start_master() -> int:
    log_fh = open(MASTER_ROOT / "master.console.log", "ab")  # noqa: SIM115
    try:
        proc = subprocess.Popen(
            [str(VENV_BIN / "salt-master"), "-c", str(MASTER_CONF_DIR), "-l", "warning"],
            stdin=subprocess.DEVNULL,
            stdout=log_fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    finally:
        log_fh.close()
    return proc.pid


def salt_json(args: list[str], timeout: int = 30) -> dict:
    proc = subprocess.run(
        [str(VENV_BIN / "salt"), "-c", str(MASTER_CONF_DIR), "--out=json", "--static", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    try:
        return json.loads(proc.stdout or "{}")
    except ValueError:
        return {}


def sync_runners() -> None:
    """The formula's runners and the _utils they import (salt://, the checkout) on the master."""
    proc = subprocess.run(
        [
            str(VENV_BIN / "salt-run"),
            "-c",
            str(MASTER_CONF_DIR),
            "--out=json",
            "saltutil.sync_all",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if proc.returncode != 0:
        raise LabError(f"salt-run saltutil.sync_all failed:\n{proc.stdout}{proc.stderr}")


# ---------------------------------------------------------------- commands


def up(topo: str, nodes: int, pillar: str) -> dict:
    pillar_dir = Path(pillar).resolve()
    if not pillar_dir.is_dir():
        raise LabError(f"--pillar {pillar}: not a directory")
    if not (pillar_dir / "top.sls").is_file():
        raise LabError(f"--pillar {pillar}: has no top.sls")
    machines = topology(topo, nodes)
    t0 = time.monotonic()
    base = image.ensure()
    index_root = pyindex.ensure()

    if (
        load_state() is not None
        or any(lab_pids().values())
        or Path(f"/sys/class/net/{BRIDGE}").exists()
        or MACHINES_DIR.exists()
    ):
        log("cleaning up a previous lab first")
        down()

    build = CHECKOUT / "test" / "simulator" / "build"
    if build.is_file() and os.access(build, os.X_OK):
        log("building the simulator distribution (test/simulator/build)")
        run([str(build)], quiet=True, cwd=CHECKOUT)

    state = {
        "topology": topo,
        "nodes": nodes,
        "pillar": str(pillar_dir),
        "image": base.name,
        "base": str(base),
        "bridge": BRIDGE,
        "master": {"pid": None, "config_dir": str(MASTER_CONF_DIR)},
        "index": {"pid": None, "url": pyindex.URL, "root": str(index_root)},
        "machines": {},
    }
    save_state(state)  # early, so a failing `up` is still cleaned by `down`
    try:
        bridge_up()
        write_master_config(pillar_dir)
        state["index"]["pid"] = pyindex.start(index_root, MASTER_ROOT / "pyindex.log")
        state["master"]["pid"] = start_master()
        save_state(state)
        for name, address in machines.items():
            prepare_upper(name, address, machines)
            state["machines"][name] = {
                "address": address,
                "pid": boot(name, base),
                "upper": str(MACHINES_DIR / name / "upper"),
            }
            save_state(state)
        wait_minions(state, UP_TIMEOUT)
        for info in state["machines"].values():
            info["veth"] = host_veth(info["pid"])
        save_state(state)
        sync_runners()
    except BaseException:
        log("`up` failed; the lab is left as is for inspection (run `lab down` to clean up)")
        raise
    log(f"up: {len(machines)} machine(s) answer test.ping ({time.monotonic() - t0:.0f}s)")
    return state


def wait_minions(state: dict, timeout: float, names: list[str] | None = None) -> None:
    names = names or list(state["machines"])
    deadline = time.monotonic() + timeout
    pending = set(names)
    while True:
        for name in sorted(pending):
            pid = state["machines"][name]["pid"]
            if not _alive(pid):
                raise LabError(
                    f"machine {name} exited during boot; console "
                    f"({MACHINES_DIR / name / 'console.log'}):\n{_console_tail(name)}"
                )
        if not _alive(state["master"]["pid"]):
            raise LabError(
                f"salt-master exited; see {MASTER_ROOT / 'master.console.log'} "
                f"and {MASTER_ROOT / 'master.log'}"
            )
        with contextlib.suppress(subprocess.TimeoutExpired):
            answers = salt_json(["-t", "5", "-L", ",".join(sorted(pending)), "test.ping"], 20)
            pending -= {m for m, ok in answers.items() if ok is True}
        if not pending:
            return
        if time.monotonic() > deadline:
            details = "\n".join(
                f"  {n}: console {MACHINES_DIR / n / 'console.log'}, minion log "
                f"/var/log/salt/minion inside (lab shell {n})\n{_console_tail(n, 5)}"
                for n in sorted(pending)
            )
            raise LabError(
                f"timed out after {timeout:.0f}s waiting for test.ping from: "
                f"{', '.join(sorted(pending))}\n{details}"
            )
        time.sleep(1)


def down() -> None:
    """Stop everything the lab started (also after a killed run). Idempotent."""
    state = load_state() or {}
    found = lab_pids()
    nspawn = sorted(
        set(found["nspawn"])
        | {
            m["pid"]
            for m in state.get("machines", {}).values()
            if _alive(m.get("pid")) and "systemd-nspawn" in " ".join(_cmdline(m["pid"]))
        }
    )
    if nspawn:
        log(f"stopping {len(nspawn)} machine(s)")
        # A clean poweroff takes ~8 s (salt-minion alone stops in ~5 s) and `down` discards the
        # machines anyway: give it a short chance, then pull the plug.
        stop_machines(nspawn, graceful=float(os.environ.get("LAYLINE_LAB_POWEROFF_WAIT", "3")))
    masters = found["master"]
    master_pid = (state.get("master") or {}).get("pid")
    if master_pid and _alive(master_pid) and "salt-master" in " ".join(_cmdline(master_pid)):
        masters.append(master_pid)
    if masters:
        log("stopping salt-master")
        # The master forks workers into its own session: signal the whole process group.
        for pid in set(masters):
            with contextlib.suppress(OSError):
                os.killpg(os.getpgid(pid), signal.SIGTERM)
        for pid in _wait_gone(list(set(masters)), 10):
            with contextlib.suppress(OSError):
                os.killpg(os.getpgid(pid), signal.SIGKILL)
        for pid in masters:
            _reap(pid)
        for pid in lab_pids()["master"]:
            _kill(pid, signal.SIGKILL)
    index_pids = set(found["index"])
    index_pid = (state.get("index") or {}).get("pid")
    if index_pid and _alive(index_pid) and pyindex.is_index_server(_cmdline(index_pid)):
        index_pids.add(index_pid)
    if index_pids:
        log("stopping the package index")
        for pid in index_pids:
            _kill(pid, signal.SIGTERM)
        for pid in _wait_gone(list(index_pids), 5):
            _kill(pid, signal.SIGKILL)
        for pid in index_pids:
            _reap(pid)
    bridge_down()
    for path in (MACHINES_DIR, MASTER_ROOT):
        remove_tree(path)
    unmount_under(STATE_DIR)
    with contextlib.suppress(FileNotFoundError):
        STATE_FILE.unlink()
    STATE_FILE.with_suffix(".tmp").unlink(missing_ok=True)
    # Nothing of the lab may stay mounted (nspawn mounts live in its own namespace; this
    # catches leftovers of killed builds, which stay in the cache dir otherwise).
    for tmp in (CACHE_DIR / "images").glob(".tmp-*") if (CACHE_DIR / "images").exists() else []:
        lock = CACHE_DIR / "images" / ".lock"
        if not _build_running(lock):
            remove_tree(tmp)


def _build_running(lock: Path) -> bool:
    import fcntl

    try:
        with open(lock) as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(fh, fcntl.LOCK_UN)
            return False
    except FileNotFoundError:
        return False


def stop(name: str) -> None:
    state = need_state()
    info = need_machine(state, name)
    if not _alive(info["pid"]):
        log(f"{name} is already stopped")
        return
    stop_machines([info["pid"]], graceful=0)  # hard power-off, like a crash
    info["stopped"] = True
    save_state(state)


def start(name: str, wait: bool = True) -> None:
    state = need_state()
    info = need_machine(state, name)
    if _alive(info["pid"]):
        log(f"{name} is already running")
        return
    info["pid"] = boot(name, Path(state["base"]))
    info.pop("stopped", None)
    save_state(state)
    if wait:
        wait_minions(state, UP_TIMEOUT, [name])
    info["veth"] = host_veth(info["pid"])
    save_state(state)


_MACHINE_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$")


def _hosts_text(machines: dict[str, str]) -> str:
    hosts = [
        "127.0.0.1\tlocalhost",
        "::1\tlocalhost ip6-localhost ip6-loopback",
        f"{HOST_ADDRESS}\tsalt-master",
    ]
    hosts += [f"{addr}\t{m}.{DOMAIN} {m}" for m, addr in machines.items()]
    return "\n".join(hosts) + "\n"


def _free_address(name: str, state: dict) -> str:
    """ll-node-K gets its contract address .(11+K) when free; anything else the lowest free one."""
    used = {info["address"] for info in state["machines"].values()}
    match = re.fullmatch(r"ll-node-(\d+)", name)
    if match and 1 <= int(match.group(1)) <= 200:
        preferred = SUBNET_PREFIX + str(11 + int(match.group(1)))
        if preferred not in used:
            return preferred
    for host in range(12, 255):
        if SUBNET_PREFIX + str(host) not in used:
            return SUBNET_PREFIX + str(host)
    raise LabError(f"no free address left in {SUBNET_PREFIX}0/24")


def _write_hosts_everywhere(state: dict) -> None:
    """/etc/hosts of every machine lists exactly the machines in state (running: from inside)."""
    machines = {name: info["address"] for name, info in state["machines"].items()}
    text = _hosts_text(machines)
    for info in state["machines"].values():
        init = init_pid(info["pid"]) if _alive(info["pid"]) else None
        if init:
            # Through the machine's own mount namespace: writing an overlay's upper dir while it
            # is mounted is undefined.
            run(
                ["nsenter", "-t", str(init), "-m", "sh", "-c", "cat > /etc/hosts"],
                input=text,
                text=True,
                capture_output=True,
            )
        else:
            _write(Path(info["upper"]) / "etc/hosts", text)


def add(name: str) -> dict:
    """Boot one more machine into the running lab (next free address), hosts updated everywhere."""
    state = need_state()
    if not _MACHINE_NAME_RE.match(name):
        raise LabError(f"{name!r} is not a machine name (lower case letters, digits, '-')")
    if name in state["machines"]:
        raise LabError(f"machine {name} exists already")
    if not _alive(state["master"]["pid"]):
        raise LabError("the lab's salt-master is not running; run `lab down` and `lab up` again")
    address = _free_address(name, state)
    machines = {m: info["address"] for m, info in state["machines"].items()}
    machines[name] = address
    prepare_upper(name, address, machines)
    state["machines"][name] = {
        "address": address,
        "pid": boot(name, Path(state["base"])),
        "upper": str(MACHINES_DIR / name / "upper"),
        "added": True,
    }
    save_state(state)
    _write_hosts_everywhere(state)
    wait_minions(state, UP_TIMEOUT, [name])
    state["machines"][name]["veth"] = host_veth(state["machines"][name]["pid"])
    save_state(state)
    log(f"added {name} ({address}); its minion key is accepted and it answers test.ping")
    return state


def remove(name: str) -> None:
    """Power a machine off, delete its upper dir and minion key, drop it from every /etc/hosts."""
    state = need_state()
    info = need_machine(state, name)
    if _alive(info["pid"]):
        stop_machines(
            [info["pid"]], graceful=float(os.environ.get("LAYLINE_LAB_POWEROFF_WAIT", "3"))
        )
    run([venv_tool("salt-key"), "-c", str(MASTER_CONF_DIR), "-y", "-d", name], quiet=True)
    remove_tree(MACHINES_DIR / name)
    del state["machines"][name]
    save_state(state)
    _write_hosts_everywhere(state)
    log(f"removed {name}: powered off, upper dir and minion key deleted, hosts entries dropped")


def _running_machine(name: str) -> tuple[dict, dict]:
    """(state, machine info) of a machine that must be running."""
    state = need_state()
    info = need_machine(state, name)
    if not _alive(info["pid"]):
        raise LabError(f"{name} is not running (lab start {name})")
    return state, info


def set_link(name: str, up_: bool) -> None:
    state, info = _running_machine(name)
    veth = host_veth(info["pid"])
    if not veth:
        raise LabError(f"cannot find the host-side veth of {name}")
    # Host side of the link: the machine sees carrier loss, nothing inside can undo it.
    run(["ip", "link", "set", veth, "up" if up_ else "down"], quiet=True)
    info["veth"] = veth
    info["cut"] = not up_
    save_state(state)


def machine_init_pid(name: str) -> int:
    _, info = _running_machine(name)
    pid = init_pid(info["pid"])
    if not pid:
        raise LabError(f"{name}: no systemd process found under nspawn pid {info['pid']}")
    return pid


def shell_argv(name: str, cmd: list[str]) -> tuple[list[str], dict[str, str]]:
    pid = machine_init_pid(name)
    env = {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": "/root",
        "LANG": "C.UTF-8",
        "TERM": os.environ.get("TERM", "dumb"),
    }
    return ["nsenter", "-t", str(pid), "-a", *(cmd or ["bash"])], env


def status() -> str:
    state = load_state()
    if not state:
        leftovers = lab_pids()
        extra = (
            f" (leftover processes: {leftovers}; run `lab down`)" if any(leftovers.values()) else ""
        )
        return "lab is down" + extra
    index_pid = (state.get("index") or {}).get("pid")
    lines = [
        f"topology {state['topology']}  pillar {state['pillar']}  image {state['image']}",
        f"package index {pyindex.URL} pid {index_pid} "
        f"{'running' if _alive(index_pid) else 'NOT RUNNING'}",
        f"salt-master pid {state['master']['pid']} "
        f"{'running' if _alive(state['master']['pid']) else 'NOT RUNNING'}",
        f"{'MACHINE':<20} {'ADDRESS':<14} {'PID':>8}  {'STATE':<8} LINK",
    ]
    for name, info in state["machines"].items():
        alive = _alive(info["pid"])
        link = "-"
        if alive:
            veth = host_veth(info["pid"])
            if veth:
                flags = Path(f"/sys/class/net/{veth}/operstate").read_text().strip()
                link = f"{veth} {'cut' if info.get('cut') else flags}"
        lines.append(
            f"{name:<20} {info['address']:<14} {info['pid']:>8}  "
            f"{'running' if alive else 'stopped':<8} {link}"
        )
    return "\n".join(lines)


def venv_tool(tool: str) -> str:
    path = VENV_BIN / tool
    if not path.exists():
        found = shutil.which(tool)
        if not found:
            raise LabError(f"{tool} not found in {VENV_BIN}: run test/setup-host")
        return found
    return str(path)
