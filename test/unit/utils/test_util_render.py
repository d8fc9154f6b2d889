"""_utils/layline_render.py by plain import: a minion's validation and its application.conf,
the lookups joined with the rules and the builder (the model comes from map.jinja)."""

import layline_render
import pytest
from salt.exceptions import CommandExecutionError
from unitsupport import SECRET, SEED_PILLAR


def test_only_a_minion_that_installs_layline_needs_the_installer(make_config):
    config = make_config(SEED_PILLAR, {"distribution": {"source": "", "source_hash": ""}})
    errors, _warnings = layline_render.validate(config, "ll-node-1")
    assert [e.split(":")[1:3] for e in errors] == [
        ["distribution", "source"],
        ["distribution", "source_hash"],
    ]
    assert layline_render.validate(config, "ll-mysql") == ([], [])  # database only
    assert layline_render.validate(config, "ll-node-1", installing=False) == ([], [])
    assert layline_render.installs_layline(config, "ll-config-server") is True


def test_each_role_renders_only_where_it_runs(make_config):
    config = make_config(SEED_PILLAR)
    with pytest.raises(CommandExecutionError, match="'ll-mysql' is not listed in layline:cluster"):
        layline_render.build_data("reactive-engine", config, "ll-mysql")
    with pytest.raises(CommandExecutionError, match="'ll-node-1' is not layline:config_server"):
        layline_render.build_data("config-server", config, "ll-node-1")


def test_the_engine_binds_its_canonical_address_and_seeds_every_engine(make_config):
    config = make_config(SEED_PILLAR)
    artery = layline_render.build_data("reactive-engine", config, "ll-node-2")["pekko"]["remote"]
    assert artery["artery"]["bind"]["hostname"] == "10.231.7.13"  # unitsupport's lab hosts
    assert artery["artery"]["canonical"]["hostname"] == "ll-node-2.orb.local"
    config["network"]["bind_any"] = True
    data = layline_render.build_data("reactive-engine", config, "ll-node-2")
    assert data["pekko"]["remote"]["artery"]["bind"]["hostname"] == "0.0.0.0"
    assert data["pekko"]["cluster"]["seed-nodes"] == [
        f"pekko://layline@ll-node-{k}.orb.local:5843" for k in (1, 2, 3)
    ]


def test_the_real_text_has_the_password_and_an_invalid_model_none(make_config):
    config = make_config(SEED_PILLAR)
    assert SECRET in layline_render.render_text("config-server", config, "ll-config-server")
    config["cluster"]["min_nr_of_members"] = 0
    with pytest.raises(CommandExecutionError, match=r"invalid model \(1 error\(s\)\):\n- layline:"):
        layline_render.render_text("reactive-engine", config, "ll-node-1")
