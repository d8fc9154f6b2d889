"""Helpers of the hardening lab checks: fingerprints of root's files, what the service user
plants, a capture of the master's event bus, the minions' log level."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[2]
LAB = CHECKOUT / "test" / "lab" / "lab"
SALT_PYTHON = "/opt/saltstack/salt/bin/python3"
HOME = "/var/lib/layline"
# root's files a link could redirect a write to (salt's own cache and logs change by design)
ROOT_PLACES = ["/etc", "/root", "/opt/layline", "/usr/local", "/var/spool"]

_FINGERPRINT = """
import hashlib, json, os, sys
out = {}
for top in sys.argv[1:]:
    for root, dirs, files in os.walk(top):
        for name in files + dirs:
            path = os.path.join(root, name)
            info = os.lstat(path)
            digest = ""
            if os.path.isfile(path) and not os.path.islink(path):
                with open(path, "rb") as fh:
                    digest = hashlib.sha256(fh.read()).hexdigest()
            out[path] = [digest, oct(info.st_mode), info.st_uid, info.st_gid]
print(json.dumps(out))
"""


def root_fingerprints(lab, machine: str, exclude: tuple[str, ...] = ()) -> dict:
    """{path: [sha256, mode, uid, gid]} of every file and directory under ROOT_PLACES."""
    proc = lab.shell(machine, [SALT_PYTHON, "-c", _FINGERPRINT, *ROOT_PLACES], check=True)
    prints = json.loads(proc.stdout)
    return {path: value for path, value in prints.items() if not path.startswith(exclude)}


def as_service_user(lab, machine: str, script: str) -> None:
    """Run a shell script as the layline user (what code running in the engine can do)."""
    lab.shell(machine, ["runuser", "-u", "layline", "--", "sh", "-ec", script], check=True)


def exposure(lab, machine: str, unit: str) -> float:
    """The overall exposure level systemd-analyze security prints for unit."""
    out = lab.shell(machine, ["systemd-analyze", "security", "--no-pager", unit], check=True).stdout
    match = re.search(r"Overall exposure level for \S+: ([0-9.]+)", out)
    assert match, out
    return float(match.group(1))


class EventCapture:
    """`salt-run state.event` on the master while a block runs; text of every event seen."""

    def __init__(self, path: Path):
        self.path = path
        self.proc = None

    def __enter__(self):
        self.handle = self.path.open("w")
        env = dict(os.environ, PYTHONUNBUFFERED="1")  # every event reaches the file
        self.proc = subprocess.Popen(
            [str(LAB), "run", "state.event", "pretty=True"],
            stdout=self.handle,
            stderr=subprocess.STDOUT,
            env=env,
        )
        time.sleep(3)  # salt-run connects to the event bus before the block starts
        return self

    def __exit__(self, *exc):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.handle.close()

    @property
    def text(self) -> str:
        return self.path.read_text(errors="replace")
