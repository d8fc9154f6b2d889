"""Release layout, switch, rollout bound, decommission and stale DB accounts (no minion needed)."""

import json
import os
import pathlib

import pytest
import unitsupport
from salt.exceptions import CommandExecutionError
from unitsupport import SEED_PILLAR

ROOT = pathlib.Path(__file__).resolve().parents[3]


_load = unitsupport.load_file


@pytest.fixture
def release():
    mod = _load("_modules/layline_release.py", "layline_release_under_test")
    mod.__salt__ = {"service.status": lambda unit: False}
    mod.__opts__ = {"test": False}
    return mod


@pytest.fixture
def release_state(release):
    mod = _load("_states/layline_release.py", "layline_release_state_under_test")
    mod.__opts__ = {"test": False}
    mod.__salt__ = {
        f"layline_release.{name}": getattr(release, name)
        for name in ("active", "switch", "switch_now", "rollout_problems")
    }
    return mod


def _install(install_dir, version):
    path = install_dir / "releases" / version
    (path / "bin").mkdir(parents=True)
    (path / "VERSION").write_text(f"{version}\n")
    return path


# --------------------------------------------------------------------------- pure rules


@pytest.mark.parametrize(
    ("multi_node", "roles", "active", "running", "expected"),
    [
        (True, ["engine"], None, True, True),  # nothing active yet: the first install
        (True, ["engine"], "2.5.4", True, False),  # the rolling restart moves it
        (True, ["engine"], "2.5.4", False, True),  # no engine runs from it
        (True, ["config-server"], "2.5.4", False, True),  # config server alone: no cluster member
        (False, ["config-server", "engine"], "2.5.4", True, True),  # single host: switch + restart
    ],
)
def test_decide_switch(release, multi_node, roles, active, running, expected):
    assert release.decide_switch(multi_node, roles, active, running) is expected


def test_rollout_allows_two_versions_and_refuses_a_third(release):
    assert release.rollout_conflicts("2.5.5", {"n1": "2.5.4", "n2": "2.5.4"}) == []
    # rollback in the middle of a rollout: still two versions
    assert release.rollout_conflicts("2.5.4", {"n1": "2.5.5", "n2": "2.5.4"}) == []
    # a node that does not answer does not count
    assert release.rollout_conflicts("2.5.6", {"n1": "2.5.5", "n2": None}) == []
    problems = release.rollout_conflicts("2.5.6", {"n1": "2.5.5", "n2": "2.5.4", "n3": "2.5.4"})
    assert problems == [
        "layline:version: 2.5.6 would be a third version in the cluster (2.5.4 on n2, n3; "
        "2.5.5 on n1): a previous rollout is half done. Finish it first (salt-run state.orch "
        "layline.rolling), or roll back to one of the running versions"
    ]


def test_release_dir_and_installer_args(release):
    assert release.release_dir("/opt/layline", "2.5.5") == "/opt/layline/releases/2.5.5"
    assert release.expand_installer_args(["-q", "-dir", "{dir}", "-Dx={dir}/y"], "/r/1") == [
        "-q",
        "-dir",
        "/r/1",
        "-Dx=/r/1/y",
    ]
    for bad in ("../2.5.4", "2.5.4/..", "", None):
        with pytest.raises(CommandExecutionError, match="layline:version"):
            release.release_dir("/opt/layline", bad)


# --------------------------------------------------------------------------- on a file system


def test_active_and_installed(release, tmp_path):
    assert release.active(str(tmp_path)) is None
    _install(tmp_path, "2.5.4")
    _install(tmp_path, "2.5.5")
    (tmp_path / "releases" / "2.5.6").mkdir()  # an interrupted install: no VERSION
    assert release.installed(str(tmp_path)) == ["2.5.4", "2.5.5"]
    os.symlink("releases/2.5.4", tmp_path / "current")
    assert release.active(str(tmp_path)) == "2.5.4"


