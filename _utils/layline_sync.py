"""
Keeps the synced ``_utils`` current in a long-running minion process.

Python imports a module once per process: after a ``saltutil.sync_all`` that changed a
utils file, the minion's main process (and the jobs it forks) would keep the old code in
``sys.modules`` while the freshly loaded execution and state modules expect the new one.
Each module that imports the utils calls :py:func:`refresh` right after its imports; a
utils module whose file changed since it was (re)loaded is reloaded in place, so plain
``import layline_model`` bindings see the new code.
"""

import importlib
import os
import sys

_STAMP = "_layline_file_stamp"


def _stamp(module):
    try:
        found = os.stat(module.__file__)
    except (AttributeError, TypeError, OSError):
        return None
    return (found.st_mtime_ns, found.st_size, found.st_ino)


def refresh(*modules):
    """
    Reload each of ``modules`` (in the order given: a module before the ones that import
    from it) whose file changed since this process loaded it; returns the names reloaded.
    """
    reloaded = []
    for module in (sys.modules[__name__], *modules):
        now = _stamp(module)
        seen = module.__dict__.get(_STAMP)
        changed = seen is not None and now is not None and seen != now
        # a module after a reloaded one may hold names it imported from it: reload it too
        if changed or (reloaded and module.__name__ != __name__):
            module = importlib.reload(module)
            reloaded.append(module.__name__)
        module.__dict__[_STAMP] = now
    return reloaded


def out_of_date(schema, expected):
    """
    The operator's message when the synced ``schema`` (``layline_schema``) is not the utils
    API ``expected`` by the calling module, else None (for a module's ``__virtual__``).
    """
    found = getattr(schema, "API_VERSION", None)
    if found == expected:
        return None
    return (
        "the layline formula's _utils on this minion are out of date "
        f"(layline_schema API {found}, need {expected}): run salt '*' saltutil.sync_all"
    )
