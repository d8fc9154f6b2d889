"""Base image: Debian 12 minbase + systemd + salt-minion venv + an offline apt mirror.

The image is bare: salt-minion in its own Python and nothing the formula needs (no pyhocon,
pymysql, saltext.mysql, no MariaDB). The formula installs those itself, from the lab's package
index (lablib/pyindex.py) and the offline apt mirror, as it would on a user's fresh minion.

The image is cached under CACHE_DIR/images/<hash>; the hash covers this file (packages, unit,
minion config, build steps), the salt requirements and the host venv's package versions (the
wheels are pinned to them, so the minions run exactly the master's salt). Builds go to a temp
dir that is renamed into place only when complete, so a killed build never leaves an image that
looks usable. Changing anything else in the lab (machines.py, the CLI) does not rebuild;
all per-machine settings live in the machines' overlay upper dirs instead.
"""

from __future__ import annotations

import ast
import fcntl
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from .util import CACHE_DIR, STATE_DIR, VENV_BIN, LabError, log, remove_tree, run

SUITE = "bookworm"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
# python3-venv: the minion's own venv; iputils-ping/curl: reachability and HTTP checks in tests.
INCLUDE = [
    "systemd",
    "systemd-sysv",
    "dbus",
    "python3",
    "python3-venv",
    "iproute2",
    "procps",
    "ca-certificates",
    "netbase",
    "iputils-ping",
    "curl",
    "less",
]
# Served offline to the machines from /srv/lab-mirror (none of them is installed): what the
# formula installs itself - MariaDB, nftables for the firewall, Prometheus and the node
# exporter for the monitoring role.
MIRROR_PACKAGES = [
    "mariadb-server",
    "mariadb-client",
    "nftables",
    "prometheus",
    "prometheus-node-exporter",
]
MIRROR_DIR = "/srv/lab-mirror"
# Only Salt (it brings cryptography, cffi, pycparser): what a user has after installing Salt.
SALT_REQUIREMENTS = ["salt==3008.4"]
SALT_VENV = "/opt/saltstack/salt"
MASTER_ADDRESS = "10.231.7.1"
KEEP_IMAGES = 4

MINION_CONF = f"""\
# Written by test/lab image build.
master: {MASTER_ADDRESS}
# Fresh minions each `up`: retry auth quickly instead of salt's 10 s back-off.
acceptance_wait_time: 2
acceptance_wait_time_max: 5
random_reauth_delay: 0
auth_timeout: 10
log_level_logfile: info
"""

MINION_UNIT = f"""\
[Unit]
Description=Salt minion (layline lab)
After=network.target systemd-networkd.service

[Service]
# KillMode=process: a state that restarts the minion must not kill its own salt-call children.
Type=simple
KillMode=process
ExecStart={SALT_VENV}/bin/salt-minion
Restart=on-failure
RestartSec=2

[Install]
WantedBy=multi-user.target
"""


def _host_pins() -> list[str]:
    """name==version of every package in the host venv (read from dist-info, no pip call)."""
    site = next((VENV_BIN.parent / "lib").glob("python3*/site-packages"), None)
    if site is None:
        raise LabError(f"no host venv at {VENV_BIN.parent}: run test/setup-host first")
    pins = []
    for dist in sorted(site.glob("*.dist-info")):
        name, _, version = dist.name[: -len(".dist-info")].rpartition("-")
        # direct_url.json marks local/VCS installs: no index has them, so no pin.
        if name and version and not (dist / "direct_url.json").exists():
            pins.append(f"{name}=={version}")
    return pins


def _host_python_version() -> str:
    site = next((VENV_BIN.parent / "lib").glob("python3*"), None)
    if site is None:
        raise LabError(f"no host venv at {VENV_BIN.parent}: run test/setup-host first")
    return site.name  # e.g. python3.11; wheels are built for it and must match the image


def image_hash() -> str:
    h = hashlib.sha256()
    # The AST, not the bytes: comment and formatting edits do not force a 3-minute rebuild.
    h.update(ast.dump(ast.parse(Path(__file__).read_text())).encode())
    h.update(_host_python_version().encode())
    h.update("\n".join(_host_pins()).encode())
    return h.hexdigest()[:16]


