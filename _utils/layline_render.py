"""
What one minion validates and renders: the lookups (``layline_model``, ``layline_address``)
joined with the validation (``layline_validate``) and the application.conf builder
(``layline_hocon``).

Pure but for the resolver seam of ``layline_address``: every function takes the merged
``config`` and the ``minion_id`` it renders for. The execution module ``layline`` masks what
it returns (``render``, ``render_data``, ``validate``); the states call :py:func:`validate`
and :py:func:`render_text` (the real text, with the password) on the minion and never return
it.
"""

from salt.exceptions import CommandExecutionError

import layline_address
import layline_checks
import layline_hocon
import layline_model
import layline_validate


def installs_layline(config, minion_id):
    """True unless ``minion_id`` is known to install nothing (a database-only machine)."""
    if minion_id is None:
        return True
    try:
        return bool({"engine", "config-server"} & set(layline_model.roles(config, minion_id)))
    except (TypeError, AttributeError):  # an invalid model: validation reports it
        return True


def validate(config, minion_id=None, installing=True, host=None):
    """
    ``(errors, warnings)`` of ``config`` (see :py:func:`layline_validate.validate`; ``host``
    is its seam to this machine's paths and accounts, e.g. ``layline_hostfacts.HostFacts()``).

    ``distribution:source``/``source_hash`` are required unless ``minion_id`` is given and
    the minion installs nothing (database-only machine), or ``installing`` is False (the
    clean SLS files).
    """
    return layline_validate.validate(
        config,
        installs=installing and installs_layline(config, minion_id),
        is_one_machine=layline_model.is_one_machine,
        host=host,
    )


def engine_data(config, minion_id):
    """The reactive engine's application.conf data on ``minion_id`` (an engine node)."""
    node = layline_model.this_engine_node(config, minion_id)
    if node is None:
        raise CommandExecutionError(
            f"minion {minion_id!r} is not listed in layline:cluster:nodes: the reactive-engine "
            "configuration is rendered only for engine nodes"
        )
    hostname = node.get("hostname")
    if not layline_checks.is_nonempty_str(hostname):
        raise CommandExecutionError(f"layline:cluster:nodes: minion {minion_id!r} has no hostname")
    bind = layline_address.bind_for(config, layline_model.engine_key(config, minion_id), minion_id)
    seeds = layline_model.seed_nodes(config, minion_id)
    return layline_hocon.engine_data(config, hostname, bind, seeds)


def config_server_data(config, minion_id):
    """The config server's application.conf data on ``minion_id`` (the config server)."""
    if "config-server" not in layline_model.roles(config, minion_id):
        raise CommandExecutionError(
            f"minion {minion_id!r} is not layline:config_server:minion: the config-server "
            "configuration is rendered only for the config server"
        )
    bind = layline_address.bind_for(config, "config_server", minion_id)
    hostname = layline_model.config_server_hostname(config)
    return layline_hocon.config_server_data(config, hostname, bind)


def build_data(role, config, minion_id):
    """application.conf data of ``role`` for ``minion_id``, extra_config merged in."""
    layline_hocon.check_role(role)
    builder = engine_data if role == "reactive-engine" else config_server_data
    return layline_hocon.with_extra_config(role, config, builder(config, minion_id))


def render_text(role, config, minion_id):
    """
    The real application.conf text of ``role`` (with the password), parsed back and compared
    with the intended data; refuses an invalid model with every error.
    """
    errors, _warnings = validate(config, minion_id)
    if errors:
        raise CommandExecutionError(
            f"refusing to render the {role} configuration of an invalid model "
            f"({len(errors)} error(s)):\n- " + "\n- ".join(errors)
        )
    return layline_hocon.verified_hocon(build_data(role, config, minion_id))
