"""The cluster CA's signing policies (_utils/layline_signing.py, layline_tls.signing_*):
one per layline minion, every field fixed, checked against Salt 3008's real x509_v2
signing code (the requester asks for more than it may have and gets only its own
certificate), served by the CA minion's grain (layline_tls.signing_policies_managed,
_grains/layline_ca.py) and, when the pillar holds a policy of the same name left open or
a catch-all signing with the layline CA, refused by layline.validate on the CA minion.
"""

import datetime
import fnmatch
import pathlib

import pytest
import salt.modules.x509_v2 as x509_v2
import salt.utils.x509 as x509util
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from unitsupport import ROOT, SEED_PILLAR, load_file

import layline_signing

CA_KEY = "/etc/layline/ca/ca.key"
CA_CERT = "/etc/layline/tls/ca.crt"
ENGINE_CN = "layline-Production-engine"


def _plans(layline, config, ca="ll-config-server"):
    layline.__opts__["id"] = ca
    ca_plan = layline._tls_plan(config, ca)
    return ca_plan, {m: layline._tls_plan(config, m) for m in ca_plan["signed_minions"]}


@pytest.fixture
def seed_policies(layline, seed_config):
    ca_plan, plans = _plans(layline, seed_config)
    return layline_signing.policies(plans, ca_plan["ca_key"], ca_plan["ca_cert"])


# ------------------------------------------------------------------ the builder


def test_one_policy_per_other_minion_named_after_it(layline, seed_config, seed_policies):
    ca_plan, _ = _plans(layline, seed_config)
    assert ca_plan["signed_minions"] == ["ll-mysql", "ll-node-1", "ll-node-2", "ll-node-3"]
    assert list(seed_policies) == [f"layline-{m}" for m in ca_plan["signed_minions"]]
    for name, policy in seed_policies.items():
        assert policy["minions"] == name.removeprefix("layline-")
        assert (policy["signing_private_key"], policy["signing_cert"]) == (CA_KEY, CA_CERT)
        assert policy["days_valid"] == 730
        assert policy["extendedKeyUsage"] == "serverAuth, clientAuth"
        assert policy["basicConstraints"] == "critical, CA:FALSE"
        assert (policy["not_before"], policy["not_after"], policy["csr"]) == (None, None, None)
    # each node asks with its own name (layline.tls_plan)
    assert layline._tls_plan(seed_config, "ll-node-1")["signing_policy"] == "layline-ll-node-1"


def test_only_engines_get_the_engine_subject(seed_policies):
    assert seed_policies["layline-ll-node-1"]["CN"] == ENGINE_CN
    assert seed_policies["layline-ll-node-1"]["subject"] == {"CN": ENGINE_CN}
    assert seed_policies["layline-ll-node-1"]["subjectAltName"] == "DNS:ll-node-1.orb.local"
    assert seed_policies["layline-ll-mysql"]["CN"] == "ll-mysql.orb.local"
    assert seed_policies["layline-ll-mysql"]["subject"] == {"CN": "ll-mysql.orb.local"}
    assert seed_policies["layline-ll-mysql"]["subjectAltName"] == "DNS:ll-mysql.orb.local"


def test_the_prefix_is_layline_tls_signing_policy(layline, make_config):
    config = make_config(SEED_PILLAR, {"tls": {"signing_policy": "prod"}})
    ca_plan, plans = _plans(layline, config)
    wanted = layline_signing.policies(plans, CA_KEY, CA_CERT, ca_plan["signing_prefix"])
    assert "prod-ll-node-2" in wanted
    assert layline._tls_plan(config, "ll-node-2")["signing_policy"] == "prod-ll-node-2"


def test_every_salt_certificate_extension_is_fixed_or_forced_off(seed_policies):
    assert set(layline_signing.CERT_EXTENSIONS) == set(x509util.CERT_EXTS)
    for policy in seed_policies.values():
        assert set(x509util.CERT_EXTS) <= set(policy)


