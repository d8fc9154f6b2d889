"""layline.validate: every message names the pillar key; no secret leaks."""

import copy

import pytest
from unitsupport import ROOT, SECRET, SEED_PILLAR, SINGLE_PILLAR


def _errors(layline, config, minion_id="ll-node-1"):
    return layline._validate(config, minion_id)[0]


def _warnings(layline, config, minion_id="ll-node-1"):
    return layline._validate(config, minion_id)[1]


def _nodes(count):
    return [{"minion": f"n{i}", "hostname": f"n{i}.example.net"} for i in range(1, count + 1)]


def test_seed_and_single_host_configs_are_valid(layline, seed_config, single_config):
    assert layline._validate(seed_config, "ll-node-1") == ([], [])
    assert layline._validate(single_config, "ll-single") == ([], [])


def test_validate_public_api(layline, seed_config, make_config):
    assert layline.validate(seed_config) == {"errors": [], "warnings": []}
    assert "retcode" not in layline.__context__
    broken = make_config(SEED_PILLAR, {"user": "root", "ports": {"rest": 0}})
    errors = layline.validate(broken)["errors"]
    assert len(errors) == 2
    assert errors[0].startswith("layline:user") and errors[1].startswith("layline:ports:rest")
    assert layline.__context__["retcode"] == 1
    assert not hasattr(layline, "check")  # removed: validate is the one check


def test_duplicate_hostname_names_both_keys(layline, make_config):
    nodes = copy.deepcopy(SEED_PILLAR["cluster"]["nodes"])
    nodes[1]["hostname"] = "LL-node-1.orb.local"
    errors = _errors(layline, make_config(SEED_PILLAR, {"cluster": {"nodes": nodes}}))
    assert errors == [
        "layline:cluster:nodes[1]:hostname: duplicate of layline:cluster:nodes[0]:hostname "
        "'LL-node-1.orb.local'"
    ]


def test_duplicate_minion_and_missing_hostname(layline, make_config):
    nodes = [{"minion": "a", "hostname": "a.example"}, {"minion": "a"}, "b"]
    errors = _errors(layline, make_config(SEED_PILLAR, {"cluster": {"nodes": nodes}}))
    assert any(
        e.startswith(
            "layline:cluster:nodes[1]:minion: duplicate of layline:cluster:nodes[0]:minion"
        )
        for e in errors
    )
    assert "layline:cluster:nodes[1]:hostname: is required" in errors
    assert any(e.startswith("layline:cluster:nodes[2]: must be a mapping") for e in errors)


@pytest.mark.parametrize("hostname", ["bad host", "-x.example", "a..b", "x_y.example", "a" * 64])
def test_invalid_hostname(layline, make_config, hostname):
    nodes = [{"minion": "ll-node-1", "hostname": hostname}]
    pillar = {"cluster": {"nodes": nodes, "min_nr_of_members": 1}}
    errors = _errors(layline, make_config(SEED_PILLAR, pillar))
    assert any(e.startswith("layline:cluster:nodes[0]:hostname:") for e in errors), errors


def test_config_server_without_nodes(layline, make_config):
    config = make_config(SINGLE_PILLAR, {"config_server": {"minion": "cs", "hostname": "cs.x"}})
    errors = _errors(layline, config)
    assert any(
        e.startswith("layline:cluster:nodes: is empty while layline:config_server:minion")
        for e in errors
    )


def test_nodes_without_config_server(layline, make_config):
    pillar = copy.deepcopy(SEED_PILLAR)
    pillar["config_server"] = {"minion": None, "hostname": None}
    errors = _errors(layline, make_config(pillar))
    assert "layline:config_server:minion: is required when layline:cluster:nodes is set" in errors
    assert "layline:config_server:hostname: is required when layline:cluster:nodes is set" in errors


@pytest.mark.parametrize("value", [0, 4, True, "2"])
def test_min_nr_of_members(layline, make_config, value):
    errors = _errors(layline, make_config(SEED_PILLAR, {"cluster": {"min_nr_of_members": value}}))
    assert [e for e in errors if e.startswith("layline:cluster:min_nr_of_members:")]


