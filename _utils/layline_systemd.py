"""
Values written into systemd unit files, quoted safely (systemd.syntax(7)).
"""

import re

from salt.exceptions import CommandExecutionError

from layline_schema import CONTROL_CHAR_RE

KINDS = ("word", "assignment", "plain")


def quote(value, kind="word"):
    """
    ``value`` written safely into a unit file (see systemd.syntax(7), systemd.service(5)).

    - ``word``: one argument of a command line or an item of a list setting
      (``ExecStart=``, ``ReadWritePaths=``): double-quoted, ``\\`` and ``"`` escaped,
      ``%`` -> ``%%`` (specifiers), ``$`` -> ``$$`` (environment expansion)
    - ``assignment``: a whole ``Environment=`` assignment: double-quoted, ``%`` -> ``%%``
    - ``plain``: a setting that takes no quotes (``User=``, ``WorkingDirectory=``):
      ``%`` -> ``%%``; quotes, backslashes and whitespace are refused

    Control characters (a newline would start a new directive) are always refused.
    """
    if kind not in KINDS:
        raise CommandExecutionError(
            f"systemd quoting kind {kind!r} is not one of {', '.join(KINDS)}"
        )
    text = str(value)
    if CONTROL_CHAR_RE.search(text) or "\x7f" in text:
        raise CommandExecutionError(
            f"{text!r} contains a control character and cannot be written to a systemd unit"
        )
    escaped = text.replace("%", "%%")
    if kind == "plain":
        if re.search(r"[\s\"'\\]", text):
            raise CommandExecutionError(
                f"{text!r} contains whitespace, a quote or a backslash "
                "and cannot be written to this systemd setting"
            )
        return escaped
    escaped = escaped.replace("\\", "\\\\").replace('"', '\\"')
    if kind == "word":
        escaped = escaped.replace("$", "$$")
    return f'"{escaped}"'