def images_dir() -> Path:
    return CACHE_DIR / "images"


def image_path(digest: str | None = None) -> Path:
    return images_dir() / (digest or image_hash())


def _nspawn(root: Path, *cmd: str, network: bool = True) -> None:
    """Run a command in the image tree (chroot-like, but with /proc, /dev and cleanup by nspawn)."""
    args = [
        "systemd-nspawn",
        "-q",
        "--register=no",
        "--keep-unit",
        "-D",
        str(root),
        "--timezone=off",
        "--resolv-conf=" + ("copy-host" if network else "off"),
        "-E",
        "DEBIAN_FRONTEND=noninteractive",
        "-E",
        "LC_ALL=C",
    ]
    if not network:
        args.append("--private-network")
    run([*args, *cmd], quiet=True, stdin=subprocess.DEVNULL)


def _build_wheels(dest: Path) -> None:
    if _host_python_version() != "python3.11":
        raise LabError(
            f"host venv is {_host_python_version()}, the image has python3.11: "
            "wheels would not match"
        )
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "constraints.txt").write_text("\n".join(_host_pins()) + "\n")
    (dest / "requirements.txt").write_text("\n".join(SALT_REQUIREMENTS) + "\n")
    run(
        [
            str(VENV_BIN / "python"),
            "-m",
            "pip",
            "wheel",
            "-q",
            "-w",
            str(dest),
            "-c",
            str(dest / "constraints.txt"),
            "-r",
            str(dest / "requirements.txt"),
        ],
        quiet=True,
    )


def _wheels(work: Path) -> Path:
    """Wheels cached by their own inputs, so an image-only change does not re-download them."""
    key = hashlib.sha256(("\n".join(SALT_REQUIREMENTS + _host_pins())).encode()).hexdigest()[:16]
    final = CACHE_DIR / "wheels" / key
    if not final.exists():
        tmp = work / "wheels"
        _build_wheels(tmp)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.rename(tmp, final)
    return final


def _write(root: Path, rel: str, text: str, mode: int = 0o644) -> None:
    path = root / rel.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


