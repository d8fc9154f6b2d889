"""_states/layline.py: no state comment, warning or change carries the database password.

The states read the model on the minion through the utils (``layline_model.load``,
``layline_render.validate``/``render_text``, ``layline_model.redact``): the tests hand the
model to the one loader and replace single functions of ``layline_render`` (``glue``) where a
test needs a crash or a fixed answer.
"""

import copy
import importlib.util

import layline_render
import pytest
from unitsupport import ROOT, SECRET, SEED_PILLAR, load_module

RAISING = f"driver said: Access denied for password '{SECRET}'"
MASK = "******"
HIDDEN = "<hidden: contains secrets>"


@pytest.fixture
def model(make_config):
    """The execution module as minion ll-node-1; ``model.config`` is what its loader reads."""
    module = load_module("ll-node-1")
    module.config = make_config(SEED_PILLAR)
    # the private loader the states call (map.jinja over the pillar on a real minion)
    module._load_config = lambda: copy.deepcopy(module.config)
    return module


@pytest.fixture
def states(model, monkeypatch):
    spec = importlib.util.spec_from_file_location(
        "layline_state_under_test", ROOT / "_states" / "layline.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.__opts__ = {"test": False, "id": "ll-node-1"}
    module.__salt__ = {"layline.validate": model.validate, "slsutil.renderer": _raise}
    module.__states__ = {}
    module.__pillar__ = {}
    module.__context__ = {}
    # the one loader (map.jinja over the pillar on a real minion) answers model.config
    monkeypatch.setattr(
        module.layline_model, "load", lambda *_: copy.deepcopy(model.config), raising=True
    )
    module.config = model.config
    return module


@pytest.fixture
def glue(monkeypatch):
    """``glue(name, func)``: the states' ``layline_render.<name>`` is ``func`` for this test."""

    def replace(name, func):
        monkeypatch.setattr(layline_render, name, func)

    return replace


def _raise(*_args, **_kwargs):
    raise RuntimeError(RAISING)


def _assert_clean(ret):
    assert SECRET not in repr(ret)
    assert MASK in repr(ret), "the secret was not replaced where it was"


def test_validated_crash_comment_is_scrubbed(states, model, glue):
    glue("validate", _raise)
    ret = states.validated("layline pillar")
    assert ret["result"] is False
    _assert_clean(ret)


def test_validated_errors_and_warnings_are_scrubbed(states, model, glue):
    glue(
        "validate",
        lambda config, minion_id, installing, host: (
            [f"bad value {SECRET}"],
            [f"odd value {SECRET}"],
        ),
    )
    ret = states.validated("layline pillar")
    assert ret["result"] is False
    _assert_clean(ret["comment"])
    _assert_clean(ret["warnings"])


def test_config_managed_render_failure_is_scrubbed(states, model, tmp_path, glue):
    glue("render_text", _raise)
    ret = states.config_managed(
        str(tmp_path / "application.conf"), role="reactive-engine", group="layline"
    )
    assert ret["result"] is False
    _assert_clean(ret)


def test_config_managed_file_result_is_scrubbed(states, model, tmp_path, glue):
    glue("render_text", lambda role, config, minion_id: f"password = {SECRET}\n")

    def failing_write(name, data, *_args, **_kwargs):
        text = data.decode("utf-8")
        return {
            "name": name,
            "result": False,
            "changes": {"diff": text},
            "comment": f"could not write: {text}",
        }

    states._file_state = failing_write
    ret = states.config_managed(
        str(tmp_path / "application.conf"), role="reactive-engine", group="layline"
    )
    assert ret["result"] is False
    _assert_clean(ret["comment"])
    _assert_clean(ret["changes"])


def test_scrub_replaces_exactly_and_leaves_no_password_alone(states, model, glue):
    glue("validate", _raise)
    ret = states.validated("layline pillar")
    assert ret["name"] == "layline pillar"
    assert ret["comment"] == (
        f"layline.validate failed: RuntimeError: driver said: Access denied for password '{MASK}'"
    )
    model.config = dict(model.config, database=dict(model.config["database"], password=""))
    ret = states.validated("layline pillar")
    assert ret["comment"] == f"layline.validate failed: RuntimeError: {RAISING}"


def test_validated_passes_the_model_and_reports_exactly(states, model, glue):
    seen = []
    glue(
        "validate",
        lambda config, minion_id, installing, host: (
            seen.append((config, minion_id, installing, type(host).__name__)) or ([], ["w1"])
        ),
    )
    ret = states.validated("layline pillar")
    assert seen == [(model.config, "ll-node-1", True, "HostFacts")]  # the machine's answers
    assert ret["result"] is True
    assert ret["comment"] == "layline configuration is valid\nwarnings (1):\n  - w1"
    assert ret["warnings"] == ["w1"]
    states.validated("layline pillar", installing=False)
    assert seen[-1] == (model.config, "ll-node-1", False, "HostFacts")
    glue("validate", lambda config, minion_id, installing, host: (["e1", "e2"], []))
    ret = states.validated("layline pillar")
    assert ret["result"] is False
    assert ret["comment"] == "layline configuration is invalid (2 error(s)):\n  - e1\n  - e2"
    assert "warnings" not in ret


def test_validated_refuses_a_non_mapping(states, model):
    model.config = ["not", "a", "mapping"]
    ret = states.validated("layline pillar")
    assert ret["result"] is False
    assert ret["comment"] == (
        "layline configuration is invalid (1 error(s)):\n"
        "  - layline: the configuration must be a mapping"
    )


@pytest.mark.parametrize(
    "change, key",
    [
        ({"distribution": {"source": ""}}, "layline:distribution:source:"),
        ({"distribution": {"source_hash": ""}}, "layline:distribution:source_hash:"),
        ({"distribution": {"installer_args": "-q"}}, "layline:distribution:installer_args:"),
        ({"distribution": {"installer_args": [None]}}, "layline:distribution:installer_args:"),
        ({"version": " "}, "layline:version:"),
        ({"distribution": "x"}, "layline:distribution: must be a mapping"),
    ],
)
def test_validated_names_the_formula_keys(states, model, change, key):
    assert states.validated("layline pillar")["result"] is True
    model.config = {
        **model.config,
        **{
            k: v if not isinstance(v, dict) else {**model.config[k], **v} for k, v in change.items()
        },
    }
    ret = states.validated("layline pillar")
    assert ret["result"] is False, ret
    assert "(1 error(s))" in ret["comment"] and key in ret["comment"], ret["comment"]


def test_validated_skips_the_installer_keys_where_nothing_is_installed(states, model):
    model.config = {
        **model.config,
        "distribution": {**model.config["distribution"], "source": "", "source_hash": ""},
    }
    assert states.validated("layline pillar")["result"] is False  # an engine installs
    assert states.validated("layline pillar", installing=False)["result"] is True
    states.__opts__["id"] = "ll-mysql"  # the database-only machine installs nothing
    assert states.validated("layline pillar")["result"] is True


def test_config_managed_hands_file_managed_the_private_file(states, model, tmp_path, glue):
    calls = []
    real_render_text = layline_render.render_text
    glue(
        "render_text",
        lambda role, config, minion_id: calls.append((role, config, minion_id)) or "x",
    )
    model.render = _raise  # the masked public renderer must not be what is written
    states._ids = lambda user, group: (1234, 5678)
    states._file_state = lambda *args, **kwargs: (
        calls.append((args, kwargs))
        or {"name": args[0], "result": True, "changes": {}, "comment": ""}
    )
    target = str(tmp_path / "application.conf")
    ret = states.config_managed(target, role="reactive-engine", group="layline")
    assert ret == {"name": target, "result": True, "changes": {}, "comment": ""}
    assert calls == [
        ("reactive-engine", model.config, "ll-node-1"),
        (
            (target, b"x", "root", "layline", 0o640),
            {"create_dirs": (1234, 5678, 0o750), "secret": True},
        ),
    ]
    # the real private renderer: the file gets the password, the masked render does not
    glue("render_text", real_render_text)
    calls.clear()
    states.config_managed(target, role="reactive-engine", group="layline", mode="0600")
    ((args, kwargs),) = calls
    assert SECRET in args[1].decode("utf-8") and MASK not in args[1].decode("utf-8")
    assert args[2:] == ("root", "layline", 0o600) and kwargs["secret"] is True


def test_validated_resolves_the_canonical_addresses_before_anything_changes(
    states, model, no_dns, glue
):
    """A hostname that resolves to loopback on a multi-machine cluster fails the validation
    state on a role minion, naming the key; the clean SLS (installing=False) skips it."""
    no_dns({"ll-node-2.orb.local": "127.0.1.1"})
    ret = states.validated("layline pillar")
    assert ret["result"] is False
    assert (
        "layline:cluster:nodes[1]:hostname 'll-node-2.orb.local' resolves to 127.0.1.1"
        in ret["comment"]
        and "set layline:cluster:nodes[1]:address" in ret["comment"]
    )
    assert states.validated("layline pillar", installing=False)["result"] is True
    model.config["cluster"]["nodes"][1]["address"] = "10.231.7.13"
    assert states.validated("layline pillar")["result"] is True
