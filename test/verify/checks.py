"""
Checks of a machine deployed by the layline formula, as plain functions of a
testinfra ``Host`` (``testinfra.get_host("ssh://...")``, ``"local://"``, ...),
so kitchen (test_default.py) and the lab tests share them. Defaults are the
contract's (docs/design.md); pass other values when the pillar changes them.
"""

import json
import time

INSTALL_DIR = "/opt/layline"
HOME = "/var/lib/layline"
USER = GROUP = "layline"
VERSION = "2.5.4"
PORTS = {"config_server": 5841, "rest": 5842, "cluster": 5843, "management": 8558}
ENGINE_CONF = "/etc/layline/reactive-engine/application.conf"
CURRENT = f"{INSTALL_DIR}/current"  # -> releases/<version>, the release the node runs
SERVER_CONF = f"{CURRENT}/config/config-server/application.conf"
MARKER = "/var/lib/layline-formula/pending/layline-reactive-engine.json"
UNITS = {
    "config-server": "layline-config-server",
    "engine": "layline-reactive-engine",
}


def _http_json(host, url, timeout=120):
    """GET url on the host (python3 is a prerequisite of the formula), retrying."""
    script = (
        "import sys, urllib.request;"
        f"sys.stdout.write(urllib.request.urlopen({url!r}, timeout=5).read().decode())"
    )
    deadline = time.monotonic() + timeout
    while True:
        cmd = host.run("python3 -c %s", script)
        if cmd.rc == 0:
            return json.loads(cmd.stdout)
        if time.monotonic() > deadline:
            raise AssertionError(f"GET {url} failed: {cmd.stderr.strip()}")
        time.sleep(3)


def _listening_ports(host):
    return {
        int(sock.rsplit(":", 1)[1])
        for sock in host.socket.get_listening_sockets()
        if sock.startswith("tcp://")
    }


def check_account_and_install(host, version=VERSION):
    user = host.user(USER)
    assert user.exists
    assert user.uid != 0
    assert user.group == GROUP
    assert user.home == HOME
    assert user.shell.endswith("nologin")
    assert host.file(CURRENT).linked_to == f"{INSTALL_DIR}/releases/{version}"
    assert host.file(f"{CURRENT}/VERSION").content_string.strip() == version
    for binary in ("bin/config-server", "bin/reactive-engine"):
        assert host.file(f"{CURRENT}/{binary}").is_file
    assert host.file(INSTALL_DIR).user == "root"


def _check_secret_file(host, path):
    conf = host.file(path)
    assert conf.is_file, path
    assert conf.user == "root" and conf.group == GROUP, path
    assert conf.mode == 0o640, f"{path}: mode {oct(conf.mode)}"


def _check_unit(host, role, home=HOME):
    unit = UNITS[role]
    service = host.service(unit)
    assert service.is_enabled, unit
    assert service.is_running, unit
    props = dict(
        line.split("=", 1)
        for line in host.check_output(
            "systemctl show -p User -p Group -p NoNewPrivileges -p ProtectSystem "
            "-p PrivateTmp -p SuccessExitStatus -p Restart -p TimeoutStopUSec "
            "-p CapabilityBoundingSet -p ReadWritePaths -p UMask -p StartLimitIntervalUSec %s",
            unit,
        ).splitlines()
        if "=" in line
    )
    assert props["User"] == USER and props["Group"] == GROUP, props
    assert props["NoNewPrivileges"] == "yes", props
    assert props["ProtectSystem"] == "strict", props
    assert props["ReadWritePaths"] == home, props
    assert props["CapabilityBoundingSet"] == "", props
    assert props["UMask"] == "0027", props
    assert props["PrivateTmp"] == "yes", props
    assert "143" in props["SuccessExitStatus"], props
    assert props["Restart"] == "on-failure", props
    assert props["StartLimitIntervalUSec"] == "0", props  # never gives up restarting
    assert props["TimeoutStopUSec"] == "1min 30s", props  # > Pekko's ~75 s graceful leave
    # the service runs as the service user, never root
    assert host.file(f"/etc/systemd/system/{unit}.service").exists


def check_config_server(host, engine_urls=("http://127.0.0.1:5842",), cluster="Production"):
    _check_secret_file(host, SERVER_CONF)
    _check_unit(host, "config-server")
    assert PORTS["config_server"] in _listening_ports(host)
    path = f"{HOME}/.layline/config-server/clusters/{cluster}.json"
    definition = json.loads(host.file(path).content_string)
    assert definition["@type"] == "deploy/cluster" and definition["name"] == cluster
    assert [node["data"] for node in definition["bootstrapNodes"]] == list(engine_urls)


def check_engine(host, hostname="127.0.0.1", expect_up=True):
    """The engine answers on its canonical hostname (its listeners bind that address)."""
    _check_secret_file(host, ENGINE_CONF)
    _check_unit(host, "engine")
    ports = _listening_ports(host)
    assert {PORTS["rest"], PORTS["cluster"], PORTS["management"]} <= ports, ports
    url = f"http://{hostname}:{PORTS['rest']}/engine/status"
    status = _http_json(host, url)
    assert status["name"] == hostname, status
    if expect_up:
        deadline = time.monotonic() + 120
        while status["state"] != "Up" and time.monotonic() < deadline:
            time.sleep(3)
            status = _http_json(host, url)
        assert status["state"] == "Up", status


def check_no_restart_pending(host):
    assert not host.file(MARKER).exists, host.file(MARKER).content_string


def check_single_host(host, version=VERSION):
    """layline's default single host: config server + one engine on H2."""
    check_account_and_install(host, version)
    check_config_server(host)
    check_engine(host)
    check_no_restart_pending(host)


def check_database_host(host, service="mariadb"):
    assert host.service(service).is_running
    assert 3306 in _listening_ports(host)
    check_backup_timer(host)


def check_backup_timer(host, backup_dir="/var/backups/layline"):
    """The backup timer runs; its option file and the backup directory are root's alone."""
    timer = host.service("layline-backup.timer")
    assert timer.is_enabled and timer.is_running
    options = host.file("/etc/layline-backup/client.cnf")
    assert (options.user, options.group, options.mode) == ("root", "root", 0o600)
    assert not any(
        line.strip().startswith("password") for line in options.content_string.splitlines()
    ), "a password option in the option file"
    directory = host.file(backup_dir)
    assert directory.is_directory and (directory.user, directory.mode) == ("root", 0o700)


def check_allinone_host(host, version=VERSION):
    """Every role on one machine, MySQL backend (test/pillar/allinone)."""
    check_account_and_install(host, version)
    check_database_host(host)
    check_config_server(host, engine_urls=("http://localhost:5842",))
    check_engine(host, hostname="localhost")
    check_no_restart_pending(host)
