"""Simulator of the layline.io distribution (reactive engine and configuration server).

Used to test the layline Salt formula on real systemd machines without the real product.
Only the behaviour the formula depends on is simulated: configuration keys, ports, HTTP
endpoints, Pekko-like cluster membership, the persistence journal and the log lines.
"""

VERSION_FILE = "VERSION"
DEFAULT_VERSION = "0.0.0"


def read_version(install_dir):
    """Return the distribution version from ``<install_dir>/VERSION``."""
    import os

    try:
        with open(os.path.join(install_dir, VERSION_FILE), encoding="utf-8") as fh:
            return fh.read().strip() or DEFAULT_VERSION
    except OSError:
        return DEFAULT_VERSION