def test_lease_majority_and_unknown_strategy(layline, make_config):
    for strategy, text in (
        ("lease-majority", "not supported by this formula"),
        ("keep-minority", "is not one of"),
    ):
        pillar = {"cluster": {"split_brain_resolver": {"strategy": strategy}}}
        errors = _errors(layline, make_config(SEED_PILLAR, pillar))
        assert any(
            e.startswith("layline:cluster:split_brain_resolver:strategy:") and text in e
            for e in errors
        ), errors


def test_static_quorum_size(layline, make_config):
    sbr = {"strategy": "static-quorum", "quorum_size": None}
    pillar = {"cluster": {"split_brain_resolver": sbr}}
    errors = _errors(layline, make_config(SEED_PILLAR, pillar))
    assert any(e.startswith("layline:cluster:split_brain_resolver:quorum_size:") for e in errors)
    sbr["quorum_size"] = 1
    errors, warnings = layline._validate(make_config(SEED_PILLAR, pillar), "ll-node-1")
    assert errors == []
    assert any(
        w.startswith("layline:cluster:split_brain_resolver:quorum_size:") and "split brain" in w
        for w in warnings
    )
    sbr["quorum_size"] = 2
    assert layline._validate(make_config(SEED_PILLAR, pillar), "ll-node-1") == ([], [])


@pytest.mark.parametrize("value", [20, "20", "20 parsecs", "", None])
def test_stable_after_needs_a_duration(layline, make_config, value):
    pillar = {"cluster": {"split_brain_resolver": {"stable_after": value}}}
    errors = _errors(layline, make_config(SEED_PILLAR, pillar))
    assert any(e.startswith("layline:cluster:split_brain_resolver:stable_after:") for e in errors)


@pytest.mark.parametrize("value", ["20s", "1.5 minutes", "500ms", "2h", "1d"])
def test_stable_after_accepts_durations(layline, make_config, value):
    pillar = {"cluster": {"split_brain_resolver": {"stable_after": value}}}
    assert _errors(layline, make_config(SEED_PILLAR, pillar)) == []


def test_even_node_count_with_keep_majority_warns(layline, make_config):
    pillar = {"cluster": {"nodes": _nodes(2)}}
    errors, warnings = layline._validate(make_config(SEED_PILLAR, pillar), "n1")
    assert errors == []
    assert len(warnings) == 1
    assert warnings[0].startswith("layline:cluster:split_brain_resolver:strategy: keep-majority")
    assert "equal split" in warnings[0]


@pytest.mark.parametrize("port", [0, 65536, "5842", True, None])
def test_port_range(layline, make_config, port):
    errors = _errors(layline, make_config(SEED_PILLAR, {"ports": {"management": port}}))
    assert any(e.startswith("layline:ports:management: must be an integer") for e in errors)


def test_engine_port_clash(layline, make_config):
    errors = _errors(layline, make_config(SEED_PILLAR, {"ports": {"management": 5842}}))
    assert len(errors) == 1
    assert "layline:ports:rest" in errors[0] and "layline:ports:management" in errors[0]


def test_config_server_port_clash_only_when_sharing_a_host(layline, make_config):
    pillar = {"ports": {"config_server": 5843}}
    assert _errors(layline, make_config(SEED_PILLAR, pillar)) == []  # separate machines
    shared = {"config_server": {"minion": "ll-node-1", "hostname": "ll-node-1.orb.local"}}
    errors = _errors(layline, make_config(SEED_PILLAR, pillar, shared))
    assert any("layline:ports:config_server" in e and "ll-node-1" in e for e in errors)
    errors = _errors(layline, make_config(SINGLE_PILLAR, pillar), "ll-single")
    assert any("layline:ports:config_server" in e for e in errors)


def test_database_port_clash_on_shared_minion(layline, make_config):
    pillar = {"database": {"minion": "ll-config-server", "port": 5841}}
    errors = _errors(layline, make_config(SEED_PILLAR, pillar))
    assert any(
        e.startswith("layline:database:port:") and "layline:ports:config_server" in e
        for e in errors
    ), errors


def test_mysql_password_required_without_echo(layline, make_config):
    pillar = {"database": {"password": ""}}
    errors = _errors(layline, make_config(SEED_PILLAR, pillar))
    assert errors == ["layline:database:password: is required for backend mysql"]