@pytest.mark.parametrize("minion", ["ll-*", "ll-node-[12]", "ll-node-?", "G@os:Debian", "a,b", ""])
def test_a_minion_id_that_would_match_others_gets_no_policy(minion):
    plan = {"enabled": True, "common_name": "x", "subject_alt_name": "DNS:x", "days": 1}
    with pytest.raises(layline_signing.SigningError, match="exactly one minion"):
        layline_signing.policy(minion, plan, CA_KEY, CA_CERT)


# ------------------------------------------------------------------ Salt's real signer


@pytest.fixture
def ca_files(tmp_path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "layline Production cluster CA")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_path, cert_path = tmp_path / "ca.key", tmp_path / "ca.crt"
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return str(key_path), str(cert_path)


@pytest.fixture(params=["grains", "pillar"])
def signer(request, layline, seed_config, ca_files, monkeypatch):
    """Salt's x509_v2.sign_remote_certificate on a CA minion that serves the formula's
    policies from its grain (the formula's way: Salt's own config.get finds them there)
    or from its pillar (an operator's copy); match.glob is Salt's glob matcher (fnmatch
    on the minion id)."""
    import salt.modules.config as salt_config

    _, plans = _plans(layline, seed_config)
    policies = {"x509_signing_policies": layline_signing.policies(plans, *ca_files)}
    pillar = policies if request.param == "pillar" else {}
    grains = policies if request.param == "grains" else {}
    for name, value in (("__opts__", {"id": "ll-config-server"}), ("__grains__", grains)):
        monkeypatch.setattr(salt_config, name, value, raising=False)
    monkeypatch.setattr(salt_config, "__pillar__", pillar, raising=False)
    monkeypatch.setattr(
        x509_v2,
        "__salt__",
        {
            "pillar.get": lambda key, default=None, unmask=False: pillar.get(key, default),
            "config.get": salt_config.get,
            "match.glob": lambda tgt, minion: fnmatch.fnmatch(minion, tgt),
        },
        raising=False,
    )
    monkeypatch.setattr(x509_v2, "__opts__", {"id": "ll-config-server"}, raising=False)
    monkeypatch.setattr(x509_v2, "__context__", {}, raising=False)
    return policies


def _public_key():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key, x509util.to_der(key.public_key())


def _sign(policy, request, minion):
    reply = x509_v2.sign_remote_certificate(policy, dict(request), __pub_id=minion)
    return reply


