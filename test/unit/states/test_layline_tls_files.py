"""The layline_tls key and certificate states (_states/layline_tls.py, _utils/layline_certs.py).

Judged by Salt's own x509_v2: keys and certificates are made by its states, and for every
case the in-process check must agree with what x509.certificate_managed (test=True) would
do: nothing when it would change nothing, a change whenever it would change something.
"""

import os
import pathlib

import pytest
import salt.config
import salt.loader
from unitsupport import load_file

import layline_certs

NODE = {
    "CN": "ll-node-1.example.com",
    "subjectAltName": "DNS:ll-node-1.example.com, IP:10.0.0.11",
    "basicConstraints": "critical, CA:FALSE",
    "keyUsage": "critical, digitalSignature, keyEncipherment",
    "extendedKeyUsage": "serverAuth, clientAuth",
    "authorityKeyIdentifier": "keyid:always",
    "days_valid": 30,
}
CA = {
    "CN": "layline cluster CA",
    "basicConstraints": "critical, CA:TRUE",
    "keyUsage": "critical, cRLSign, keyCertSign",
    "subjectKeyIdentifier": "hash",
    "days_valid": 3650,
}


class Salt:
    """Salt's own execution and state modules (x509_v2, file) on this host."""

    def __init__(self, cachedir):
        self.opts = salt.config.minion_config(None)
        self.opts.update(
            {"file_client": "local", "cachedir": str(cachedir), "id": "ll-node-1", "test": False}
        )
        utils = salt.loader.utils(self.opts)
        self.mods = salt.loader.minion_mods(self.opts, utils=utils)
        self.states = salt.loader.states(self.opts, self.mods, utils, {})
        # x509_v2 names its file.managed sub-state after the running state's ID
        self.states.pack["__low__"] = {"__id__": "unit", "name": "unit"}

    def x509(self, fun, test=False, **kwargs):
        self.opts["test"] = test
        try:
            return self.states[f"x509.{fun}"](**kwargs)
        finally:
            self.opts["test"] = False


@pytest.fixture(scope="module")
def real_salt(tmp_path_factory):
    return Salt(tmp_path_factory.mktemp("salt-cache"))


@pytest.fixture
def pki(real_salt, tmp_path):
    """A CA and a node certificate it signed, made by Salt's x509 states."""
    paths = {name: str(tmp_path / name) for name in ("ca.key", "ca.crt", "node.key", "node.crt")}
    for key in ("ca.key", "node.key"):
        made = real_salt.x509("private_key_managed", name=paths[key], algo="rsa", keysize=2048)
        assert made["result"], made
    made = real_salt.x509(
        "certificate_managed",
        name=paths["ca.crt"],
        signing_private_key=paths["ca.key"],
        days_remaining=30,
        **CA,
    )
    assert made["result"], made
    made = real_salt.x509("certificate_managed", **_node_args(paths))
    assert made["result"], made
    return paths


def _node_args(paths, **changed):
    args = {
        "name": paths["node.crt"],
        "signing_private_key": paths["ca.key"],
        "signing_cert": paths["ca.crt"],
        "private_key": paths["node.key"],
        "days_remaining": 7,
        **NODE,
    }
    args.update(changed)
    return args


def _ours(paths, **changed):
    """layline_certs' verdict on the node certificate for the state arguments."""
    args = _node_args(paths, **changed)
    key = layline_certs.load_key(args.pop("private_key"))
    assert key is not None
    args.pop("signing_private_key")
    return layline_certs.certificate_changes(
        args.pop("name"), key, args.pop("days_remaining"), args.pop("signing_cert"), **args
    )


def _x509_would_change(real_salt, paths, **changed):
    ret = real_salt.x509("certificate_managed", test=True, **_node_args(paths, **changed))
    assert ret["result"] is not False, ret
    return bool(ret["changes"])


@pytest.mark.parametrize(
    ("changed", "named"),
    [
        ({}, None),
        ({"subjectAltName": "DNS:ll-node-1.example.com"}, "extensions"),
        ({"CN": "ll-node-2.example.com"}, "subject_name"),
        ({"keyUsage": "critical, digitalSignature"}, "extensions"),
        ({"extendedKeyUsage": "serverAuth"}, "extensions"),
        ({"days_remaining": 60}, "expiration"),
    ],
)
def test_the_check_agrees_with_salts_x509_on_each_field(real_salt, pki, changed, named):
    ours = _ours(pki, **changed)
    assert bool(ours) == _x509_would_change(real_salt, pki, **changed), ours
    if named:
        assert named in ours, ours
    else:
        assert ours == {}


def test_a_certificate_of_another_key_or_ca_is_a_change(real_salt, pki, tmp_path):
    other_key = str(tmp_path / "other.key")
    real_salt.x509("private_key_managed", name=other_key, algo="rsa", keysize=2048)
    assert "private_key" in _ours(pki, private_key=other_key)
    assert _x509_would_change(real_salt, pki, private_key=other_key)

    # the CA was made anew (new key, same name): the node certificate's signature is not its
    os.remove(pki["ca.key"])
    real_salt.x509("private_key_managed", name=pki["ca.key"], algo="rsa", keysize=2048)
    real_salt.x509(
        "certificate_managed",
        name=pki["ca.crt"],
        signing_private_key=pki["ca.key"],
        days_remaining=30,
        **CA,
    )
    assert "signing_private_key" in _ours(pki)
    assert _x509_would_change(real_salt, pki)


