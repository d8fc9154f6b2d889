"""Issue 18, findings 3 and 6: the validation holes, each refused naming its pillar key."""

import copy
import pathlib

import pytest
from unitsupport import SEED_PILLAR

import layline_hostfacts
import layline_schema
import layline_validate

ROOT = pathlib.Path(__file__).resolve().parents[3]


def _never_one_machine(config):
    return False


class FakeHost:
    """The ``host`` seam: paths -> owner, accounts by name, groups by name."""

    def __init__(self, paths=None, accounts=None, groups=None):
        self.paths = paths or {}
        self.accounts = accounts or {}
        self.groups = groups or {}

    def path_owner(self, path):
        return self.paths.get(path)

    def account(self, name):
        return self.accounts.get(name)

    def group_gid(self, name):
        return self.groups.get(name)


def _validate(config, host=None):
    return layline_validate.validate(config, is_one_machine=_never_one_machine, host=host)


def _set(config, key, value):
    data = config
    *parents, leaf = key.split(":")
    for part in parents:
        data = data[part]
    data[leaf] = value
    return config


def _errors_of(config, key, host=None):
    errors, _warnings = _validate(config, host)
    return [e for e in errors if e.startswith(f"layline:{key}:")]


PLACED = ("home", "install_dir", "config_dir", "distribution:cache_dir")


@pytest.mark.parametrize("key", PLACED)
@pytest.mark.parametrize(
    "path",
    [
        "/etc/systemd/system",
        "/usr/local/sbin",
        "/etc/cron.d",
        "/var/lib/mysql",
        "/var/lib/mysql/layline",
        "/etc",
        "/usr",
        "/usr/lib",
        "/tmp/layline",
        "/var/tmp/layline",
        "/dev/shm/layline",
        "/srv",
        "/var/lib/salt/layline",
        "/var/lib/layline-formula",
        "/root/layline",
    ],
)
def test_paths_root_relies_on_are_refused(seed_config, key, path):
    config = _set(copy.deepcopy(seed_config), key, path)
    assert _errors_of(config, key), _validate(config)


@pytest.mark.parametrize("key", PLACED)
@pytest.mark.parametrize(
    "path", ["/data/layline", "/usr/local/share/layline", "/var/www", "/etc/nginx"]
)
def test_paths_outside_the_allowlist_refused_when_they_exist(seed_config, key, path):
    config = _set(copy.deepcopy(seed_config), key, path)
    assert _errors_of(config, key, FakeHost(paths={path: "root"}))
    assert not _errors_of(config, key, FakeHost())  # does not exist yet: the formula's own


def test_an_existing_home_outside_the_allowlist_owned_by_the_service_user(seed_config):
    config = _set(copy.deepcopy(seed_config), "home", "/data/layline")
    assert not _errors_of(config, "home", FakeHost(paths={"/data/layline": "layline"}))
    # root-written directories never count as the service user's
    config = _set(copy.deepcopy(seed_config), "install_dir", "/data/opt")
    assert _errors_of(config, "install_dir", FakeHost(paths={"/data/opt": "layline"}))


@pytest.mark.parametrize(
    "key,path",
    [
        ("home", "/var/lib/layline"),
        ("home", "/home/layline"),
        ("install_dir", "/opt/layline"),
        ("install_dir", "/usr/local/layline"),
        ("config_dir", "/etc/layline"),
        ("distribution:cache_dir", "/var/cache/layline"),
    ],
)
def test_allowlisted_paths_pass_even_when_they_exist(seed_config, key, path):
    config = _set(copy.deepcopy(seed_config), key, path)
    owner = "layline" if key == "home" else "root"
    assert not _errors_of(config, key, FakeHost(paths={path: owner}))