def test_the_database_asking_for_an_engine_certificate_gets_only_its_own(signer, tmp_path):
    _, public = _public_key()
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    greedy_csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ENGINE_CN)]))
        .add_extension(
            x509.NameConstraints(
                permitted_subtrees=[x509.DNSName("orb.local")], excluded_subtrees=None
            ),
            critical=True,
        )
        .sign(other_key, hashes.SHA256())
    )
    request = {
        "public_key": public,
        "CN": ENGINE_CN,
        "O": "layline",
        "subject": {"CN": ENGINE_CN, "OU": "engines"},
        "subjectAltName": "DNS:ll-node-1.orb.local, DNS:ll-mysql.orb.local",
        "basicConstraints": "critical, CA:TRUE",
        "extendedKeyUsage": "serverAuth, clientAuth, codeSigning",
        "nsComment": "mine",
        "days_valid": 36500,
        "not_after": "2099-01-01 00:00:00",
        "serial_number": "01",
        "copypath": str(tmp_path / "copies"),
        "csr": x509util.to_der(greedy_csr),
    }
    reply = _sign("layline-ll-mysql", request, "ll-mysql")
    assert reply["errors"] == [], reply
    cert = x509.load_der_x509_certificate(reply["data"])
    assert cert.subject.rfc4514_string() == "CN=ll-mysql.orb.local"
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["ll-mysql.orb.local"]
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    usages = list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    assert usages == [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert lifetime <= datetime.timedelta(days=730, minutes=1)
    assert cert.serial_number != 1
    assert (
        cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        == public
    )
    oids = {ext.oid for ext in cert.extensions}
    assert x509.ExtensionOID.NAME_CONSTRAINTS not in oids
    assert not (tmp_path / "copies").exists()


@pytest.mark.parametrize(
    ("policy", "minion"),
    [
        ("layline-ll-node-1", "ll-mysql"),  # another node's policy
        ("layline-ll-node-1", "ll-node-2"),
        ("layline-ll-node-1", "ll-node-10"),
    ],
)
def test_a_minion_cannot_use_another_minions_policy(signer, policy, minion):
    _, public = _public_key()
    reply = _sign(policy, {"public_key": public, "CN": ENGINE_CN}, minion)
    assert reply == {
        "data": None,
        "errors": ["minion not permitted to use specified signing policy"],
    }


def test_the_requesting_state_sees_no_change_after_the_policy_signed(signer, tmp_path):
    """x509.certificate_managed with ca_server merges the policy it fetched into its own
    arguments to decide whether to ask again: an issued certificate must compare equal."""
    key, public = _public_key()
    state_args = {
        "CN": ENGINE_CN,
        "subjectAltName": "DNS:ll-node-1.orb.local",
        "basicConstraints": "critical, CA:FALSE",
        "keyUsage": "critical, digitalSignature, keyEncipherment",
        "extendedKeyUsage": "serverAuth, clientAuth",
        "authorityKeyIdentifier": "keyid:always",
    }
    reply = _sign("layline-ll-node-1", {"public_key": public, **state_args}, "ll-node-1")
    assert reply["errors"] == [], reply
    current = x509.load_der_x509_certificate(reply["data"])
    fetched = x509_v2.sign_remote_certificate("layline-ll-node-1", {}, True, __pub_id="ll-node-1")
    assert fetched["errors"] == [] and "signing_private_key" not in fetched["data"]
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    builder, _, signing_cert, _ = x509util._build_cert_with_policy(
        fetched["data"],
        ca_server="ll-config-server",
        private_key=key_pem,
        days_valid=730,
        digest="sha256",
        **state_args,
    )
    assert x509util._compare_cert(current, builder, signing_cert, None, None, None) == {}


# ------------------------------------------------------------------ the check on the CA


def _as_pillar(wanted):
    """The policies as an operator's pillar writes them (Salt's list of one-key maps)."""
    return {name: [{k: v} for k, v in policy.items()] for name, policy in wanted.items()}


def _mutated(wanted, name, change):
    pillar = _as_pillar(wanted)
    merged = layline_signing.as_mapping(pillar[name])
    change(merged)
    pillar[name] = merged
    return pillar


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: p.update(minions="ll-*"), ":minions: must be 'll-mysql', not 'll-*'"),
        (lambda p: p.update(minions="ll-node-1"), ":minions: must be 'll-mysql'"),
        (lambda p: p.pop("minions"), ":minions: not set"),
        (lambda p: p.pop("CN"), ":CN: not set, so the requesting minion would choose it"),
        (lambda p: p.pop("subject"), ":subject: not set"),
        (lambda p: p.pop("subjectAltName"), ":subjectAltName: not set"),
        (lambda p: p.update(CN=ENGINE_CN), f":CN: must be 'll-mysql.orb.local', not '{ENGINE_CN}'"),
        (lambda p: p.pop("not_after"), ":not_after: not set"),
        (lambda p: p.pop("days_valid"), ":days_valid: not set"),
        (
            lambda p: p.update(signing_private_key="/root/other.key"),
            ":signing_private_key: must be",
        ),
        (lambda p: p.update(signing_cert="/root/other.crt"), ":signing_cert: must be"),
        (lambda p: p.pop("csr"), ":csr: not set"),
    ],
)
def test_a_policy_left_open_or_widened_is_refused_naming_the_key(seed_policies, change, message):
    pillar = _mutated(seed_policies, "layline-ll-mysql", change)
    found = layline_signing.problems(seed_policies, pillar)
    assert len(found) == 1, found
    assert found[0].startswith("x509_signing_policies:layline-ll-mysql:"), found
    assert message in found[0], found