def test_mysql_required_fields_and_identifiers(layline, make_config):
    pillar = {
        "database": {
            "minion": None,
            "hostname": None,
            "user": "u" * 33,
            "name": "bad-name",
            "allowed_hosts": "10.0.0.%",
        }
    }
    errors = _errors(layline, make_config(SEED_PILLAR, pillar))
    for key in ("minion", "hostname", "user", "name", "allowed_hosts"):
        assert any(e.startswith(f"layline:database:{key}:") for e in errors), (key, errors)


def test_non_string_password_is_reported_without_value(layline, make_config):
    config = make_config(SEED_PILLAR, {"database": {"password": 12345678}})
    errors = _errors(layline, config)
    assert errors == ["layline:database:password: must be a string, got int (quote it in YAML)"]


def test_h2_cannot_serve_a_cluster(layline, make_config):
    config = make_config(SEED_PILLAR, {"database": {"backend": "h2"}})
    errors = _errors(layline, config)
    assert any(
        e.startswith("layline:database:backend: h2 is a single-user database") for e in errors
    )


def test_unknown_backend(layline, make_config):
    errors = _errors(layline, make_config(SEED_PILLAR, {"database": {"backend": "postgres"}}))
    assert errors == ["layline:database:backend: 'postgres' is not one of h2, mysql"]


@pytest.mark.parametrize(
    "key,value",
    [
        ("install_dir", "opt/layline"),
        ("home", "/"),
        ("user", "root"),
        ("group", "root"),
        ("user", "Bad User"),
        ("version", "2.5 beta"),
        ("version", ""),
    ],
)
def test_paths_accounts_version(layline, make_config, key, value):
    errors = _errors(layline, make_config(SEED_PILLAR, {key: value}))
    assert any(e.startswith(f"layline:{key}:") for e in errors), errors


@pytest.mark.parametrize("name", ["", "../etc", "Prod Cluster", ".."])
def test_cluster_name_is_a_safe_file_name(layline, make_config, name):
    errors = _errors(layline, make_config(SEED_PILLAR, {"cluster": {"name": name}}))
    assert any(e.startswith("layline:cluster:name:") for e in errors)


@pytest.mark.parametrize(
    "source_hash",
    [
        "a" * 64,
        "b" * 128,
        "sha256=" + "c" * 64,
        "sha512=" + "d" * 128,
        "salt://x/layline.sh.sha256",
    ],
)
def test_source_hash_accepted(layline, make_config, source_hash):
    config = make_config(SEED_PILLAR, {"distribution": {"source_hash": source_hash}})
    assert _errors(layline, config) == []


@pytest.mark.parametrize(
    "source_hash",
    [
        "",
        "abc",
        "md5=" + "a" * 32,
        "sha256=" + "a" * 63,
        "a" * 64 + "\n",
        # a hash fetched from the same kind of place as the download proves nothing
        "https://example.com/x.sha256",
        "http://example.com/x.sha256",
        "ftp://example.com/x.sha256",
        "file:///srv/x.sha256",
    ],
)
def test_source_hash_rejected(layline, make_config, source_hash):
    config = make_config(SEED_PILLAR, {"distribution": {"source_hash": source_hash}})
    errors = _errors(layline, config)
    assert len(errors) == 1 and errors[0].startswith("layline:distribution:source_hash:")


def test_source_hash_not_needed_on_database_only_minion(layline, make_config):
    config = make_config(SEED_PILLAR, {"distribution": {"source_hash": ""}})
    assert _errors(layline, config, "ll-mysql") == []
    assert _errors(layline, config, "ll-config-server")


def test_installer_args(layline, make_config):
    config = make_config(SEED_PILLAR, {"distribution": {"installer_args": ["-q", 1]}})
    assert any(
        e.startswith("layline:distribution:installer_args:") for e in _errors(layline, config)
    )
    # a fixed directory would install a new version over the one the node runs
    config = make_config(SEED_PILLAR, {"distribution": {"installer_args": ["-q", "-dir", "/x"]}})
    assert [
        e for e in _errors(layline, config) if e.startswith("layline:distribution:installer_args:")
    ] == [
        "layline:distribution:installer_args: must contain {dir} (replaced by the release "
        "directory <install_dir>/releases/<version>), e.g. ['-q', '-dir', '{dir}']"
    ]
    config = make_config(SEED_PILLAR, {"distribution": {"installer_args": ["-q", "-dir={dir}"]}})
    assert not _errors(layline, config)


