"""layline:tls: validation, the per-minion plan (layline.tls_plan), Artery's TLS settings in
the engine's application.conf, and the remote-signing helpers (_modules/_states layline_tls).
"""

import copy
import importlib.util
import pathlib
import sys

import pytest
from pyhocon import ConfigFactory
from salt.exceptions import CommandExecutionError
from unitsupport import ROOT, SEED_PILLAR

sys.path.insert(0, str(ROOT / "test" / "hocon"))
import lightbend_hocon  # noqa: E402

import layline_plan  # noqa: E402

ROTATING = "org.apache.pekko.remote.artery.tcp.ssl.RotatingKeysSSLEngineProvider"


def _errors(layline, make_config, tls, base=SEED_PILLAR):
    config = make_config(base, {"tls": tls})
    errors, _warnings = layline._validate(config, "ll-node-1")
    return errors


@pytest.mark.parametrize(
    ("tls", "key"),
    [
        ({"enabled": "yes"}, "tls:enabled"),
        ({"days": 0}, "tls:days"),
        ({"days": "30"}, "tls:days"),
        ({"renew_days": 730}, "tls:renew_days"),
        ({"ca_days": 700}, "tls:ca_days"),
        ({"key_size": 256}, "tls:key_size"),
        ({"signing_policy": "lay line"}, "tls:signing_policy"),
        ({"wait_timeout": -1}, "tls:wait_timeout"),
        ({"ca_minion": "ll-elsewhere"}, "tls:ca_minion"),
        ({"ca_minion": "ll node"}, "tls:ca_minion"),
        ({"ca": {"cert": "x"}}, "tls:ca"),
    ],
)
def test_bad_tls_settings_are_named(layline, make_config, tls, key):
    errors = _errors(layline, make_config, tls)
    assert errors, f"{tls} passed validation"
    assert all(error.startswith(f"layline:{key}") for error in errors), errors


def test_defaults_and_every_layline_minion_as_ca_are_valid(layline, make_config):
    assert _errors(layline, make_config, {}) == []
    for minion in ("ll-mysql", "ll-node-2", "ll-config-server"):
        assert _errors(layline, make_config, {"ca_minion": minion}) == []


def test_extra_config_cannot_set_the_transport(layline, make_config):
    config = make_config(
        SEED_PILLAR, {"extra_config": {"reactive_engine": {"pekko.remote.artery.transport": "tcp"}}}
    )
    errors, _ = layline._validate(config, "ll-node-1")
    assert errors == [
        "layline:extra_config:reactive_engine:pekko.remote.artery.transport: "
        "pekko.remote.artery.transport is set by the formula: set "
        "layline:tls:enabled instead"
    ]


def test_plan_per_role_of_the_seed_topology(layline, seed_config):
    node = layline._tls_plan(seed_config, "ll-node-1")
    assert node["enabled"] is True
    assert (node["dir"], node["ca_cert"], node["cert"], node["key"]) == (
        "/etc/layline/tls",
        "/etc/layline/tls/ca.crt",
        "/etc/layline/tls/node.crt",
        "/etc/layline/tls/node.key",
    )
    assert (node["group"], node["key_group"]) == ("layline", "layline")  # Artery reads it
    assert (node["ca_minion"], node["is_ca"]) == ("ll-config-server", False)
    assert node["common_name"] == "layline-Production-engine"
    assert node["subject_alt_name"] == "DNS:ll-node-1.orb.local"
    assert (node["days"], node["renew_days"], node["key_size"]) == (730, 30, 3072)

    ca = layline._tls_plan(seed_config, "ll-config-server")
    assert (ca["is_ca"], ca["signs_for_others"]) == (True, True)
    assert ca["ca_key"] == "/etc/layline/ca/ca.key"
    # not an engine: its certificate cannot pass the engines' subject-name check
    assert ca["common_name"] == "ll-config-server.orb.local"
    # a config server alone does not use its key: only root reads it; the service group
    # still reaches the directory (the JDBC truststore, ca.crt)
    assert (ca["group"], ca["key_group"]) == ("layline", "root")

    database = layline._tls_plan(seed_config, "ll-mysql")
    assert (database["group"], database["key_group"]) == ("mysql", "mysql")
    assert database["subject_alt_name"] == "DNS:ll-mysql.orb.local"
    assert layline._tls_plan(seed_config, "ll-unrelated") == {"enabled": False}


