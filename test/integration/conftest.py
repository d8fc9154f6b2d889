"""
Fixtures of the salt-factories integration tests: a real salt-master whose
file_roots are the checkout (plus a scratch directory for test-only SLS files)
and whose pillar_roots are a scratch directory, and one salt-minion per minion
id the scenarios need. All run on this host as root; salt-factories stops the
processes at the end of the session.

Nothing here changes the host outside temporary directories: the formula is
applied with ``test=True`` only; states that really run write below tmp paths.
"""

import logging
import pathlib
import shutil
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
PILLARS = REPO / "test" / "pillar"

# Minion ids: the lab's ids (docs/design.md), so the scenario pillars apply as is.
MINION_IDS = ("ll-single", "ll-mysql", "ll-config-server", "ll-node-1")


def pytest_unconfigure(config):
    # Salt flushes its deferred log records at interpreter exit, after pytest closed its
    # capture streams: drop them rather than print "--- Logging error ---" after the summary.
    logging.raiseExceptions = False


@pytest.fixture(scope="session")
def salt_factories_default_root_dir(tmp_path_factory):
    """Daemons' root dirs and generated scripts per run (the default /tmp/scripts is shared
    between checkouts and is never regenerated: it would run another checkout's salt)."""
    return tmp_path_factory.mktemp("salt")


@pytest.fixture(scope="session")
def pillar_tree(tmp_path_factory):
    return tmp_path_factory.mktemp("pillar")


@pytest.fixture(scope="session")
def extra_states_tree(tmp_path_factory):
    """A second file root for SLS files the tests write (``llt/*.sls``)."""
    return tmp_path_factory.mktemp("states")


@pytest.fixture(scope="session")
def simulator_dist():
    """The simulator distribution the test pillars' ``salt://test/simulator/dist`` names
    (test/simulator/build is a no-op when nothing changed)."""
    subprocess.run(
        [sys.executable, str(REPO / "test" / "simulator" / "build")],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return REPO / "test" / "simulator" / "dist"


@pytest.fixture(scope="session")
def salt_master(salt_factories, pillar_tree, extra_states_tree):
    overrides = {
        "file_roots": {"base": [str(REPO), str(extra_states_tree)]},
        "pillar_roots": {"base": [str(pillar_tree)]},
        "open_mode": True,
        "timeout": 60,
        # layline.tls: minions have their certificates signed by the CA minion (README, TLS)
        "peer": {".*": ["x509.sign_remote_certificate"]},
    }
    factory = salt_factories.salt_master_daemon("layline-master", overrides=overrides)
    with factory.started(start_timeout=120):
        yield factory


@pytest.fixture(scope="session")
def salt_minions(salt_master):
    """Started minions by id."""
    factories = {
        minion_id: salt_master.salt_minion_daemon(
            minion_id, overrides={"log_level_logfile": "info", "pillar_cache": False}
        )
        for minion_id in MINION_IDS
    }
    for factory in factories.values():
        factory.start(start_timeout=120)
    try:
        yield factories
    finally:
        for factory in factories.values():
            factory.terminate()


@pytest.fixture(scope="session")
def salt_cli(salt_master):
    return salt_master.salt_cli(timeout=300)


@pytest.fixture(scope="session")
def synced(salt_cli, salt_minions):
    """``saltutil.sync_all`` on every minion; returns the per-minion result."""
    ret = salt_cli.run("saltutil.sync_all", minion_tgt="*")
    assert ret.returncode == 0, ret
    return ret.data


LAB_HOSTS = {
    "ll-mysql.orb.local": "10.231.7.10",
    "ll-config-server.orb.local": "10.231.7.11",
    **{f"ll-node-{k}.orb.local": f"10.231.7.{11 + k}" for k in range(1, 10)},
}


def _with_lab_addresses(path):
    """The lab's /etc/hosts is not on this host: node entries named *.orb.local get lab-like
    addresses as `address` (what a site without DNS sets), so the canonical addresses (binds,
    firewall, MySQL accounts) resolve here."""
    import yaml

    data = yaml.safe_load(path.read_text())
    layline = data.get("layline") or {}
    entries = list((layline.get("cluster") or {}).get("nodes") or [])
    entries += [layline.get(key) for key in ("config_server", "database", "monitoring")]
    for entry in entries:
        if (
            isinstance(entry, dict)
            and entry.get("hostname") in LAB_HOSTS
            and "address" not in entry
        ):
            entry["address"] = LAB_HOSTS[entry["hostname"]]
    path.write_text(yaml.safe_dump(data))


@pytest.fixture
def use_pillar(pillar_tree, salt_cli, synced):
    """Install the scenario test/pillar/<name> as the master's pillar and refresh it."""

    def install(name, extra=None):
        for item in pillar_tree.iterdir():
            if item.is_dir():
                shutil.rmtree(item)
            else:
                item.unlink()
        for item in (PILLARS / name).iterdir():
            shutil.copy(item, pillar_tree / item.name)
        _with_lab_addresses(pillar_tree / "layline.sls")
        ret = salt_cli.run("saltutil.refresh_pillar", "wait=True", minion_tgt="*")
        assert ret.returncode == 0, ret
        return name

    return install
