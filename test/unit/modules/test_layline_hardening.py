"""Hardening: hostile pillar values are refused naming the key, nothing renders; values are
quoted where they are written; root writes without following the service user's links."""

import copy
import hashlib
import os
import pathlib
import pwd

import jinja2
import pytest
from salt.exceptions import CommandExecutionError
from unitsupport import ROOT, SECRET, SEED_PILLAR, SINGLE_PILLAR, load_module

import layline_files

INJECTION = "x\nExecStartPre=+/usr/bin/touch /tmp/pwned"
MY_CNF_INJECTION = "0.0.0.0\nskip-grant-tables"

# every string field of the model that reaches a file, a command or a unit
STRING_FIELDS = [
    ("version",),
    ("install_dir",),
    ("config_dir",),
    ("user",),
    ("group",),
    ("home",),
    ("nologin_shell",),
    ("distribution", "source"),
    ("distribution", "source_hash"),
    ("distribution", "cache_dir"),
    ("cluster", "name"),
    ("cluster", "split_brain_resolver", "stable_after"),
    ("cluster", "split_brain_resolver", "strategy"),
    ("config_server", "hostname"),
    ("config_server", "minion"),
    ("database", "hostname"),
    ("database", "minion"),
    ("database", "name"),
    ("database", "user"),
    ("database", "server_package"),
    ("database", "client_package"),
    ("database", "service"),
    ("database", "server_config"),
    ("database", "bind_address"),
    ("database", "socket"),
    ("python", "index_url"),
    ("python", "extra_index_url"),
    ("python", "requirements"),
]
LIST_FIELDS = [
    ("distribution", "installer_args"),
    ("distribution", "prerequisites"),
    ("database", "allowed_hosts"),
]
OS_FAMILY = {
    "nologin_shell": "/usr/sbin/nologin",
    "database": {
        "server_package": "mariadb-server",
        "client_package": "mariadb-client",
        "service": "mariadb",
        "server_config": "/etc/mysql/mariadb.conf.d/60-layline.cnf",
        "socket": "/run/mysqld/mysqld.sock",
        "bind_address": "0.0.0.0",
    },
}


@pytest.fixture
def config(make_config):
    return make_config(OS_FAMILY, SEED_PILLAR)


def _set(config, path, value):
    node = config
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value


def _errors(layline, config, minion_id="ll-node-1"):
    return layline._validate(config, minion_id)[0]


def _assert_refused(layline, config, key):
    errors = _errors(layline, config)
    assert any(error.startswith(f"layline:{key}") for error in errors), (key, errors)
    with pytest.raises(CommandExecutionError, match="invalid model"):
        layline._render_text("reactive-engine", config, "ll-node-1")


def test_the_fixture_model_is_valid(layline, config):
    assert _errors(layline, config) == []


@pytest.mark.parametrize("path", STRING_FIELDS, ids=":".join)
def test_newline_and_directive_in_every_string_field_is_refused(layline, config, path):
    _set(config, path, INJECTION)
    _assert_refused(layline, config, ":".join(path))


@pytest.mark.parametrize("path", LIST_FIELDS, ids=":".join)
def test_newline_in_every_list_field_is_refused(layline, config, path):
    _set(config, path, ["ok", INJECTION])
    _assert_refused(layline, config, ":".join(path))


def test_newline_in_a_node_is_refused(layline, config):
    config["cluster"]["nodes"][1]["hostname"] = INJECTION
    _assert_refused(layline, config, "cluster:nodes[1]:hostname")
    config["cluster"]["nodes"][1]["hostname"] = "ll-node-2.orb.local"
    config["cluster"]["nodes"][1]["minion"] = "ll-node-2\nx"
    _assert_refused(layline, config, "cluster:nodes[1]:minion")


def test_my_cnf_injection_is_refused(layline, config):
    config["database"]["bind_address"] = MY_CNF_INJECTION
    _assert_refused(layline, config, "database:bind_address")