def test_plan_names_ip_literals_and_pillar_addresses_as_ip(layline, seed_config):
    config = copy.deepcopy(seed_config)
    config["cluster"]["nodes"][0]["address"] = "10.0.0.11"
    config["database"]["hostname"] = "10.0.0.5"
    assert layline._tls_plan(config, "ll-node-1")["subject_alt_name"] == (
        "DNS:ll-node-1.orb.local, IP:10.0.0.11"
    )
    assert layline._tls_plan(config, "ll-mysql")["subject_alt_name"] == "IP:10.0.0.5"


def test_plan_of_a_minion_with_several_roles_lists_each_name_once(layline, make_config):
    config = make_config(
        SEED_PILLAR,
        {
            "config_server": {"minion": "ll-node-1", "hostname": "LL-NODE-1.orb.local"},
            "database": {"minion": "ll-node-1", "hostname": "db.orb.local"},
        },
    )
    plan = layline._tls_plan(config, "ll-node-1")
    assert plan["subject_alt_name"] == "DNS:ll-node-1.orb.local, DNS:db.orb.local"
    assert plan["group"] == "layline" and plan["is_ca"] is True
    assert plan["key_group"] == "layline"  # the engine on it uses the key
    assert plan["signs_for_others"] is True  # ll-node-2 and ll-node-3


def test_the_key_of_a_config_server_beside_the_database_is_mysqls(layline, make_config):
    config = make_config(
        SEED_PILLAR, {"database": {"minion": "ll-config-server", "hostname": "db.orb.local"}}
    )
    plan = layline._tls_plan(config, "ll-config-server")
    # MariaDB reads it (its account joins the service group to reach the directory)
    assert (plan["group"], plan["key_group"]) == ("layline", "mysql")


def test_single_host_signs_locally(layline, single_config):
    plan = layline._tls_plan(single_config, "ll-single")
    assert (plan["ca_minion"], plan["is_ca"], plan["signs_for_others"]) == (
        "ll-single",
        True,
        False,
    )
    assert plan["subject_alt_name"] == "IP:127.0.0.1"


def test_disabled_tls_plans_nothing_and_renders_plain_tcp(layline, make_config):
    # database:tls verify-identity needs the certificates: off as well (issue 10c)
    config = make_config(SEED_PILLAR, {"tls": {"enabled": False}, "database": {"tls": "disabled"}})
    assert layline._tls_plan(config, "ll-node-1") == {"enabled": False}
    conf = ConfigFactory.parse_string(layline._render_text("reactive-engine", config, "ll-node-1"))
    assert conf["pekko.remote.artery.transport"] == "tcp"
    assert "ssl" not in conf["pekko.remote.artery"]


def test_engine_renders_artery_over_mutual_tls_as_the_jvm_reads_it(layline, seed_config):
    text = layline._render_text("reactive-engine", seed_config, "ll-node-1")
    artery = ConfigFactory.parse_string(text)["pekko.remote.artery"]
    jvm = lightbend_hocon.parse_texts({"engine": text})["engine"]["pekko"]["remote"]["artery"]
    for parsed in (artery, jvm):
        assert parsed["transport"] == "tls-tcp"
        assert parsed["ssl"]["ssl-engine-provider"] == ROTATING
        assert dict(parsed["ssl"]["rotating-keys-engine"]) == {
            "key-file": "/etc/layline/tls/node.key",
            "cert-file": "/etc/layline/tls/node.crt",
            "ca-cert-file": "/etc/layline/tls/ca.crt",
        }


def test_config_server_renders_no_artery(layline, seed_config):
    text = layline._render_text("config-server", seed_config, "ll-config-server")
    assert "artery" not in text


# ------------------------------------------------------------------ remote signing helpers