def test_a_missing_policy_and_the_old_catch_all_are_refused(seed_policies):
    old = {
        "layline": [{"minions": "ll-*"}, {"signing_private_key": CA_KEY}, {"signing_cert": CA_CERT}]
    }
    found = layline_signing.problems(seed_policies, old)
    assert [line.split(": ")[0] for line in found] == [
        "x509_signing_policies:layline-ll-mysql",
        "x509_signing_policies:layline-ll-node-1",
        "x509_signing_policies:layline-ll-node-2",
        "x509_signing_policies:layline-ll-node-3",
        "x509_signing_policies:layline",
    ]
    assert all("missing" in line for line in found[:4])
    assert layline_signing.problems(seed_policies, "nope") == [
        "x509_signing_policies: must be a mapping of policy names to policies"
    ]


def test_the_generated_pillar_passes(seed_policies):
    assert layline_signing.problems(seed_policies, _as_pillar(seed_policies)) == []
    assert layline_signing.problems(seed_policies, seed_policies) == []


def test_without_required_the_pillar_needs_no_policy_but_a_present_one_must_fit(seed_policies):
    # the formula serves its own policies: an empty pillar is fine
    assert layline_signing.problems(seed_policies, {}, required=False) == []
    assert layline_signing.problems(seed_policies, None, required=False) == []
    # x509_v2 reads the pillar first: a policy of the formula's name there must be the formula's
    pillar = _mutated(seed_policies, "layline-ll-mysql", lambda p: p.pop("CN"))
    pillar = {"layline-ll-mysql": pillar["layline-ll-mysql"]}
    assert layline_signing.problems(seed_policies, pillar, required=False) == [
        "x509_signing_policies:layline-ll-mysql:CN: not set, so the requesting minion would "
        "choose it; must be 'll-mysql.orb.local'"
    ]


def test_a_catch_all_signing_with_the_layline_ca_is_refused_another_cas_is_not(seed_policies):
    old = {"layline": [{"minions": "*"}, {"signing_private_key": CA_KEY}]}
    assert layline_signing.problems(seed_policies, old, required=False) == [
        "x509_signing_policies:layline: signs with the layline CA but is not one of the "
        "formula's policies (one per minion, every field fixed): remove it"
    ]
    others = {"web": {"minions": "*", "signing_private_key": "/etc/pki/web/ca.key"}}
    assert layline_signing.problems(seed_policies, others, required=False) == []


@pytest.fixture
def ca_minion(layline, seed_config):
    """layline and layline_tls on ll-config-server, wired as the loader would."""
    tls = load_file("_modules/layline_tls.py", "layline_tls_signing_under_test")
    layline.__opts__["id"] = "ll-config-server"
    tls.__opts__ = {"id": "ll-config-server"}
    pillar = {}
    salt_ = {
        "layline.tls_plan": lambda config=None, minion_id=None: layline.tls_plan(
            config if config is not None else seed_config, minion_id
        ),
        "pillar.get": lambda key, default=None, unmask=False: pillar.get(key, default),
    }
    tls.__salt__ = salt_
    layline.__salt__ = {**salt_, "layline_tls.signing_problems": tls.signing_problems}
    tls.pillar = pillar
    return layline, tls


def test_validate_on_the_ca_minion_refuses_a_catch_all_with_its_ca(ca_minion, seed_config):
    layline, tls = ca_minion
    assert layline.validate(seed_config)["errors"] == []  # no pillar policies needed
    tls.pillar["x509_signing_policies"] = {
        "layline": [{"minions": "*"}, {"signing_private_key": CA_KEY}]
    }
    result = layline.validate(seed_config)
    assert [e.split(": ")[0] for e in result["errors"]] == ["x509_signing_policies:layline"]
    assert layline.__context__.get("retcode") == 1
    tls.pillar["x509_signing_policies"] = tls.signing_policies()
    assert layline.validate(seed_config)["errors"] == []