def test_switch_is_idempotent_and_atomic(release, tmp_path):
    _install(tmp_path, "2.5.4")
    _install(tmp_path, "2.5.5")
    assert release.switch("2.5.4", install_dir=str(tmp_path)) == {
        "previous": None,
        "active": "2.5.4",
        "changed": True,
    }
    assert release.switch("2.5.5", install_dir=str(tmp_path)) == {
        "previous": "2.5.4",
        "active": "2.5.5",
        "changed": True,
    }
    assert os.readlink(tmp_path / "current") == "releases/2.5.5"
    assert release.switch("2.5.5", install_dir=str(tmp_path))["changed"] is False
    assert sorted(p.name for p in tmp_path.iterdir()) == ["current", "releases"]


@pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")
def test_switch_gives_the_link_the_install_dirs_owner(release, tmp_path):
    _install(tmp_path, "2.5.4")
    os.chown(tmp_path, 0, 65534)
    release.switch("2.5.4", install_dir=str(tmp_path))
    link = os.lstat(tmp_path / "current")
    assert (link.st_uid, link.st_gid) == (0, 65534)


def test_switch_refuses_a_release_that_is_not_installed(release, tmp_path):
    _install(tmp_path, "2.5.4")
    release.switch("2.5.4", install_dir=str(tmp_path))
    with pytest.raises(
        CommandExecutionError,
        match=r"release 2\.5\.7 is not installed.*"
        r"installed: 2\.5\.4",
    ):
        release.switch("2.5.7", install_dir=str(tmp_path))
    assert os.readlink(tmp_path / "current") == "releases/2.5.4"


def test_switch_restarts_a_running_config_server_on_the_same_machine(release, tmp_path):
    restarted = []
    release.__salt__ = {
        "service.status": lambda unit: unit == "layline-config-server",
        "service.restart": restarted.append,
    }
    _install(tmp_path, "2.5.4")
    release.switch("2.5.4", install_dir=str(tmp_path))
    release.switch("2.5.4", install_dir=str(tmp_path))  # no change: no restart
    assert restarted == ["layline-config-server"]


def test_active_state_waits_for_the_rolling_restart(release_state, release, tmp_path):
    _install(tmp_path, "2.5.4")
    _install(tmp_path, "2.5.5")
    release.switch("2.5.4", install_dir=str(tmp_path))
    ret = release_state.active(str(tmp_path), "2.5.5", switch=False)
    assert ret["result"] is True and ret["changes"] == {}
    assert "rolling restart" in ret["comment"]
    assert os.readlink(tmp_path / "current") == "releases/2.5.4"
    release_state.__opts__["test"] = True
    ret = release_state.active(str(tmp_path), "2.5.5", switch=True)
    assert ret["result"] is None and os.readlink(tmp_path / "current") == "releases/2.5.4"
    release_state.__opts__["test"] = False
    ret = release_state.active(str(tmp_path), "2.5.5", switch=True)
    assert ret["changes"] == {"current": {"old": "2.5.4", "new": "2.5.5"}}
    assert os.readlink(tmp_path / "current") == "releases/2.5.5"


def test_rollout_allowed_state_fails_with_the_reason(release_state):
    release_state.__salt__["layline_release.rollout_problems"] = lambda v, timeout: [
        f"layline:version: {v} would be a third version"
    ]
    ret = release_state.rollout_allowed("cluster", "2.5.6")
    assert ret["result"] is False and "2.5.6 would be a third version" in ret["comment"]


def test_pending_version_dropped(release_state, release, tmp_path):
    marker = tmp_path / "layline-reactive-engine.json"
    marker.write_text(
        json.dumps(
            {
                "reasons": ["configuration changed", "version 2.5.4 -> 2.5.5"],
                "version": "2.5.5",
                "written": "x",
            }
        )
    )
    assert release.pending_version(directory=str(tmp_path)) == "2.5.5"
    assert release_state.pending_version_dropped(str(marker), "2.5.5")["changes"] == {}
    ret = release_state.pending_version_dropped(str(marker), "2.5.4")  # rolled back
    assert ret["changes"]["version"] == {"old": "2.5.5", "new": None}
    assert json.loads(marker.read_text())["reasons"] == ["configuration changed"]
    assert release.pending_version(directory=str(tmp_path)) is None
    marker.write_text(json.dumps({"reasons": ["version 2.5.4 -> 2.5.5"], "version": "2.5.5"}))
    release_state.pending_version_dropped(str(marker), "2.5.4")
    assert not marker.exists()  # nothing else was pending