def _load(kind, name="layline_tls"):
    spec = importlib.util.spec_from_file_location(
        f"{name}_{kind}_under_test", ROOT / f"_{kind}" / f"{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def ca_pem():
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode(), cert.public_bytes(
        serialization.Encoding.DER
    )


@pytest.fixture
def tls_module():
    module = _load("modules")
    module.__salt__ = {}
    return module


def _publish(reply):
    return lambda tgt, fun, arg=None, timeout=None: reply(tgt, fun, arg)


def test_ca_certificate_converts_the_policy_certificate(tls_module, ca_pem):
    calls = []

    def reply(tgt, fun, arg):
        calls.append((tgt, fun, arg))
        return {tgt: {"data": {"signing_cert": ca_pem[1]}, "errors": []}}

    tls_module.__salt__["publish.publish"] = _publish(reply)
    assert tls_module.ca_certificate("ll-config-server", "layline") == ca_pem[0]
    assert calls == [("ll-config-server", "x509.sign_remote_certificate", ["layline", {}, True])]


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (
            {},
            "did not answer x509.sign_remote_certificate: it must be up, and the master's "
            "configuration must allow it (peer:",
        ),
        (
            {"ll-ca": "'x509.sign_remote_certificate' is not available."},
            "CA minion ll-ca cannot sign certificates",
        ),
        (
            {
                "ll-ca": {
                    "data": None,
                    "errors": ["signing_policy must be specified and defined on signing minion"],
                }
            },
            "CA minion ll-ca has no signing policy 'layline': its state.apply layline writes "
            "one for every minion its layline pillar names",
        ),
        (
            {
                "ll-ca": {
                    "data": None,
                    "errors": ["minion not permitted to use specified signing policy"],
                }
            },
            "this minion is not x509_signing_policies:layline:minions of CA minion ll-ca",
        ),
        (
            {"ll-ca": {"data": None, "errors": ["Could not load PEM-encoded certificate"]}},
            "CA minion ll-ca has no CA certificate yet",
        ),
        (
            {"ll-ca": {"data": {"minions": "*"}, "errors": []}},
            "x509_signing_policies:layline of CA minion ll-ca has no signing_cert",
        ),
    ],
)
def test_ca_certificate_names_what_is_missing(tls_module, reply, message):
    tls_module.__salt__["publish.publish"] = _publish(lambda tgt, fun, arg: reply)
    with pytest.raises(CommandExecutionError) as info:
        tls_module.ca_certificate("ll-ca", "layline")
    assert message in str(info.value)


def _mine(entries, calls=None):
    """mine.get over {minion: {entry: data}}, as Salt's returns it for one listed minion."""

    def get(tgt, fun, tgt_type="glob"):
        if calls is not None:
            calls.append((tgt, fun, tgt_type))
        if isinstance(entries, Exception):
            raise entries
        return {tgt: entries[tgt][fun]} if fun in entries.get(tgt, {}) else {}

    return get


def _no_publish(tgt, fun, arg=None, timeout=None):
    raise AssertionError(f"asked {tgt} through the peer interface although the mine had it")


def test_ca_certificate_reads_the_mine_first_without_a_peer_call(tls_module, ca_pem):
    calls = []
    tls_module.__salt__["mine.get"] = _mine(
        {"ll-config-server": {"layline_ca_certificate": ca_pem[0]}}, calls
    )
    tls_module.__salt__["publish.publish"] = _no_publish
    assert tls_module.ca_certificate("ll-config-server", "layline") == ca_pem[0]
    assert calls == [("ll-config-server", "layline_ca_certificate", "list")]


@pytest.mark.parametrize(
    "mined",
    [
        {},  # not published yet (first apply)
        {"ll-other": {"layline_ca_certificate": "from another minion"}},
        {"ll-config-server": {"layline_ca_certificate": "-----BEGIN junk"}},
        RuntimeError("no master cache"),
    ],
    ids=["empty", "another-minion", "not-a-certificate", "mine-fails"],
)
def test_ca_certificate_asks_the_ca_minion_when_the_mine_cannot_answer(tls_module, ca_pem, mined):
    asked = []

    def reply(tgt, fun, arg):
        asked.append(tgt)
        return {tgt: {"data": {"signing_cert": ca_pem[1]}, "errors": []}}

    tls_module.__salt__["mine.get"] = _mine(mined)
    tls_module.__salt__["publish.publish"] = _publish(reply)
    assert tls_module.ca_certificate("ll-config-server", "layline") == ca_pem[0]
    assert asked == ["ll-config-server"]


@pytest.fixture
def publisher(tmp_path, ca_pem):
    """(state module, CA file, sent): ca_published on CA minion ll-ca with a fake mine."""
    module = _load("states")
    module.__opts__ = {"test": False, "id": "ll-ca"}
    ca_file = tmp_path / "ca.crt"
    ca_file.write_text(ca_pem[0])
    mine = {}
    sent = []

    def send(name, *args, mine_function=None):
        sent.append((name, args, mine_function))
        mine.setdefault("ll-ca", {})[name] = pathlib.Path(args[0]).read_text()
        return True

    module.__salt__ = {"mine.get": _mine(mine), "mine.send": send}
    return module, ca_file, sent


