"""Fixtures for the unit tests of _modules/layline.py (no Salt daemons needed).

The formula defaults come from layline/defaults.yaml (the file map.jinja reads);
FALLBACK_DEFAULTS mirrors the pillar model of docs/design.md for a checkout
without it.
"""

import copy
import importlib.util
import pathlib

import pytest
import salt.utils.dictupdate
import salt.utils.yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
DEFAULTS_FILE = ROOT / "layline" / "defaults.yaml"

FALLBACK_DEFAULTS = {
    "version": "2.5.4",
    "distribution": {
        "source": "https://download.layline.io/releases/layline-linux-amd64-{version}.sh",
        "source_hash": "",
        "installer_args": [],
    },
    "install_dir": "/opt/layline",
    "user": "layline",
    "group": "layline",
    "home": "/var/lib/layline",
    "ports": {"config_server": 5841, "rest": 5842, "cluster": 5843, "management": 8558},
    "cluster": {
        "name": "Production",
        "nodes": [],
        "min_nr_of_members": 1,
        "split_brain_resolver": {"strategy": "keep-majority", "stable_after": "20s",
                                 "quorum_size": None},
    },
    "config_server": {"minion": None, "hostname": None},
    "database": {
        "backend": "h2", "minion": None, "hostname": None, "port": 3306, "name": "layline",
        "user": "layline", "password": "", "allowed_hosts": [], "ssl": False,
    },
    "extra_config": {"reactive_engine": {}, "config_server": {}},
}

SIM_SOURCE = "salt://test/simulator/dist/layline-linux-amd64-{version}.sh"
SECRET = "Top$ecret-pw-4711"  # noqa: S105 - a test value

# the lab's seed topology (docs/design.md, lab contract), MySQL backend
SEED_PILLAR = {
    "distribution": {"source": SIM_SOURCE, "source_hash": SIM_SOURCE + ".sha256"},
    "cluster": {
        "nodes": [
            {"minion": "ll-node-1", "hostname": "ll-node-1.orb.local"},
            {"minion": "ll-node-2", "hostname": "ll-node-2.orb.local"},
            {"minion": "ll-node-3", "hostname": "ll-node-3.orb.local"},
        ],
        "min_nr_of_members": 2,
    },
    "config_server": {"minion": "ll-config-server", "hostname": "ll-config-server.orb.local"},
    "database": {
        "backend": "mysql",
        "minion": "ll-mysql",
        "hostname": "ll-mysql.orb.local",
        "password": SECRET,
    },
}

SINGLE_PILLAR = {"distribution": {"source": SIM_SOURCE, "source_hash": "sha256=" + "ab" * 32}}


def load_defaults():
    if DEFAULTS_FILE.is_file():
        data = salt.utils.yaml.safe_load(DEFAULTS_FILE.read_text())
        return data.get("layline", data)
    return copy.deepcopy(FALLBACK_DEFAULTS)


def load_module(opts_id="ll-node-1"):
    """Import _modules/layline.py by path with the loader dunders injected."""
    spec = importlib.util.spec_from_file_location(
        f"layline_under_test_{opts_id}", ROOT / "_modules" / "layline.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.__opts__ = {"id": opts_id}
    module.__salt__ = {}
    module.__context__ = {}
    module.__grains__ = {"os_family": "Debian"}
    module.__pillar__ = {}
    return module


@pytest.fixture
def layline():
    """The module as minion ll-node-1 (change ``layline.__opts__['id']`` to be another)."""
    return load_module()


def map_jinja_post_process(config):
    """What layline/map.jinja does after the merge (the module renders map.jinja itself)."""
    version = str(config.get("version", ""))
    config["version"] = version
    distribution = config["distribution"]
    for key in ("source", "source_hash"):
        if distribution.get(key):
            distribution[key] = str(distribution[key]).replace("{version}", version)
    if not distribution.get("installer_args"):
        distribution["installer_args"] = ["-q", "-dir", "{dir}"]
    return config


@pytest.fixture
def make_config(layline):
    """Build the merged config like map.jinja: defaults, then the pillar, then post-processing."""

    def build(*pillars):
        config = load_defaults()
        for pillar in pillars:
            config = salt.utils.dictupdate.merge(config, copy.deepcopy(pillar))
        return map_jinja_post_process(config)

    return build


@pytest.fixture
def seed_config(make_config):
    return make_config(SEED_PILLAR)


@pytest.fixture
def single_config(make_config):
    return make_config(SINGLE_PILLAR)