# --------------------------------------------------------------------------- removal


def test_retired_units(layline, make_config):
    seed = make_config(SEED_PILLAR)
    both = ["layline-reactive-engine", "layline-config-server"]
    assert layline._retired_units(seed, "ll-node-1", both) == ["layline-config-server"]
    assert layline._retired_units(seed, "ll-node-9", both) == both
    assert layline._retired_units(seed, "ll-node-9", []) == []
    assert layline._retired_units(seed, "ll-config-server", both) == ["layline-reactive-engine"]
    # the single-host default (empty pillar) gives every minion both roles: nothing retired
    single = make_config({"distribution": SEED_PILLAR["distribution"]})
    assert layline._retired_units(single, "anything", both) == []


def test_stale_account_hosts_only_of_the_layline_user():
    db = _load("_modules/layline_db.py", "layline_db_stale_under_test")
    rows = [
        {"User": "layline", "Host": "ll-node-1.orb.local"},
        {"User": "layline", "Host": "LL-NODE-2.orb.local"},
        {"User": b"layline", "Host": b"ll-node-3.orb.local"},
        {"User": "root", "Host": "ll-node-3.orb.local"},
        {"User": "other", "Host": "gone.example.com"},
    ]
    allowed = ["ll-node-1.orb.local", "ll-node-2.orb.local"]
    assert db.stale_account_hosts(rows, "layline", allowed) == ["ll-node-3.orb.local"]


def test_switch_now_asks_the_service_only_when_it_matters(release, tmp_path):
    asked = []
    release.__salt__ = {
        "layline.is_multi_node": lambda config: True,
        "service.status": lambda unit: asked.append(unit) or True,
    }
    release.__opts__["id"] = "ll-node-1"
    config = {"cluster": {"nodes": [{"minion": "ll-node-1"}, {"minion": "ll-node-2"}]}}
    # nothing installed yet
    assert release.switch_now(str(tmp_path), config=config) is True and asked == []
    _install(tmp_path, "2.5.4")
    release.switch("2.5.4", install_dir=str(tmp_path), restart_config_server=False)
    assert release.switch_now(str(tmp_path), config=config) is False  # a running engine
    assert asked == ["layline-reactive-engine"]


def test_stale_hosts_leaves_no_mysql_error_for_the_states(tmp_path):
    db = _load("_modules/layline_db.py", "layline_db_stale_hosts_under_test")
    config = {"database": {"user": "layline", "allowed_hosts": ["ll-node-1.orb.local"]}}
    calls = []

    def user_list(**kwargs):
        calls.append(kwargs)
        db.__context__["mysql.error"] = "MySQL Error 2003: Can't connect"
        return []

    db.__salt__ = {
        "mysql.user_list": user_list,
        **unitsupport.salt_functions(unitsupport.load_module()),
    }
    db.__opts__ = {"id": "ll-node-1"}
    db.__context__ = {}
    # no server socket yet (first run): not even asked
    assert db.stale_hosts(config, connection_unix_socket=str(tmp_path / "none.sock")) == []
    assert calls == []
    socket = tmp_path / "mysqld.sock"
    socket.touch()
    assert db.stale_hosts(config, connection_unix_socket=str(socket)) == []
    assert len(calls) == 1 and "mysql.error" not in db.__context__
    db.__salt__["mysql.user_list"] = lambda **kw: [
        {"User": "layline", "Host": "ll-node-1.orb.local"},
        {"User": "layline", "Host": "ll-node-3.orb.local"},
    ]
    assert db.stale_hosts(config, connection_unix_socket=str(socket)) == ["ll-node-3.orb.local"]