def test_ca_published_sends_once_then_only_compares(publisher, ca_pem):
    module, ca_file, sent = publisher
    ret = module.ca_published(str(ca_file))
    assert ret["result"] is True and ret["changes"] == {"mine": "layline_ca_certificate"}
    assert sent == [("layline_ca_certificate", (str(ca_file),), "file.read")]
    ret = module.ca_published(str(ca_file))
    assert ret["result"] is True and ret["changes"] == {} and len(sent) == 1
    # a renewed CA certificate is sent again
    ca_file.write_text(ca_pem[0].replace("\n", "\n\n", 1))
    assert module.ca_published(str(ca_file))["changes"] and len(sent) == 2


def test_ca_published_in_test_mode_sends_nothing(publisher):
    module, ca_file, sent = publisher
    module.__opts__["test"] = True
    ret = module.ca_published(str(ca_file))
    assert ret["result"] is None and "would be published" in ret["comment"] and sent == []
    ret = module.ca_published(str(ca_file.with_name("missing.crt")))
    assert ret["result"] is None and "once it is made" in ret["comment"] and sent == []


def test_ca_published_fails_naming_an_unreadable_file(publisher):
    module, ca_file, sent = publisher
    ret = module.ca_published(str(ca_file.with_name("missing.crt")))
    assert ret["result"] is False and "missing.crt" in ret["comment"] and sent == []


@pytest.fixture
def tls_state(tls_module, monkeypatch):
    module = _load("states")
    written = []
    module.__opts__ = {"test": False}
    module.__salt__ = {"layline_tls.ca_certificate": None}
    module.__states__ = {
        "file.managed": lambda **kwargs: (
            written.append(kwargs)
            or {
                "name": kwargs["name"],
                "result": True,
                "changes": {"diff": "New file"},
                "comment": "",
            }
        )
    }
    module.written = written
    monkeypatch.setattr(module.time, "sleep", lambda seconds: None)
    module.errors = tls_module
    return module


def _answers(state, *answers):
    queue = list(answers)

    def ca_certificate(ca_server, signing_policy, from_mine=True):
        answer = queue.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    state.__salt__["layline_tls.ca_certificate"] = ca_certificate
    return queue


def test_ca_certificate_present_waits_for_the_ca_minion(tls_state, ca_pem):
    not_yet = tls_state.errors.CaNotReady("CA minion ll-ca has no CA certificate yet: x")
    left = _answers(tls_state, not_yet, not_yet, ca_pem[0])
    ret = tls_state.ca_certificate_present("/etc/layline/tls/ca.crt", "ll-ca", timeout=60)
    assert ret["result"] is True and left == []
    assert tls_state.written == [
        {
            "name": "/etc/layline/tls/ca.crt",
            "contents": ca_pem[0],
            "user": "root",
            "group": "root",
            "mode": "0644",
            "makedirs": False,
            "follow_symlinks": False,
        }
    ]


def test_ca_certificate_present_fails_at_once_when_a_pillar_policy_names_another_minion(
    tls_state,
):
    left = _answers(
        tls_state,
        CommandExecutionError(
            "this minion is not x509_signing_policies:layline:minions of CA minion ll-ca"
        ),
        "never asked",
    )
    ret = tls_state.ca_certificate_present("/etc/layline/tls/ca.crt", "ll-ca", timeout=60)
    assert ret["result"] is False and "x509_signing_policies:layline" in ret["comment"]
    assert left == ["never asked"] and tls_state.written == []


def test_ca_certificate_present_waits_while_the_ca_minion_writes_this_nodes_policy(
    tls_state, ca_pem
):
    # a node just added to the pillar: the CA minion's apply writes its policy meanwhile
    no_policy = CommandExecutionError("CA minion ll-ca has no signing policy 'layline-ll-new'")
    left = _answers(tls_state, no_policy, ca_pem[0])
    ret = tls_state.ca_certificate_present("/etc/layline/tls/ca.crt", "ll-ca", timeout=60)
    assert ret["result"] is True and left == [], ret