def test_a_missing_linked_or_garbled_certificate_is_left_to_x509(pki, tmp_path):
    key = layline_certs.load_key(pki["node.key"])
    gone = str(tmp_path / "gone.crt")
    assert layline_certs.certificate_changes(gone, key, 7, pki["ca.crt"], **NODE) == {
        "created": gone
    }
    link = str(tmp_path / "link.crt")
    os.symlink(pki["node.crt"], link)
    assert "created" in layline_certs.certificate_changes(link, key, 7, pki["ca.crt"], **NODE)
    garbled = tmp_path / "garbled.crt"
    garbled.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    found = layline_certs.certificate_changes(str(garbled), key, 7, pki["ca.crt"], **NODE)
    assert "uncertain" in found, found


def test_only_an_rsa_key_of_the_size_asked_for_is_current(pki, tmp_path):
    assert layline_certs.load_key(pki["node.key"], 2048) is not None
    assert layline_certs.load_key(pki["node.key"], 3072) is None
    link = tmp_path / "link.key"
    link.symlink_to(pki["node.key"])
    assert layline_certs.load_key(str(link)) is None
    (tmp_path / "text.key").write_text("not a key\n")
    assert layline_certs.load_key(str(tmp_path / "text.key")) is None
    assert layline_certs.load_key(str(tmp_path / "none.key")) is None


# ------------------------------------------------------------------ the states


class Spy:
    """Salt's state functions, counting the x509 ones called."""

    def __init__(self, states):
        self.states, self.calls = states, []

    def __getitem__(self, fun):
        if fun.startswith("x509."):
            self.calls.append(fun)
        return self.states[fun]


@pytest.fixture
def tls_states(real_salt):
    module = load_file("_states/layline_tls.py", "layline_tls_states_under_test")
    module.__salt__ = real_salt.mods
    module.__opts__ = real_salt.opts
    module.__states__ = Spy(real_salt.states)
    return module


def _state_node_args(paths, **changed):
    args = _node_args(paths, **changed)
    return {**args, "mode": "0644"}


def test_a_converged_certificate_and_key_skip_x509_and_keep_their_modes(tls_states, pki):
    os.chmod(pki["node.crt"], 0o600)
    ret = tls_states.certificate_managed(**_state_node_args(pki))
    assert ret["result"] is True, ret
    assert ret["changes"] == {"mode": "0644"}, ret
    assert "current (checked in-process)" in ret["comment"]
    key = tls_states.private_key_managed(pki["node.key"], keysize=2048, mode="0640")
    assert key["result"] is True and key["changes"] == {"mode": "0640"}, key
    again = tls_states.private_key_managed(pki["node.key"], keysize=2048, mode="0640")
    assert again["result"] is True and again["changes"] == {}, again
    assert tls_states.__states__.calls == []


def test_a_changed_field_or_key_size_goes_to_x509(tls_states, pki):
    before = pathlib.Path(pki["node.crt"]).read_text()
    wider = _state_node_args(pki, subjectAltName="DNS:ll-node-1.example.com, DNS:a.example.com")
    ret = tls_states.certificate_managed(**wider)
    assert ret["result"] is True and ret["changes"], ret
    assert pathlib.Path(pki["node.crt"]).read_text() != before
    assert tls_states.__states__.calls == ["x509.certificate_managed"]
    # now converged on the new arguments: no second x509 call
    again = tls_states.certificate_managed(**wider)
    assert again["changes"] == {}, again
    assert tls_states.__states__.calls == ["x509.certificate_managed"]

    ret = tls_states.private_key_managed(pki["node.key"], keysize=3072, mode="0640")
    # another size in the pillar: Salt's x509 makes a new key (and the certificate follows)
    assert tls_states.__states__.calls[-1] == "x509.private_key_managed"
    assert ret["result"] is True and ret["changes"] == {"keysize": 3072}, ret
    assert layline_certs.load_key(pki["node.key"], 3072) is not None
    assert "private_key" in _ours(pki)


def test_a_missing_key_and_a_self_signed_ca_are_made_by_x509(tls_states, tmp_path):
    key = str(tmp_path / "ca.key")
    made = tls_states.private_key_managed(key, keysize=2048, mode="0400")
    assert made["result"] is True and made["changes"], made
    ca = {"name": str(tmp_path / "ca.crt"), "signing_private_key": key, "days_remaining": 30}
    made = tls_states.certificate_managed(**ca, **CA)
    assert made["result"] is True and made["changes"], made
    assert tls_states.__states__.calls == ["x509.private_key_managed", "x509.certificate_managed"]
    again = tls_states.certificate_managed(**ca, **CA)
    assert again["result"] is True and again["changes"] == {}, again
    assert len(tls_states.__states__.calls) == 2