def test_validate_elsewhere_does_not_look_for_policies(layline, seed_config):
    tls = load_file("_modules/layline_tls.py", "layline_tls_node_under_test")
    tls.__opts__ = {"id": "ll-node-1"}
    tls.__salt__ = {
        "layline.tls_plan": lambda config=None, minion_id=None: layline.tls_plan(config, minion_id)
    }
    assert tls.signing_problems(seed_config) == []
    assert tls.signing_policies(seed_config) == {}


def test_signing_pillar_is_yaml_of_the_policies(ca_minion):
    _, tls = ca_minion
    text = tls.signing_pillar()
    assert text.startswith("# Generated by the layline formula")
    assert yaml.safe_load(text) == {"x509_signing_policies": tls.signing_policies()}


@pytest.fixture
def policy_state(ca_minion, tmp_path, monkeypatch):
    """(state module, tls module, policy file, grain refreshes): signing_policies_managed on
    the CA minion, its file in tmp_path; a grain refresh re-reads the file with the real
    grain module, as the minion's main process does."""
    _, tls = ca_minion
    state = load_file("_states/layline_tls.py", "layline_tls_state_signing_under_test")
    grain = load_file("_grains/layline_ca.py", "layline_ca_grain_under_test")
    path = tmp_path / "layline-formula" / "x509_signing_policies.json"
    monkeypatch.setattr(layline_signing, "POLICY_FILE", str(path))
    refreshes = []

    def refresh_grains(refresh_pillar=True):
        refreshes.append(refresh_pillar)
        state.__grains__ = dict(grain.signing_policies())
        return True

    state.__salt__ = {
        "layline_tls.signing_policies": tls.signing_policies,
        "layline_tls.signing_problems": tls.signing_problems,
        "saltutil.refresh_grains": refresh_grains,
    }
    extmods = tmp_path / "extmods"
    (extmods / "grains").mkdir(parents=True)
    (extmods / "grains" / "layline_ca.py").write_text("# synced\n")
    state.__opts__ = {"test": False, "id": "ll-config-server", "extension_modules": str(extmods)}
    state.__grains__ = {}
    return state, tls, path, refreshes


def test_the_ca_minion_writes_its_policies_root_only_and_its_grain_serves_them(policy_state):
    state, tls, path, refreshes = policy_state
    ret = state.signing_policies_managed("x509_signing_policies")
    assert ret["result"] is True, ret
    assert ret["changes"] == {"policies": sorted(tls.signing_policies())}
    assert oct(path.stat().st_mode & 0o777) == "0o600" and path.stat().st_uid == 0
    assert refreshes == [False]  # grains only, no pillar refresh
    assert state.__grains__ == {"x509_signing_policies": tls.signing_policies()}
    # converged: nothing written, no refresh
    written = path.stat().st_mtime_ns
    ret = state.signing_policies_managed("x509_signing_policies")
    assert ret["result"] is True and ret["changes"] == {} and refreshes == [False], ret
    assert path.stat().st_mtime_ns == written


def test_a_node_added_to_the_pillar_gets_its_policy_on_the_next_apply(policy_state, monkeypatch):
    state, tls, path, refreshes = policy_state
    state.signing_policies_managed("x509_signing_policies")
    fewer = dict(tls.signing_policies())
    fewer.pop("layline-ll-node-3")
    monkeypatch.setitem(state.__grains__, "x509_signing_policies", fewer)
    path.write_bytes(layline_signing.serialize(fewer))
    ret = state.signing_policies_managed("x509_signing_policies")
    assert ret["result"] is True and ret["changes"] == {"policies": ["layline-ll-node-3"]}, ret
    assert "layline-ll-node-3" in state.__grains__["x509_signing_policies"]


def test_the_policy_state_names_a_grain_module_not_synced(policy_state):
    state, _, path, refreshes = policy_state
    state.__opts__["extension_modules"] = str(path.parent / "elsewhere")
    ret = state.signing_policies_managed("x509_signing_policies")
    assert ret["result"] is False and "saltutil.sync_all" in ret["comment"], ret
    assert not path.exists() and refreshes == []