def _remote_certificate(tls_state, timeout):
    signed = []
    tls_state.__states__["x509.certificate_managed"] = lambda **kwargs: (
        signed.append(kwargs) or {"name": kwargs["name"], "result": True, "changes": {}}
    )
    ret = tls_state.certificate_managed(
        "/etc/layline/tls/node.crt",
        30,
        private_key="/nonexistent/node.key",
        ca_server="ll-ca",
        signing_policy="layline-ll-new",
        ca_cert="/etc/layline/tls/ca.crt",
        wait_timeout=timeout,
        CN="ll-new.example.com",
    )
    return ret, signed


def test_a_remote_certificate_waits_for_its_policy_then_is_signed(tls_state, ca_pem):
    no_policy = CommandExecutionError("CA minion ll-ca has no signing policy 'layline-ll-new'")
    asked = []

    def ca_certificate(ca_server, signing_policy, from_mine=True):
        asked.append((signing_policy, from_mine))
        if len(asked) == 1:
            raise no_policy
        return ca_pem[0]

    tls_state.__salt__["layline_tls.ca_certificate"] = ca_certificate
    ret, signed = _remote_certificate(tls_state, 60)
    assert ret["result"] is True and len(signed) == 1, ret
    # the CA minion itself is asked (the mine cannot tell whether it serves the policy)
    assert asked == [("layline-ll-new", False), ("layline-ll-new", False)]
    assert signed[0]["signing_policy"] == "layline-ll-new" and "wait_timeout" not in signed[0]


def test_a_remote_certificate_whose_policy_never_comes_fails_naming_it(tls_state):
    _answers(tls_state, CommandExecutionError("CA minion ll-ca has no signing policy 'x'"))
    ret, signed = _remote_certificate(tls_state, 0)
    assert ret["result"] is False and "has no signing policy" in ret["comment"] and not signed


def test_ca_certificate_present_gives_up_after_the_timeout(tls_state):
    silent = CommandExecutionError("CA minion ll-ca did not answer x509.sign_remote_certificate")
    _answers(tls_state, silent)
    ret = tls_state.ca_certificate_present("/etc/layline/tls/ca.crt", "ll-ca", timeout=0)
    assert ret["result"] is False and "did not answer" in ret["comment"]


def test_ca_certificate_present_test_mode_predicts_without_waiting(tls_state):
    tls_state.__opts__["test"] = True
    _answers(tls_state, tls_state.errors.CaNotReady("CA minion ll-ca has no CA certificate yet: x"))
    ret = tls_state.ca_certificate_present("/etc/layline/tls/ca.crt", "ll-ca")
    assert ret["result"] is None and "would be fetched from ll-ca" in ret["comment"]
    assert tls_state.written == []


@pytest.mark.parametrize(
    ("deployed", "enabled", "change"),
    [
        (None, True, ""),
        ('    artery {\n      enabled = true\n      transport = "tcp"\n', True, "tcp -> tls-tcp"),
        ('      transport = "tls-tcp"\n', False, "tls-tcp -> tcp"),
        ('      transport = "tls-tcp"\n', True, ""),
    ],
)
def test_transport_change_names_a_full_cluster_restart(
    layline, make_config, tmp_path, deployed, enabled, change
):
    config = make_config(SEED_PILLAR, {"config_dir": str(tmp_path), "tls": {"enabled": enabled}})
    if deployed is not None:
        (tmp_path / "reactive-engine").mkdir()
        (tmp_path / "reactive-engine" / "application.conf").write_text(deployed)
    reason = layline.transport_change(config=config)
    if change:
        assert reason == (
            f"full cluster restart needed: Artery transport {change} (members "
            "with different transports cannot talk)"
        )
        assert reason.startswith(layline_plan.FULL_RESTART)  # the runner refuses on it
    else:
        assert reason == ""


def test_the_rendered_file_is_what_transport_change_reads(
    layline, seed_config, tmp_path, tmp_paths_allowed
):
    config = copy.deepcopy(seed_config)
    config["config_dir"] = str(tmp_path)
    (tmp_path / "reactive-engine").mkdir()
    (tmp_path / "reactive-engine" / "application.conf").write_text(
        layline._render_text("reactive-engine", config, "ll-node-1")
    )
    assert layline.transport_change(config=config) == ""
    config["tls"]["enabled"] = False
    assert "tls-tcp -> tcp" in layline.transport_change(config=config)
