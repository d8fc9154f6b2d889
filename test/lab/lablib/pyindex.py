"""The lab's Python package index: the formula's pinned artefacts, served on the bridge.

The formula installs its Python libraries from `layline:python:index_url`; in the lab that is
this index (PEP 503 simple layout), so the bare minions need no internet and the artefacts are
exactly the ones whose hashes `layline/python/files/requirements.txt` pins. They are downloaded
once on the host into CACHE_DIR/pyindex/<hash of the requirements and build deps>; `lab up`
serves that directory with `python -m http.server` on HOST:PORT, `lab down` stops it.
"""

from __future__ import annotations

import hashlib
import html
import os
import re
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from .util import CACHE_DIR, CHECKOUT, VENV_BIN, LabError, log, remove_tree, run

REQUIREMENTS = CHECKOUT / "layline" / "python" / "files" / "requirements.txt"
# wheels the formula ships (pyhocon: PyPI has only its sdist); the minions install wheels
# only (--only-binary :all:), so the index serves no build dependency (setuptools, wheel)
WHEELS = CHECKOUT / "layline" / "python" / "files" / "wheels"
HOST = "10.231.7.1"
PORT = 8080
URL = f"http://{HOST}:{PORT}/simple/"


def _key() -> str:
    h = hashlib.sha256(REQUIREMENTS.read_bytes())
    for wheel in sorted(WHEELS.glob("*.whl")):
        h.update(wheel.name.encode() + hashlib.sha256(wheel.read_bytes()).digest())
    return h.hexdigest()[:16]


def root_dir() -> Path:
    return CACHE_DIR / "pyindex"


def project_name(filename: str) -> str:
    """PEP 503 normalized project name of a wheel or sdist file name."""
    if filename.endswith(".whl"):
        name = filename.split("-", 1)[0]
    else:
        stem = re.sub(r"\.(tar\.gz|zip|tar\.bz2)$", "", filename)
        name = stem.rsplit("-", 1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def write_simple_index(root: Path) -> None:
    """root/simple/<project>/index.html linking root/files/* with their sha256 fragments."""
    projects: dict[str, list[str]] = {}
    for path in sorted((root / "files").iterdir()):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        href = f"../../files/{html.escape(path.name)}#sha256={digest}"
        projects.setdefault(project_name(path.name), []).append(
            f'<a href="{href}">{html.escape(path.name)}</a><br>'
        )
    simple = root / "simple"
    for project, links in projects.items():
        (simple / project).mkdir(parents=True, exist_ok=True)
        (simple / project / "index.html").write_text(
            "<!DOCTYPE html><html><body>\n" + "\n".join(links) + "\n</body></html>\n"
        )
    (simple / "index.html").write_text(
        "<!DOCTYPE html><html><body>\n"
        + "\n".join(f'<a href="{p}/">{p}</a><br>' for p in sorted(projects))
        + "\n</body></html>\n"
    )


def ensure() -> Path:
    """The index directory for the current requirements, downloaded first when missing."""
    final = root_dir() / _key()
    if final.is_dir():
        return final
    root_dir().mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".tmp-", dir=root_dir()))
    try:
        log("downloading the lab's Python package index")
        files = work / "files"
        pip = [
            str(VENV_BIN / "python"),
            "-m",
            "pip",
            "download",
            "-q",
            "--no-deps",
            "-d",
            str(files),
        ]
        # --require-hashes: the index holds exactly the artefacts the formula pins; wheels
        # only, the formula's own (pyhocon) found in its files/wheels like on a minion.
        run(
            [
                *pip,
                "--require-hashes",
                "--only-binary",
                ":all:",
                "--find-links",
                str(WHEELS),
                "-r",
                str(REQUIREMENTS),
            ],
            quiet=True,
        )
        write_simple_index(work)
        os.rename(work, final)
    finally:
        remove_tree(work)
    return final


def start(root: Path, log_file: Path) -> int:
    """Serve root on HOST:PORT (the bridge must be up); return the server's pid."""
    out = open(log_file, "ab")  # noqa: SIM115 -- handed to the child
    try:
        proc = subprocess.Popen(
            [
                str(VENV_BIN / "python"),
                "-m",
                "http.server",
                str(PORT),
                "--bind",
                HOST,
                "--directory",
                str(root),
            ],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    finally:
        out.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise LabError(f"package index server exited ({proc.returncode}); see {log_file}")
        try:
            socket.create_connection((HOST, PORT), timeout=1).close()
            return proc.pid
        except OSError:
            time.sleep(0.1)
    raise LabError(f"package index server did not listen on {HOST}:{PORT}; see {log_file}")


def is_index_server(args: list[str]) -> bool:
    """True for the command line of a server started by `start` (for `down` after a crash)."""
    return "http.server" in args and any(a.startswith(str(root_dir()) + "/") for a in args)