@pytest.mark.parametrize("key", PLACED)
@pytest.mark.parametrize(
    "path,owner", [("/home/alice", "alice"), ("/var/lib/postgresql", "postgres")]
)
def test_allowlisted_paths_of_other_accounts_are_refused(seed_config, key, path, owner):
    config = _set(copy.deepcopy(seed_config), key, path)
    assert _errors_of(config, key, FakeHost(paths={path: owner}))


def test_an_existing_root_owned_home_is_refused_even_when_allowlisted(seed_config):
    config = _set(copy.deepcopy(seed_config), "home", "/var/lib/dpkg")
    assert _errors_of(config, "home", FakeHost(paths={"/var/lib/dpkg": "root"}))


def _account(gecos=layline_schema.ACCOUNT_GECOS, system=True, home="/var/lib/layline", gid=990):
    return {
        "system": system,
        "gecos": gecos,
        "home": home,
        "shell": "/usr/sbin/nologin",
        "gid": gid,
    }


@pytest.mark.parametrize(
    "name,account",
    [
        ("mysql", _account(gecos="MySQL Server,,,", home="/nonexistent")),
        ("www-data", _account(gecos="www-data", home="/var/www")),
        ("layline", _account(system=False)),  # a person's account of that name
        ("layline", _account(gecos="someone else")),  # legacy shape, but its home is not its own
    ],
)
def test_existing_accounts_the_formula_did_not_create_are_refused(seed_config, name, account):
    config = copy.deepcopy(seed_config)
    config.update(user=name, group=name)
    host = FakeHost(accounts={name: account}, groups={name: 990})
    assert _errors_of(config, "user", host)


def test_the_formulas_account_passes_also_one_created_before_the_comment(seed_config):
    config = copy.deepcopy(seed_config)
    assert not _validate(
        config, FakeHost(accounts={"layline": _account()}, groups={"layline": 990})
    )[0]
    legacy = FakeHost(
        paths={"/var/lib/layline": "layline"},
        accounts={"layline": _account(gecos="")},
        groups={"layline": 990},
    )
    assert not _validate(config, legacy)[0]


def test_an_existing_group_that_is_not_the_accounts_primary_group(seed_config):
    config = copy.deepcopy(seed_config)
    config["group"] = "www-data"
    assert _errors_of(config, "group", FakeHost(groups={"www-data": 33}))
    host = FakeHost(accounts={"layline": _account()}, groups={"www-data": 33})
    assert _errors_of(config, "group", host)


def test_the_install_state_writes_the_comment_validation_looks_for():
    text = (ROOT / "layline" / "install" / "init.sls").read_text()
    assert f"- fullname: {layline_schema.ACCOUNT_GECOS}\n" in text


def test_host_facts_of_this_machine(tmp_path):
    facts = layline_hostfacts.HostFacts()
    assert facts.path_owner(str(tmp_path / "missing")) is None
    (tmp_path / "link").symlink_to("/etc/shadow")
    assert facts.path_owner(str(tmp_path / "link")) == "root"  # the link, not its target
    assert facts.account("root")["system"] is False  # uid 0 is not a system account
    assert facts.account("no-such-account-xyz") is None
    assert facts.group_gid("root") == 0


@pytest.mark.parametrize("shell", ["/bin/bash", "/bin/sh", "/usr/bin/zsh"])
def test_nologin_shell_must_be_a_non_login_shell(seed_config, shell):
    config = _set(copy.deepcopy(seed_config), "nologin_shell", shell)
    assert _errors_of(config, "nologin_shell")


MINION_KEYS = [
    "cluster:nodes[1]:minion",
    "config_server:minion",
    "database:minion",
    "monitoring:minion",
    "tls:ca_minion",
]


def _set_minion(config, key, value):
    if key.startswith("cluster:nodes"):
        config["cluster"]["nodes"][1]["minion"] = value
    elif key == "monitoring:minion":
        config["monitoring"].update(minion=value, hostname="mon.example.net")
    else:
        _set(config, key, value)
    return config


