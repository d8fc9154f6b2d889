"""_utils/layline_model.py by plain import: the one model loader, the masker, the redactor."""

import json

import pytest

import layline_model
from layline_schema import CONTEXT_KEY, MASK

SECRET = "Top$ecret-pw-4711"  # noqa: S105 - a test value
MODEL = {"database": {"password": SECRET, "hostname": "db.example.com"}}


class Renderer:
    """slsutil.renderer stand-in: counts renders, answers map.jinja's JSON."""

    def __init__(self, answer):
        self.answer = answer
        self.calls = []

    def __call__(self, string, default_renderer):
        self.calls.append((string, default_renderer))
        return self.answer if isinstance(self.answer, str) else json.dumps(self.answer)


def test_load_renders_map_jinja_once_per_context_while_the_pillar_is_unchanged():
    render, context, pillar = Renderer(MODEL), {}, {"layline": {"a": 1}}
    first = layline_model.load(render, context, pillar)
    assert first == MODEL
    assert "import mapdata" in render.calls[0][0] and render.calls[0][1] == "jinja"
    first["database"]["password"] = "changed by a caller"  # noqa: S105
    assert layline_model.load(render, context, pillar) == MODEL  # a copy, not the cache
    assert len(render.calls) == 1
    assert context[CONTEXT_KEY][1] == MODEL


def test_load_renders_again_when_pillar_layline_changed():
    render, context = Renderer(MODEL), {}
    layline_model.load(render, context, {"layline": {"a": 1}})
    layline_model.load(render, context, {"layline": {"a": 2}})
    assert len(render.calls) == 2


def test_load_without_a_pillar_still_caches():
    render, context = Renderer(MODEL), {}
    layline_model.load(render, context, None)
    layline_model.load(render, context, None)
    assert len(render.calls) == 1


@pytest.mark.parametrize("answer", [[1, 2], "null"])
def test_load_refuses_a_model_that_is_not_a_mapping(answer):
    with pytest.raises(layline_model.ModelError, match="did not give a mapping"):
        layline_model.load(Renderer(answer), {}, {})


def test_load_explains_a_render_failure_without_caching_it():
    def broken(string, default_renderer):
        raise OSError("Template layline/map.jinja not found")

    context = {}
    with pytest.raises(layline_model.ModelError, match="map.jinja.*file_roots"):
        layline_model.load(broken, context, {})
    assert CONTEXT_KEY not in context


@pytest.mark.parametrize("key", ["password", "db_passwd", "passphrase", "api_token", "Secret"])
def test_secret_keys(key):
    assert layline_model.is_secret_key(key)


@pytest.mark.parametrize("key", ["user", "hostname", "passenger", 3, None])
def test_not_secret_keys(key):
    assert not layline_model.is_secret_key(key)


def test_mask_secrets_masks_keys_and_url_credentials_and_keeps_empty_values():
    data = {
        "database": {"password": SECRET, "user": "layline"},
        "empty": {"password": ""},
        "urls": ["https://bob:" + SECRET + "@example.com/x", "https://example.com/y"],
    }
    masked = layline_model.mask_secrets(data)
    assert masked == {
        "database": {"password": MASK, "user": "layline"},
        "empty": {"password": ""},
        "urls": [f"https://bob:{MASK}@example.com/x", "https://example.com/y"],
    }
    assert data["database"]["password"] == SECRET  # the input is not changed


def test_redact_removes_the_known_password_from_free_text_recursively():
    text = f"Access denied for 'layline' using password '{SECRET}'"
    assert (
        layline_model.redact(text, MODEL) == f"Access denied for 'layline' using password '{MASK}'"
    )
    nested = layline_model.redact({"a": [text, 3, None, True]}, MODEL)
    assert SECRET not in repr(nested) and nested["a"][1:] == [3, None, True]


def test_redact_leaves_short_or_missing_passwords_and_invalid_models_alone():
    assert layline_model.redact("ab cd", {"database": {"password": "ab"}}) == "ab cd"
    assert layline_model.redact("text", ["not", "a", "mapping"]) == "text"
    assert layline_model.redact("text", {}) == "text"