@pytest.mark.parametrize("key", ["install_dir", "home", "config_dir", "distribution:cache_dir"])
@pytest.mark.parametrize(
    "value",
    ["/opt/../etc", "/opt/layline/", "relative/dir", "/opt//x", "/opt/lay line", '/opt/"x"'],
)
def test_paths_must_be_absolute_normalised_single_words(layline, config, key, value):
    _set(config, key.split(":"), value)
    _assert_refused(layline, config, key)


@pytest.mark.parametrize("key", ["install_dir", "home", "config_dir", "distribution:cache_dir"])
@pytest.mark.parametrize(
    "value",
    [
        "/",
        "/etc",
        "/usr",
        "/var",
        "/var/lib",
        "/bin",
        "/home",
        "/root",
        "/boot",
        "/proc",
        "/sys",
        "/dev",
        "/run",
        "/tmp",
    ],
)
def test_system_directories_are_refused(layline, config, key, value):
    _set(config, key.split(":"), value)
    _assert_refused(layline, config, key)


@pytest.mark.parametrize(
    "key,value",
    [
        ("install_dir", "/var/lib/layline/opt"),
        ("distribution:cache_dir", "/var/lib/layline/c"),
        ("config_dir", "/var/lib/layline/etc"),
    ],
)
def test_root_owned_places_must_be_outside_the_service_users_home(layline, config, key, value):
    _set(config, key.split(":"), value)
    _assert_refused(layline, config, key)


@pytest.mark.parametrize("hostname", ["10.0.0.300", "256.1.1.1", "1.2.3", "999"])
def test_ipv4_shaped_hostnames_must_be_valid_addresses(layline, config, hostname):
    config["cluster"]["nodes"][0]["hostname"] = hostname
    _assert_refused(layline, config, "cluster:nodes[0]:hostname")


@pytest.mark.parametrize(
    "path,value",
    [
        (("version",), None),
        (("cluster", "min_nr_of_members"), None),
        (("ports", "rest"), "5842"),
        (("database", "tls"), 7),
        (("cluster", "nodes"), None),
        (("database", "password"), None),
        (("cluster", "name"), 7),
    ],
)
def test_null_and_wrong_types_are_errors(layline, config, path, value):
    _set(config, path, value)
    errors = _errors(layline, config)
    assert any(e.startswith(f"layline:{':'.join(path)}: must be") for e in errors), errors


@pytest.mark.parametrize("source", ["http://example.com/l.sh", "ftp://example.com/l.sh"])
def test_unauthenticated_sources_are_refused(layline, config, source):
    config["distribution"]["source"] = source
    _assert_refused(layline, config, "distribution:source")


@pytest.mark.parametrize(
    "role,key,instead",
    [
        ("reactive_engine", "pekko.cluster.seed-nodes", "layline:cluster:nodes"),
        ("reactive_engine", "pekko.remote.artery.canonical.hostname", "layline:cluster:nodes"),
        ("reactive_engine", "pekko.cluster.downing-provider-class", "split_brain_resolver"),
        ("reactive_engine", "pekko.cluster.split-brain-resolver.active-strategy", "strategy"),
        ("reactive_engine", "pekko.management.http.port", "layline:ports:management"),
        ("reactive_engine", "pekko.coordinated-shutdown.exit-jvm", "unit restarts it"),
        ("reactive_engine", "pekko.cluster.run-coordinated-shutdown-when-down", "unit restarts it"),
        (
            "reactive_engine",
            "pekko-persistence-jdbc.shared-databases.mysql.db.url",
            "layline:database",
        ),
        ("reactive_engine", "jdbc-journal.use-shared-db", "layline:database"),
        ("reactive_engine", "pekko.cluster", "layline:cluster:nodes"),  # replaces the whole tree
        ("config_server", "layline.config-server.rest-server.bind.port", "ports:config_server"),
        ("config_server", "pekko.persistence.journal.plugin", "layline:database"),
    ],
)
def test_formula_owned_keys_cannot_be_overridden(layline, config, role, key, instead):
    config["extra_config"][role] = {key: "x"}
    errors = _errors(layline, config)
    assert len(errors) == 1, errors
    assert errors[0].startswith(f"layline:extra_config:{role}:{key}")
    assert "is set by the formula" in errors[0] and instead in errors[0]