def test_the_policy_state_in_test_mode_writes_nothing(policy_state):
    state, _, path, refreshes = policy_state
    state.__opts__["test"] = True
    ret = state.signing_policies_managed("x509_signing_policies")
    assert ret["result"] is None and "layline-ll-node-1" in ret["changes"]["policies"], ret
    assert not path.exists() and refreshes == []


def test_the_policy_state_refuses_a_pillar_policy_left_open(policy_state):
    state, tls, path, refreshes = policy_state
    open_policy = dict(tls.signing_policies()["layline-ll-mysql"])
    open_policy.pop("subjectAltName")
    tls.pillar["x509_signing_policies"] = {"layline-ll-mysql": open_policy}
    ret = state.signing_policies_managed("x509_signing_policies")
    assert ret["result"] is False and not path.exists() and refreshes == [], ret
    assert "x509_signing_policies:layline-ll-mysql:subjectAltName: not set" in ret["comment"]


@pytest.mark.parametrize("planted", ["link", "world-writable", "not-json"])
def test_the_grain_ignores_a_policy_file_that_is_not_roots_alone(tmp_path, monkeypatch, planted):
    grain = load_file("_grains/layline_ca.py", "layline_ca_grain_planted_under_test")
    good = tmp_path / "good.json"
    good.write_text('{"layline-ll-mysql": {"minions": "*"}}')
    path = tmp_path / "x509_signing_policies.json"
    monkeypatch.setattr(layline_signing, "POLICY_FILE", str(path))
    tmp_path.chmod(0o755)
    if planted == "link":
        path.symlink_to(good)
    elif planted == "world-writable":
        path.write_text(good.read_text())
        path.chmod(0o646)
    else:
        path.write_text("{")
    assert grain.signing_policies() == {}
    path.unlink()
    path.write_text(good.read_text())
    path.chmod(0o600)
    assert grain.signing_policies() == {
        "x509_signing_policies": {"layline-ll-mysql": {"minions": "*"}}
    }
    tmp_path.chmod(0o777)  # a directory others may write to: its file could be swapped
    assert grain.signing_policies() == {}
    tmp_path.chmod(0o755)


def test_the_validated_state_on_the_ca_refuses_a_catch_all_with_its_ca(
    ca_minion, seed_config, monkeypatch
):
    """layline.validated (the first state of every apply) runs the CA minion's policy check
    after the model's own checks and the address checks."""
    _, tls = ca_minion
    state = load_file("_states/layline.py", "layline_state_signing_under_test")
    state.__opts__ = {"test": False, "id": "ll-config-server"}
    state.__salt__ = {"layline_tls.signing_problems": tls.signing_problems}
    state.__context__, state.__pillar__ = {}, {}
    # canonical addresses resolve on a real minion only: not what this test is about
    monkeypatch.setattr(state.layline_address, "address_errors", lambda *_: [])
    tls.pillar["x509_signing_policies"] = {
        "layline": [{"minions": "*"}, {"signing_private_key": CA_KEY}]
    }
    ret = state.validated("layline configuration", config=seed_config)
    assert ret["result"] is False, ret
    assert "x509_signing_policies:layline: signs with the layline CA" in ret["comment"], ret
    tls.pillar["x509_signing_policies"] = tls.signing_policies()
    ret = state.validated("layline configuration", config=seed_config)
    assert ret["result"] is True, ret


def test_readme_and_pillar_example_show_no_catch_all_policy_and_no_policy_step():
    import re

    glob_policy = re.compile(r"^[\s#]*-?\s*minions:\s*['\"]?[^'\"\s]*[*?\[]", re.MULTILINE)
    for rel in ("README.md", "pillar.example", "docs/tls-network.md", "docs/rolling.md"):
        text = pathlib.Path(ROOT / rel).read_text()
        assert not glob_policy.search(text), (rel, glob_policy.search(text))
        # the CA minion makes the policies: no operator step writes a policy pillar file
        assert "> /srv/pillar/layline_signing.sls" not in text, rel
        assert "regenerat" not in text.replace("regenerated after every change", ""), rel
