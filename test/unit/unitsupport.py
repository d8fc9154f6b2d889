"""Fixtures for the unit tests of _modules/layline.py (no Salt daemons needed).

The merged configuration comes from the formula's own layline/map.jinja, rendered by
Salt's renderer (a masterless loader whose file_roots are the checkout) with the test's
pillar: the unit tests see exactly what the states get, and a broken map.jinja or
defaults.yaml fails them loudly.
"""

import copy
import importlib.util
import inspect
import pathlib

import pytest
import salt.config
import salt.loader
import salt.utils.data
import salt.utils.dictupdate

ROOT = pathlib.Path(__file__).resolve().parents[2]
# hands the object itself back (no JSON round trip: test pillars hold dates, NaN, ...)
MAPDATA_TEMPLATE = '{%- from "layline/map.jinja" import mapdata %}{%- do sink.append(mapdata) %}'

SIM_SOURCE = "salt://test/simulator/dist/layline-linux-amd64-{version}.sh"
SECRET = "Top$ecret-pw-4711"  # noqa: S105 - a test value

# the lab's seed topology (docs/design.md, lab contract), MySQL backend
# layline:rolling values both layline.validate (minions) and the runner (master) refuse,
# with the key they must name (layline_checks.rolling_problems is the one rule)
BAD_ROLLING = [
    ({"all": "yes"}, "all"),
    ({"max_unavailable": 0}, "max_unavailable"),
    ({"max_unavailable": "2"}, "max_unavailable"),
    ({"max_unavailable": True}, "max_unavailable"),
    ({"timeout": 0}, "timeout"),
    ({"timeout": 1.5}, "timeout"),
    ({"poll_interval": 0}, "poll_interval"),
    ({"poll_interval": "1"}, "poll_interval"),
    ({"join_timeout": -1}, "join_timeout"),
    ({"join_timeout": "180"}, "join_timeout"),
    ({"on_failure": "retry"}, "on_failure"),
    ({"on_failure": True}, "on_failure"),
]

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


class FakeMinionCalls:
    """``call``/``call_many`` of the runner's Salt client over ``_one(minion, fun, args,
    kwargs) -> (ok, value)``; a failed single call raises ``minion_error``; ``close``
    counts in ``closed``."""

    minion_error = Exception
    closed = 0

    def close(self):
        self.closed += 1

    def call_many(self, minions, fun, *args, **kwargs):
        kwargs.pop("_timeout", None)
        return {m: self._one(m, fun, args, kwargs) for m in minions}

    def call(self, minion, fun, *args, **kwargs):
        ok, value = self.call_many([minion], fun, *args, **kwargs)[minion]
        if not ok:
            raise self.minion_error(value)
        return value


class MapJinja:
    """Renders salt://layline/map.jinja for a given pillar with Salt's own jinja renderer."""

    def __init__(self, cachedir, os_family="Debian"):
        opts = salt.config.minion_config(None)
        opts.update(
            {
                "file_client": "local",
                "file_roots": {"base": [str(ROOT)]},
                "cachedir": str(cachedir),
                "id": "ll-node-1",
                "pillar": {},
                "grains": {"os_family": os_family},
            }
        )
        self._salt = salt.loader.minion_mods(opts, utils=salt.loader.utils(opts))
        self._pillar = {}
        # map.jinja reads the pillar through pillar.get: answer from the test's pillar
        self._salt["pillar.get"] = self._pillar_get

    def _pillar_get(self, key, default="", merge=False, **_):
        return copy.deepcopy(
            salt.utils.data.traverse_dict_and_list(self._pillar, key, default, delimiter=":")
        )

    def render(self, layline_pillar):
        self._pillar = {"layline": copy.deepcopy(layline_pillar)}
        sink = []
        self._salt["slsutil.renderer"](string=MAPDATA_TEMPLATE, default_renderer="jinja", sink=sink)
        assert len(sink) == 1, "layline/map.jinja did not give its mapdata"
        return copy.deepcopy(sink[0])