def test_other_extra_config_keys_stay_allowed(layline, config):
    config["extra_config"]["reactive_engine"] = {
        "pekko.loglevel": "DEBUG",
        "pekko.cluster.roles": ["a"],
        "pekko.remote.artery.advanced.maximum-frame-size": "1 MiB",
        "pekko-persistence-jdbc.logicalDeletion.enable": False,
    }
    assert _errors(layline, config) == []


def test_no_secret_in_any_message(layline, config):
    config["database"]["password"] = SECRET
    config["home"] = INJECTION
    config["extra_config"]["reactive_engine"] = {"pekko.cluster.seed-nodes": [SECRET]}
    errors = _errors(layline, config)
    assert errors and not any(SECRET in error for error in errors)


# ------------------------------------------------------------------ quoting where written


@pytest.mark.parametrize(
    "value,kind,expected",
    [
        ("/opt/layline/bin/reactive-engine", "word", '"/opt/layline/bin/reactive-engine"'),
        ('a"b\\c', "word", '"a\\"b\\\\c"'),
        ("100%", "word", '"100%%"'),
        ("$HOME", "word", '"$$HOME"'),
        ("HOME=/var/lib/layline", "assignment", '"HOME=/var/lib/layline"'),
        ("layline", "plain", "layline"),
        ("/srv/50%", "plain", "/srv/50%%"),
    ],
)
def test_systemd_quote(layline, value, kind, expected):
    assert layline.systemd_quote(value, kind) == expected


@pytest.mark.parametrize(
    "value,kind",
    [
        (INJECTION, "word"),
        (INJECTION, "assignment"),
        ("a\rb", "plain"),
        ("a b", "plain"),
        ('a"b', "plain"),
        ("x", "other"),
    ],
)
def test_systemd_quote_refuses(layline, value, kind):
    with pytest.raises(CommandExecutionError):
        layline.systemd_quote(value, kind)


def _render_template(path, **context):
    layline = load_module()
    env = jinja2.Environment(  # noqa: S701 - not HTML
        loader=jinja2.FileSystemLoader(str(ROOT)),
        extensions=["jinja2.ext.do"],
    )
    funcs = {"layline.systemd_quote": layline.systemd_quote}
    return env.get_template(path).render(salt=funcs, **context)


def _unit(**overrides):
    context = {
        "description": "layline.io reactive engine",
        "user": "layline",
        "group": "layline",
        "home": "/var/lib/layline",
        "exec_start": [
            "/opt/layline/bin/reactive-engine",
            "-J-Dlayline.configDirectory=/etc/layline/reactive-engine",
        ],
        "exec_start_pre": [],
        "after": ["network-online.target"],
        "protect_home": True,
    }
    context.update(overrides)
    return _render_template("layline/service/files/layline.service.jinja", **context)


def test_unit_template_quotes_and_hardens():
    unit = _unit()
    assert (
        'ExecStart="/opt/layline/bin/reactive-engine" '
        '"-J-Dlayline.configDirectory=/etc/layline/reactive-engine"'
    ) in unit
    assert 'Environment="HOME=/var/lib/layline"' in unit
    assert 'ReadWritePaths="/var/lib/layline"' in unit
    for line in (
        "ProtectSystem=strict",
        "CapabilityBoundingSet=",
        "UMask=0027",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
        "PrivateDevices=yes",
        "SystemCallFilter=@system-service",
        "TimeoutStopSec=90",
    ):
        assert line in unit.splitlines(), line
    assert not any(line.startswith("MemoryDenyWriteExecute") for line in unit.splitlines())