def test_extra_config_must_be_mappings(layline, make_config):
    config = make_config(SEED_PILLAR, {"extra_config": {"reactive_engine": ["x"]}})
    assert _errors(layline, config) == [
        "layline:extra_config:reactive_engine: must be a mapping, got list"
    ]
    config = make_config(SEED_PILLAR, {"extra_config": {"config_server": {"a..b": 1}}})
    assert _errors(layline, config)[0].startswith("layline:extra_config:config_server:a..b:")


def test_unknown_keys_are_errors_with_the_nearest_known_key(layline, make_config):
    config = make_config(
        SEED_PILLAR,
        {
            "clutser": {},
            "database": {"pasword": "x"},
            "cluster": {"nodes": [{"minion": "a", "hostname": "a", "hostnmae": "b"}]},
        },
    )
    errors = _errors(layline, config)
    assert "layline:clutser: unknown key: did you mean 'cluster'?" in errors
    assert "layline:database:pasword: unknown key: did you mean 'password'?" in errors
    assert "layline:cluster:nodes[0]:hostnmae: unknown key: did you mean 'hostname'?" in errors
    assert not any("'x'" in e for e in errors)


def test_formula_files_hold_only_known_keys(layline, make_config):
    """defaults.yaml and every osfamilymap.yaml entry must not trip the typo warning."""
    import salt.utils.yaml

    osfamilymap = ROOT / "layline" / "osfamilymap.yaml"
    families = salt.utils.yaml.safe_load(osfamilymap.read_text()) if osfamilymap.exists() else {}
    for family in [None, *families]:
        config = make_config((families or {}).get(family) or {}, SEED_PILLAR)
        assert _errors(layline, config) == [], family
        assert _warnings(layline, config) == [], family


def test_all_errors_at_once_and_no_secret(layline, make_config):
    pillar = {
        "user": "root",
        "cluster": {"name": "", "min_nr_of_members": 0},
        "ports": {"rest": 5843},
        "database": {"name": "x-y", "password": SECRET},
        "extra_config": {"reactive_engine": {"db.password": SECRET + "\x01"}},
    }
    errors, warnings = layline._validate(make_config(SEED_PILLAR, pillar), "ll-node-1")
    assert len(errors) >= 5
    assert not any(SECRET in message for message in errors + warnings)


def test_float_version_is_an_error_before_post_processing(layline, seed_config):
    seed_config["version"] = 2.5  # what YAML makes of an unquoted 2.5
    errors = _errors(layline, seed_config)
    assert errors == ["layline:version: must be a string, got float (quote it in YAML)"]


@pytest.mark.parametrize("password, masked", [("abc", True), ("ab", False), ("", False)])
def test_redact_masks_secrets_from_three_characters(layline, make_config, password, masked):
    """Shorter values would mask random letters of every message (from mutation testing)."""
    config = make_config(SEED_PILLAR, {"database": {"password": password}})
    text = layline._redact("login xabcx failed for ab", config)
    assert text == ("login x******x failed for ab" if masked else "login xabcx failed for ab")


@pytest.mark.parametrize("old", [True, False])
def test_old_database_ssl_key_is_an_error_naming_its_replacement(layline, make_config, old):
    errors = _errors(layline, make_config(SEED_PILLAR, {"database": {"ssl": old}}))
    assert any(
        e.startswith("layline:database:ssl: was replaced by layline:database:tls") for e in errors
    ), errors


def test_database_tls_modes(layline, make_config):
    for mode in ("verify-identity", "disabled"):
        assert _errors(layline, make_config(SEED_PILLAR, {"database": {"tls": mode}})) == []
    errors = _errors(layline, make_config(SEED_PILLAR, {"database": {"tls": "required"}}))
    assert errors == ["layline:database:tls: 'required' is not one of verify-identity, disabled"]


def test_verified_database_tls_needs_the_cluster_certificates(layline, make_config):
    config = make_config(SEED_PILLAR, {"tls": {"enabled": False}})
    errors = [e for e in _errors(layline, config) if "database:tls" in e]
    assert errors and "layline:tls:enabled is false" in errors[0]
    off = make_config(SEED_PILLAR, {"tls": {"enabled": False}, "database": {"tls": "disabled"}})
    assert not [e for e in _errors(layline, off) if "database:tls" in e]
