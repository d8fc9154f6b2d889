"""
A re-sync on a running minion takes effect: a changed ``_utils`` file is in use by the
next job without a minion restart, with and without ``multiprocessing: False`` (where
every job runs in the minion's main process, which imported the old utils).

The master serves a copy of the formula's Python (never the checkout's own files), so
the test can change a utils file in its file_roots.
"""

import pathlib
import shutil

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]

MINIONS = {"ll-resync-mp": True, "ll-resync-nomp": False}


@pytest.fixture(scope="module")
def roots(tmp_path_factory):
    root = tmp_path_factory.mktemp("resync-roots")
    for folder in ("_modules", "_states", "_utils"):
        shutil.copytree(REPO / folder, root / folder)
    shutil.copytree(REPO / "layline", root / "layline")
    return root


@pytest.fixture(scope="module")
def resync_master(salt_factories, roots, tmp_path_factory):
    pillar = tmp_path_factory.mktemp("resync-pillar")
    overrides = {
        "file_roots": {"base": [str(roots)]},
        "pillar_roots": {"base": [str(pillar)]},
        "open_mode": True,
        "timeout": 60,
    }
    factory = salt_factories.salt_master_daemon("layline-resync-master", overrides=overrides)
    with factory.started(start_timeout=120):
        yield factory


@pytest.fixture(scope="module")
def resync_minions(resync_master):
    factories = [
        resync_master.salt_minion_daemon(minion_id, overrides={"multiprocessing": mp})
        for minion_id, mp in MINIONS.items()
    ]
    for factory in factories:
        factory.start(start_timeout=120)
    try:
        yield factories
    finally:
        for factory in factories:
            factory.terminate()


def _roles(cli, minion_id):
    # the single-host default (empty model) puts both roles on the minion:
    # layline_model.is_single_host decides it
    ret = cli.run("layline.roles", "config={}", f"minion_id={minion_id}", minion_tgt=minion_id)
    assert ret.returncode == 0, ret
    return ret.data


def test_a_changed_util_takes_effect_after_a_resync(resync_master, resync_minions, roots):
    cli = resync_master.salt_cli(timeout=120)
    assert cli.run("saltutil.sync_all", minion_tgt="*").returncode == 0
    for minion_id in MINIONS:
        assert _roles(cli, minion_id) == ["config-server", "engine"]
    # the utils are now imported in each minion's processes; change one on the master
    model = roots / "_utils" / "layline_model.py"
    text = model.read_text()
    old = 'return not nodes(config) and not section(config, "config_server").get("minion")'
    assert old in text
    model.write_text(text.replace(old, "return False  # changed by test_resync"))
    ret = cli.run("saltutil.sync_all", minion_tgt="*")
    assert ret.returncode == 0, ret
    for minion_id in MINIONS:
        assert "utils.layline_model" in ret.data[minion_id]["utils"], ret.data[minion_id]
        # no longer single host: no nodes, so no roles
        assert _roles(cli, minion_id) == [], minion_id