def test_unit_template_restarts_a_downed_member_forever_but_not_a_clean_stop():
    lines = _unit().splitlines()
    unit_section = lines[: lines.index("[Service]")]
    # no start limit: a member downed during a long partition is always started again
    assert "StartLimitIntervalSec=0" in unit_section
    assert "Restart=on-failure" in lines and "RestartSec=5" in lines
    # 143 (SIGTERM: graceful leave) is success, so a stop is never undone by Restart=
    assert "SuccessExitStatus=143" in lines
    assert not any(
        line.startswith(("Restart=always", "RestartPreventExitStatus")) for line in lines
    )


@pytest.mark.parametrize("field", ["user", "group", "home"])
def test_unit_template_refuses_a_newline_even_unvalidated(field):
    with pytest.raises(CommandExecutionError):
        _unit(**{field: INJECTION})


def test_unit_template_keeps_a_hostile_argument_one_word():
    unit = _unit(exec_start=["/opt/layline/bin/reactive-engine", "a b; ExecStartPre=x"])
    assert 'ExecStart="/opt/layline/bin/reactive-engine" "a b; ExecStartPre=x"' in unit
    assert not any(line.startswith("ExecStartPre") for line in unit.splitlines())


def test_my_cnf_template_quotes():
    text = _render_template(
        "layline/mysql/files/layline.cnf.jinja",
        bind_address="10.0.0.1",
        port=3306,
        socket="/run/mysqld/mysqld.sock",
    )
    assert 'bind-address = "10.0.0.1"' in text and "port = 3306" in text


# ------------------------------------------------------------------ root's writes


