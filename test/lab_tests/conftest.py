"""Fixtures for lab tests (tests marked ``@pytest.mark.lab``; need root and systemd-nspawn).

The ``lab`` fixture (session scope) is a :class:`Lab` helper that drives ``test/lab/lab``.
It does not bring anything up by itself; a test module decides its topology and pillar and
must always take the lab down again, e.g.::

    import pytest

    pytestmark = pytest.mark.lab

    @pytest.fixture(scope="module")
    def seed(lab, tmp_path_factory):
        try:
            lab.up("seed", pillar="test/pillar/mysql", nodes=2)   # or a tmp dir with top.sls
            yield lab
        finally:
            lab.down()                                           # always, even on failure

    def test_engines(seed):
        assert seed.salt("ll-node-*", "test.ping") == {"ll-node-1": True, "ll-node-2": True}
        out = seed.salt("ll-node-1", "state.apply", "layline", timeout=600)
        proc = seed.shell("ll-node-1", "systemctl is-active layline-reactive-engine")
        assert proc.returncode == 0, proc.stdout

Helper methods (all raise ``LabCommandError`` with the command's output when it fails):

- ``up(topology="seed", pillar=DIR, nodes=2)``: boots the topology (cleans leftovers first),
  returns the state dict (machines with addresses).  ``pillar=None`` uses an empty pillar.
- ``down()``: stops and removes everything (idempotent).
- ``salt(target, fun, *args, tgt_type=None, timeout=None, check=True)`` -> parsed JSON
  (``--out=json --static``): ``{minion_id: return}``.  ``args`` are passed as is, so kwargs
  are ``"key=value"`` strings; ``tgt_type`` one of ``TARGET_FLAGS`` (e.g. ``"list"``);
  ``timeout`` is salt's ``-t``.  For a minion that does not answer the value is not
  ``True`` (salt reports a "Minion did not return" string, or leaves it out), so test
  ``answer.get(m) is True``.
- ``salt_call(machine, fun, *args)`` -> parsed JSON ``local`` value of ``salt-call`` in the machine.
- ``run(fun, *args)`` -> parsed JSON of ``salt-run``.
- ``shell(machine, cmd, check=False, timeout=300)`` -> ``subprocess.CompletedProcess``
  (text, stdout and stderr merged into ``stdout``).  ``cmd`` is a string (run by ``bash -c``)
  or an argv list.
- ``add(machine)`` boots one more machine into the running lab (next free address, every
  ``/etc/hosts`` updated, key accepted, answers test.ping); ``remove(machine)`` powers it off
  and deletes it (upper dir, minion key, hosts entries).
- ``stop(machine)`` (hard power-off), ``start(machine)`` (boots again, waits for test.ping),
  ``cut(machine)`` / ``heal(machine)`` (network link down/up), ``status()`` -> text,
  ``state()`` -> the lab's state.json as a dict (or None when down).
- ``machines`` -> list of machine names of the current topology, ``address(machine)`` -> IP.
- ``wait_for(predicate, timeout=60, interval=1, what="...")`` polls until predicate() is truthy.

Run as root: ``.venv/bin/pytest -m lab test/lab_tests``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

CHECKOUT = Path(__file__).resolve().parents[2]
LAB = CHECKOUT / "test" / "lab" / "lab"
STATE_FILE = Path(os.environ.get("LAYLINE_LAB_STATE", "/var/lib/layline-lab")) / "state.json"


# salt's CLI has a flag per target type, not a --tgt-type option.
TARGET_FLAGS = {"compound": "-C", "list": "-L", "grain": "-G", "pcre": "-E", "pillar": "-I"}


class LabCommandError(AssertionError):
    """A lab command failed; the message has the command and its output."""


class Lab:
    """Drives test/lab/lab for tests; see the module docstring."""

    def __init__(self, tmp_dir: Path):
        self._tmp_dir = tmp_dir
        self.was_up = False

    # -- plumbing
    def cmd(
        self, *args: str, check: bool = True, timeout: float = 900
    ) -> subprocess.CompletedProcess:
        proc = subprocess.run([str(LAB), *args], capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise LabCommandError(
                f"lab {' '.join(args)} exited {proc.returncode}\n"
                f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
            )
        return proc

    @staticmethod
    def _json(proc: subprocess.CompletedProcess, what: str):
        try:
            return json.loads(proc.stdout) if proc.stdout.strip() else {}
        except ValueError as exc:
            raise LabCommandError(
                f"{what}: output is not JSON ({exc})\n{proc.stdout}\n{proc.stderr}"
            ) from exc

    # -- lifecycle
    def up(
        self, topology: str = "seed", pillar: str | os.PathLike | None = None, nodes: int = 2
    ) -> dict:
        if pillar is None:
            pillar = self._tmp_dir / "empty-pillar"
            pillar.mkdir(exist_ok=True)
            (pillar / "top.sls").write_text("base: {}\n")
        self.was_up = True
        self.cmd("up", "--topology", topology, "--nodes", str(nodes), "--pillar", str(pillar))
        return self.state()

    def down(self) -> None:
        self.cmd("down")
        self.was_up = False

    def state(self) -> dict | None:
        try:
            return json.loads(STATE_FILE.read_text())
        except FileNotFoundError:
            return None

    @property
    def machines(self) -> list[str]:
        return list((self.state() or {"machines": {}})["machines"])

    def address(self, machine: str) -> str:
        return (self.state() or {"machines": {}})["machines"][machine]["address"]

    def status(self) -> str:
        return self.cmd("status").stdout

    # -- salt
    def salt(
        self,
        target: str,
        fun: str,
        *args: str,
        tgt_type: str | None = None,
        timeout: int | None = None,
        check: bool = True,
    ):
        opts = ["--out=json", "--static"]
        if tgt_type:
            opts.append(TARGET_FLAGS[tgt_type])
        if timeout:
            opts += ["-t", str(timeout)]
        wall = (timeout or 60) + 120
        proc = self.cmd("salt", *opts, target, fun, *args, check=False, timeout=wall)
        # salt exits non-zero when a minion fails or does not answer; the JSON still tells.
        if check and not proc.stdout.strip():
            raise LabCommandError(
                f"salt {target} {fun}: no output (exit {proc.returncode})\n{proc.stderr}"
            )
        return self._json(proc, f"salt {target} {fun}")

    def run(self, fun: str, *args: str):
        proc = self.cmd("run", "--out=json", fun, *args, check=False)
        return self._json(proc, f"salt-run {fun}")

    def salt_call(self, machine: str, fun: str, *args: str, timeout: float = 900):
        proc = self.shell(
            machine, ["salt-call", "--out=json", "--local", fun, *args], timeout=timeout
        )
        return self._json(proc, f"salt-call {fun} on {machine}").get("local")

    # -- machines
    def shell(
        self, machine: str, cmd: str | list[str], check: bool = False, timeout: float = 300
    ) -> subprocess.CompletedProcess:
        argv = ["bash", "-c", cmd] if isinstance(cmd, str) else list(cmd)
        proc = subprocess.run(
            [str(LAB), "shell", machine, *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise LabCommandError(f"{machine}: {cmd!r} exited {proc.returncode}\n{proc.stdout}")
        return proc

    def add(self, machine: str) -> None:
        self.cmd("add", machine)

    def remove(self, machine: str) -> None:
        self.cmd("remove", machine)

    def stop(self, machine: str) -> None:
        self.cmd("stop", machine)

    def start(self, machine: str) -> None:
        self.cmd("start", machine)

    def cut(self, machine: str) -> None:
        self.cmd("cut", machine)

    def heal(self, machine: str) -> None:
        self.cmd("heal", machine)

    @staticmethod
    def wait_for(predicate, timeout: float = 60, interval: float = 1, what: str = "condition"):
        deadline = time.monotonic() + timeout
        while True:
            result = predicate()
            if result:
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}")
            time.sleep(interval)


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    """The Lab helper; takes the lab down at session end if a test left it up."""
    if os.geteuid() != 0:
        pytest.skip("lab tests need root")
    if not shutil.which("systemd-nspawn") or not shutil.which("debootstrap"):
        pytest.skip("lab tests need systemd-nspawn and debootstrap (test/setup-host)")
    helper = Lab(tmp_path_factory.mktemp("lab"))
    try:
        yield helper
    finally:
        if helper.was_up:
            helper.cmd("down", check=False)