@pytest.fixture(scope="session")
def map_jinja(tmp_path_factory):
    return MapJinja(tmp_path_factory.mktemp("salt-cache"))


# Lab-like addresses (ll-node-K is .(11+K) in the lab; the others are stand-ins).
LAB_HOSTS = {
    "ll-mysql.orb.local": "10.231.7.10",
    "ll-config-server.orb.local": "10.231.7.11",
    **{f"ll-node-{k}.orb.local": f"10.231.7.{11 + k}" for k in range(1, 10)},
    "localhost": "127.0.0.1",
}


def fake_getaddrinfo(host, hosts=None):
    """getaddrinfo's answer for ``host`` from ``hosts`` (default LAB_HOSTS); IP literals
    resolve to themselves; names under .invalid do not resolve; any other name gets a
    stable address in 10.99.0.0/16 derived from it."""
    import hashlib
    import ipaddress
    import socket

    table = LAB_HOSTS if hosts is None else hosts
    try:
        address = str(ipaddress.ip_address(host))
    except ValueError:
        if host.endswith(".invalid"):
            raise socket.gaierror(-2, "Name or service not known") from None
        digest = hashlib.sha256(host.encode()).digest()
        address = table.get(host) or f"10.99.{digest[0]}.{digest[1] or 1}"
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    return [(family, socket.SOCK_STREAM, 6, "", (address, 0))]


@pytest.fixture(scope="session", autouse=True)
def _resolver_of_the_lab():
    """No DNS in unit tests: the resolver seam of layline_address answers from LAB_HOSTS
    (for the whole session: module-scoped fixtures render with it too)."""
    import layline_address

    real = layline_address.getaddrinfo
    layline_address.getaddrinfo = fake_getaddrinfo
    yield
    layline_address.getaddrinfo = real


@pytest.fixture
def no_dns(monkeypatch):
    """``no_dns(table)``: for this test, names resolve from ``table`` (see fake_getaddrinfo)."""
    import layline_address

    def hosts(table):
        monkeypatch.setattr(
            layline_address, "getaddrinfo", lambda host: fake_getaddrinfo(host, table)
        )

    return hosts


def load_file(rel, name):
    """Import a repository file (``_modules/x.py``, ``_states/x.py``) by path as ``name``."""
    spec = importlib.util.spec_from_file_location(name, ROOT / rel)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
    module.__context__ = {}
    return module


def salt_functions(module, virtualname="layline"):
    """What the loader's ``__salt__`` holds of ``module``: its public functions, by
    ``<virtualname>.<name>`` (other modules call the execution module layline only so)."""
    return {
        f"{virtualname}.{name}": func
        for name, func in vars(module).items()
        if not name.startswith("_")
        and inspect.isfunction(func)
        and func.__module__ == module.__name__
    }


@pytest.fixture
def layline():
    """The module as minion ll-node-1 (change ``layline.__opts__['id']`` to be another)."""
    return load_module()


@pytest.fixture
def make_config(map_jinja):
    """The merged config as map.jinja builds it from the pillars (merged in order)."""

    def build(*pillars):
        pillar = {}
        for item in pillars:
            pillar = salt.utils.dictupdate.merge(pillar, copy.deepcopy(item))
        return map_jinja.render(pillar)

    return build


@pytest.fixture
def seed_config(make_config):
    return make_config(SEED_PILLAR)


@pytest.fixture
def single_config(make_config):
    return make_config(SINGLE_PILLAR)


@pytest.fixture
def tmp_paths_allowed(monkeypatch):
    """Let layline:config_dir (and the other placed paths) lie in pytest's tmp_path (/tmp)."""
    import layline_validate  # noqa: PLC0415 - the copy the loaded modules use (sys.modules)

    trees = tuple(tree for tree in layline_validate.PROTECTED_TREES if tree != "/tmp")
    monkeypatch.setattr(layline_validate, "PROTECTED_TREES", trees)
