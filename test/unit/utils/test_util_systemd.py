"""_utils/layline_systemd.py by plain import."""

import pytest
from salt.exceptions import CommandExecutionError

import layline_systemd


def test_word_escapes_specifiers_variables_quotes_and_backslashes():
    assert layline_systemd.quote('a "b" %i $HOME \\x') == '"a \\"b\\" %%i $$HOME \\\\x"'


def test_assignment_keeps_variables():
    assert layline_systemd.quote("JAVA_OPTS=-Xmx1g $X %h", "assignment") == (
        '"JAVA_OPTS=-Xmx1g $X %%h"'
    )


def test_plain_escapes_specifiers_and_refuses_whitespace_and_quotes():
    assert layline_systemd.quote("/opt/layline%1", "plain") == "/opt/layline%%1"
    for value in ("a b", 'a"b', "a'b", "a\\b"):
        with pytest.raises(CommandExecutionError, match="whitespace, a quote or a backslash"):
            layline_systemd.quote(value, "plain")


@pytest.mark.parametrize("kind", layline_systemd.KINDS)
def test_control_characters_are_refused_in_every_kind(kind):
    for value in ("a\nExecStartPre=/bin/sh", "a\x7f"):
        with pytest.raises(CommandExecutionError, match="control character"):
            layline_systemd.quote(value, kind)


def test_an_unknown_kind_is_refused():
    with pytest.raises(CommandExecutionError, match="is not one of word, assignment, plain"):
        layline_systemd.quote("x", "shell")