@pytest.fixture
def states(tmp_path, make_config):
    """_states/layline.py with the execution module as its model (tests run as root)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "layline_states_hardening", ROOT / "_states" / "layline.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = load_module("ll-config-server")
    module.__salt__ = {"layline.validate": model.validate}
    module.__opts__ = {"id": "ll-config-server", "test": False}
    return module


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")


def _victim(tmp_path):
    victim = tmp_path / "root-only"
    victim.write_text("root's data\n")
    victim.chmod(0o600)
    return victim


def _fingerprint(path):
    info = os.lstat(path)
    return hashlib.sha256(path.read_bytes()).hexdigest(), info.st_mode, info.st_uid, info.st_gid


@needs_root
def test_planted_symlinks_are_never_followed(states, tmp_path):
    nobody = pwd.getpwnam("nobody")
    home = tmp_path / "home"
    clusters = home / ".layline" / "config-server" / "clusters"
    clusters.mkdir(parents=True)
    for directory in (home, *list(clusters.parents)[:3]):
        os.chown(directory, nobody.pw_uid, nobody.pw_gid)
    victim = _victim(tmp_path)
    before = _fingerprint(victim)
    target = clusters / "Production.json"
    target.symlink_to(victim)
    ret = states._file_state(str(target), b"{}\n", "nobody", "nogroup", 0o640)
    assert ret["result"] is True and ret["changes"]
    assert _fingerprint(victim) == before
    assert not target.is_symlink() and target.read_bytes() == b"{}\n"
    assert (target.stat().st_uid, oct(target.stat().st_mode & 0o777)) == (nobody.pw_uid, "0o640")
    # a planted directory link: refused, nothing written anywhere
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    target.unlink()
    clusters.rmdir()
    clusters.symlink_to(elsewhere)
    ret = states._file_state(str(target), b"{}\n", "nobody", "nogroup", 0o640)
    assert ret["result"] is False and "symbolic link" in ret["comment"]
    assert list(elsewhere.iterdir()) == []


@needs_root
def test_missing_directories_are_created_for_the_user_without_links(states, tmp_path):
    nobody = pwd.getpwnam("nobody")
    home = tmp_path / "home"
    home.mkdir()
    os.chown(home, nobody.pw_uid, nobody.pw_gid)
    target = home / ".layline" / "config-server" / "clusters" / "Production.json"
    ret = states._file_state(
        str(target),
        b"{}\n",
        "nobody",
        "nogroup",
        0o640,
        create_dirs=(nobody.pw_uid, nobody.pw_gid, 0o750),
    )
    assert ret["result"] is True
    created = target.parent
    assert (created.stat().st_uid, oct(created.stat().st_mode & 0o777)) == (nobody.pw_uid, "0o750")
    again = states._file_state(str(target), b"{}\n", "nobody", "nogroup", 0o640)
    assert again["changes"] == {} and again["result"] is True


@needs_root
def test_application_conf_is_never_world_readable_and_never_shown(
    states, tmp_path, make_config, monkeypatch
):
    conf_dir = tmp_path / "etc"
    conf_dir.mkdir()
    (conf_dir / "application.conf").write_text("installer default\n")
    (conf_dir / "application.conf").chmod(0o644)
    modes = []
    real_write_at = layline_files.write_at

    def spy(dir_fd, name, data, uid, gid, mode):
        original_open = os.open

        def recording_open(path, flags, mode_arg=0o777, *, dir_fd=None):
            fd = original_open(path, flags, mode_arg, dir_fd=dir_fd)
            if flags & os.O_CREAT:
                modes.append(os.fstat(fd).st_mode & 0o777)
            return fd

        monkeypatch.setattr(os, "open", recording_open)
        try:
            return real_write_at(dir_fd, name, data, uid, gid, mode)
        finally:
            monkeypatch.setattr(os, "open", original_open)

    monkeypatch.setattr(layline_files, "write_at", spy)
    config = make_config(copy.deepcopy(SINGLE_PILLAR), {"database": {"password": SECRET}})
    states.__opts__["id"] = "ll-single"
    ret = states.config_managed(
        str(conf_dir / "application.conf"), "config-server", "root", config=config
    )
    assert ret["result"] is True, ret
    assert modes and all(mode & 0o007 == 0 for mode in modes)  # never readable by others
    assert SECRET not in repr(ret)
    assert ret["changes"]["content"] == "<hidden: contains secrets>"
    info = (conf_dir / "application.conf").stat()
    assert oct(info.st_mode & 0o777) == "0o640"
    assert SECRET in (conf_dir / "application.conf").read_text()


@needs_root
def test_test_mode_changes_nothing(states, tmp_path, make_config):
    states.__opts__.update(test=True, id="ll-single")
    target = tmp_path / "application.conf"
    ret = states.config_managed(
        str(target), "config-server", "root", config=make_config(SINGLE_PILLAR)
    )
    assert ret["result"] is None and ret["changes"] and not target.exists()


@needs_root
def test_cluster_definition_absent_does_not_follow_links(states, tmp_path):
    victim = _victim(tmp_path)
    clusters = tmp_path / "home" / "clusters"
    clusters.mkdir(parents=True)
    nobody = pwd.getpwnam("nobody")
    os.chown(tmp_path / "home", nobody.pw_uid, nobody.pw_gid)  # the service user's directory
    (tmp_path / "home" / "linked").symlink_to(tmp_path)
    ret = states.cluster_definition_absent(str(tmp_path / "home" / "linked" / victim.name))
    assert ret["result"] is False and victim.exists()
    (clusters / "Production.json").symlink_to(victim)
    ret = states.cluster_definition_absent(str(clusters / "Production.json"))
    assert ret["result"] is True and victim.exists()
    assert not (clusters / "Production.json").is_symlink()


def test_sls_files_pass_no_configuration_as_state_data():
    for sls in pathlib.Path(ROOT, "layline").rglob("*.sls"):
        text = sls.read_text()
        assert "- config:" not in text, sls
        assert "password:" not in text.replace("password_hash:", ""), sls


def test_clean_sls_files_validate_first():
    for name in ("config", "cluster", "service", "mysql"):
        text = (ROOT / "layline" / name / "clean.sls").read_text()
        assert ".validate.clean" in text, name
