"""
This machine's paths and accounts, as ``layline_validate`` asks about them (the ``host`` seam
of :py:func:`layline_validate.validate`): validation stays pure, the execution and state
modules pass :py:class:`HostFacts` in. Read-only: ``lstat``, ``pwd``, ``grp``; never follows a
link.
"""

import grp
import os
import pwd

# system accounts: below this uid (login.defs' UID_MIN on Debian and RedHat)
SYSTEM_UID_MAX = 999


class HostFacts:
    """The answers of this machine."""

    def path_owner(self, path):
        """Name (or uid) of the owner of ``path`` itself (a link is not followed), or None."""
        try:
            uid = os.lstat(path).st_uid
        except FileNotFoundError:
            return None
        except OSError:
            return "<unreadable>"
        try:
            return pwd.getpwuid(uid).pw_name
        except KeyError:
            return str(uid)

    def account(self, name):
        """``{system, gecos, home, shell, gid}`` of the account ``name``, or None."""
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            return None
        return {
            "system": 0 < entry.pw_uid <= SYSTEM_UID_MAX,
            "gecos": entry.pw_gecos,
            "home": entry.pw_dir,
            "shell": entry.pw_shell,
            "gid": entry.pw_gid,
        }

    def group_gid(self, name):
        """The gid of the group ``name``, or None."""
        try:
            return grp.getgrnam(name).gr_gid
        except KeyError:
            return None
