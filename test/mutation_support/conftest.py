"""Only for test/mutation (copied to the root of its scratch copy; never part of the suite).

The tests load _modules/*.py and _states/*.py by path under names of their own
(``layline_under_test_ll-node-1``, ...). mutmut's trampolines look mutants up by the
path-derived module name (``_modules.layline``), so while mutmut runs, a module loaded
from those folders gets that name.
"""

import importlib.util
import pathlib

_original = importlib.util.spec_from_file_location
_FOLDERS = ("_modules", "_states", "_runners")


def _named_by_path(name, location=None, *args, **kwargs):
    path = pathlib.Path(str(location)) if location is not None else None
    if path is not None and path.suffix == ".py" and path.parent.name in _FOLDERS:
        name = f"{path.parent.name}.{path.stem}"
    return _original(name, location, *args, **kwargs)


importlib.util.spec_from_file_location = _named_by_path