def _build(work: Path, digest: str) -> Path:
    root = work / "rootfs"
    wheel_result: dict[str, object] = {}

    def wheels_job() -> None:
        try:
            wheel_result["dir"] = _wheels(work)
        except Exception as exc:  # reported by the main thread
            wheel_result["error"] = exc

    # Wheels (PyPI) and debootstrap (Debian mirror) are independent: do them at the same time.
    thread = threading.Thread(target=wheels_job, daemon=True)
    thread.start()
    t0 = time.monotonic()
    log(f"debootstrap {SUITE} minbase into {root}")
    run(
        [
            "debootstrap",
            "--variant=minbase",
            "--include=" + ",".join(INCLUDE),
            SUITE,
            str(root),
            DEBIAN_MIRROR,
        ],
        quiet=True,
    )
    log(f"debootstrap done in {time.monotonic() - t0:.0f}s")
    thread.join()
    if "error" in wheel_result:
        raise wheel_result["error"]  # type: ignore[misc]
    wheels = Path(wheel_result["dir"])  # type: ignore[arg-type]

    # salt-minion in its own venv, offline from the host-built wheels.
    log("installing salt-minion venv from wheels")
    # Not /tmp: nspawn mounts a fresh tmpfs there.
    inroot_wheels = root / "opt" / "lab-wheels"
    run(["cp", "-a", str(wheels), str(inroot_wheels)])
    _nspawn(root, "python3", "-m", "venv", SALT_VENV, network=False)
    _nspawn(
        root,
        f"{SALT_VENV}/bin/pip",
        "install",
        "-q",
        "--no-index",
        "--find-links",
        "/opt/lab-wheels",
        "-c",
        "/opt/lab-wheels/constraints.txt",
        "-r",
        "/opt/lab-wheels/requirements.txt",
        network=False,
    )
    remove_tree(inroot_wheels)
    for tool in ("salt-call", "salt-minion"):
        (root / "usr/local/bin" / tool).symlink_to(f"{SALT_VENV}/bin/{tool}")
    _write(root, "/etc/salt/minion.d/lab.conf", MINION_CONF)
    _write(root, "/etc/systemd/system/salt-minion.service", MINION_UNIT)
    _nspawn(root, "systemctl", "enable", "systemd-networkd", "salt-minion", network=False)

    # Offline apt mirror: exactly what this image needs for MIRROR_PACKAGES, nothing installed.
    log("downloading mirror packages: " + " ".join(MIRROR_PACKAGES))
    _nspawn(root, "apt-get", "-q", "update")
    _nspawn(root, "apt-get", "-q", "-y", "install", "--download-only", *MIRROR_PACKAGES)
    mirror = root / MIRROR_DIR.lstrip("/")
    mirror.mkdir(parents=True)
    for deb in (root / "var/cache/apt/archives").glob("*.deb"):
        os.rename(deb, mirror / deb.name)
    packages = run(
        ["dpkg-scanpackages", "--multiversion", ".", "/dev/null"],
        cwd=mirror,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ).stdout
    (mirror / "Packages").write_text(packages)
    for stale in (root / "etc/apt/sources.list.d").glob("*"):
        stale.unlink()
    _write(root, "/etc/apt/sources.list", f"deb [trusted=yes] file:{MIRROR_DIR} ./\n")
    remove_tree(root / "var/lib/apt/lists")
    (root / "var/lib/apt/lists/partial").mkdir(parents=True)
    # Proves the mirror is complete and usable with no network at all.
    _nspawn(root, "apt-get", "-q", "update", network=False)
    _nspawn(root, "apt-get", "-s", "install", *MIRROR_PACKAGES, network=False)
    _nspawn(root, "apt-get", "clean", network=False)

    # Per-machine files (machine-id, hostname, network) come from each machine's upper dir.
    for rel in ("etc/machine-id", "etc/hostname", "var/lib/dbus/machine-id"):
        (root / rel).unlink(missing_ok=True)
    _write(root, "/etc/resolv.conf", "# lab machines have no DNS: names come from /etc/hosts\n")
    _write(
        root,
        "/etc/layline-lab-image.json",
        json.dumps(
            {
                "hash": digest,
                "suite": SUITE,
                "include": INCLUDE,
                "mirror": MIRROR_PACKAGES,
                "salt": SALT_REQUIREMENTS,
                "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            },
            indent=2,
        )
        + "\n",
    )
    return root


def _in_use() -> set[str]:
    try:
        return {json.loads((STATE_DIR / "state.json").read_text())["image"]}
    except (OSError, ValueError, KeyError):
        return set()


def ensure(force: bool = False) -> Path:
    """Return the cached image for the current inputs, building it first when missing."""
    digest = image_hash()
    final = image_path(digest)
    if final.is_dir() and not force:
        return final
    images_dir().mkdir(parents=True, exist_ok=True)
    with open(images_dir() / ".lock", "w") as lock:
        # One builder at a time; a second caller waits and then finds the image ready.
        fcntl.flock(lock, fcntl.LOCK_EX)
        if final.is_dir() and not force:
            return final
        for stale in images_dir().glob(".tmp-*"):
            log(f"removing leftover of an interrupted build: {stale}")
            remove_tree(stale)
        start = time.monotonic()
        work = Path(tempfile.mkdtemp(prefix=f".tmp-{digest}-", dir=images_dir()))
        try:
            root = _build(work, digest)
            if final.exists():
                remove_tree(final)  # only with force
            os.rename(root, final)
        finally:
            remove_tree(work)
        log(f"image {digest} built in {time.monotonic() - start:.0f}s: {final}")
        # Branches of the same checkout share this cache: keep the newest few images, not
        # only this one, so switching branches does not rebuild every time.
        keep = {digest} | _in_use()
        images = sorted(
            (d for d in images_dir().iterdir() if not d.name.startswith(".")),
            key=lambda d: d.stat().st_mtime,
            reverse=True,
        )
        for old in images[KEEP_IMAGES:]:
            if old.name not in keep:
                log(f"pruning old image {old.name}")
                remove_tree(old)
    return final


def main_image(args) -> int:
    t0 = time.monotonic()
    existed = image_path().is_dir() and not args.force
    path = ensure(force=args.force)
    state = "cached" if existed else "built"
    print(f"{path} ({state}, {time.monotonic() - t0:.1f}s)")
    sys.stdout.flush()
    return 0