@pytest.mark.parametrize("key", MINION_KEYS)
@pytest.mark.parametrize(
    "value", ["ll-node-2,ll-mysql,salt-master", "*", "ll-node-?", "ll-[12]", "ll-{a,b}", "a b"]
)
def test_minion_ids_are_salt_ids_without_target_syntax(seed_config, key, value):
    config = _set_minion(copy.deepcopy(seed_config), key, value)
    assert _errors_of(config, key), _validate(config)


def test_orch_writes_minion_ids_as_json():
    text = (ROOT / "layline" / "orch" / "deploy.sls").read_text()
    assert "- tgt: {{ step.minion }}" not in text
    assert text.count("- tgt: {{ [step.minion] | json }}") == 2


@pytest.mark.parametrize(
    "host", ["0.0.0.0/0", "0.0.0.0/0.0.0.0", "10.0.0.0/7", "%%", "_%", "%.%", "___"]
)
def test_allowed_hosts_catch_alls_other_than_percent_are_refused(seed_config, host):
    config = copy.deepcopy(seed_config)
    config["database"]["allowed_hosts"] = ["10.0.0.5", host]
    assert _errors_of(config, "database:allowed_hosts[1]")


@pytest.mark.parametrize("host", ["10.0.0.0/8", "10.0.0.%", "%"])
def test_allowed_hosts_narrower_patterns_pass(seed_config, host):
    config = copy.deepcopy(seed_config)
    config["database"]["allowed_hosts"] = [host]
    assert not _errors_of(config, "database:allowed_hosts[0]")


@pytest.mark.parametrize(
    "path",
    [
        "pekko.management.http.route-providers-read-only",
        "pekko.management.http.route-providers",
        "pekko.remote.artery.enabled",
        "pekko.remote.artery.transport",
        "pekko.remote.classic.netty.tcp.port",
        "pekko.remote.enabled-transports",
    ],
)
def test_extra_config_cannot_turn_off_read_only_routes_or_artery(seed_config, path):
    config = copy.deepcopy(seed_config)
    config["extra_config"] = {"reactive_engine": {path: False}}
    errors, _warnings = _validate(config)
    assert any(e.startswith(f"layline:extra_config:reactive_engine:{path}:") for e in errors)


@pytest.mark.parametrize("key", ["ports:rest", "ports:cluster", "ports:management"])
@pytest.mark.parametrize("port", [22, 4505, 4506])
def test_ssh_and_salt_ports_are_refused(seed_config, key, port):
    config = _set(copy.deepcopy(seed_config), key, port)
    assert _errors_of(config, key)


def test_database_port_22_is_refused(seed_config):
    config = _set(copy.deepcopy(seed_config), "database:port", 22)
    assert _errors_of(config, "database:port")


@pytest.mark.parametrize("shape", ["mapping", "list", "dotted"])
def test_deep_extra_config_is_an_error_not_a_recursion_error(seed_config, shape):
    deep = "leaf"
    for _level in range(5000 if shape != "dotted" else 1):
        deep = {"k": deep} if shape == "mapping" else [deep]
    if shape == "dotted":
        deep = {".".join(["k"] * (layline_schema.MAX_EXTRA_DEPTH + 2)): "leaf"}
    config = copy.deepcopy(seed_config)
    config["extra_config"] = {"reactive_engine": {"custom": deep}}
    assert _errors_of(config, "extra_config:reactive_engine")


def test_moderately_nested_extra_config_passes(seed_config):
    config = copy.deepcopy(seed_config)
    config["extra_config"] = {"reactive_engine": {"a": {"b": {"c": [1, {"d": "x"}]}}}}
    assert _validate(config)[0] == []


def test_an_empty_version_is_an_error_naming_the_key(make_config):
    config = make_config(SEED_PILLAR, {"version": None})
    assert config["version"] is None  # map.jinja keeps the null; no silent default
    errors = _errors_of(config, "version")
    assert errors == ["layline:version: must be a string, got null (quote it in YAML)"]
