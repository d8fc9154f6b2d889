"""Lightbend Config (com.typesafe.config, the HOCON parser Pekko itself uses) as a test oracle.

``parse_files(paths)`` runs test/hocon/HoconToJson.java once for all paths (a single-file
source program: needs a JDK, Debian's ``default-jdk-headless``, and ``libtypesafe-config-java``;
test/setup-host installs both) and returns ``{path: resolved config as plain data}``, the
values the JVM would see. A file Lightbend rejects raises ``HoconError`` with its message.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
JAR = Path(os.environ.get("LAYLINE_TYPESAFE_CONFIG_JAR", "/usr/share/java/typesafe-config.jar"))


class HoconError(AssertionError):
    """Lightbend Config rejected a file (or the oracle itself could not run)."""


def available() -> str | None:
    """None when the oracle can run, else what is missing (for a clear failure message)."""
    if not shutil.which("java"):
        return "java (apt-get install default-jdk-headless; test/setup-host does)"
    if not JAR.is_file():
        return f"{JAR} (apt-get install libtypesafe-config-java; test/setup-host does)"
    return None


def parse_files(paths) -> dict[str, object]:
    missing = available()
    if missing:
        raise HoconError(f"the Lightbend HOCON oracle needs {missing}")
    paths = [str(p) for p in paths]
    proc = subprocess.run(
        ["java", "-cp", str(JAR), str(HERE / "HoconToJson.java"), *paths],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode != 0:
        raise HoconError(f"Lightbend Config rejected the input: {proc.stderr.strip()}")
    return json.loads(proc.stdout)


def parse_texts(texts: dict[str, str]) -> dict[str, object]:
    """Parse several HOCON texts in one JVM run: ``{name: text}`` -> ``{name: data}``."""
    with tempfile.TemporaryDirectory() as tmp:
        files = {}
        for index, (name, text) in enumerate(texts.items()):
            path = Path(tmp) / f"{index}.conf"
            path.write_text(text)
            files[str(path)] = name
        try:
            parsed = parse_files(list(files))
        except HoconError as exc:
            message = str(exc)
            for path, name in files.items():
                message = message.replace(path, name)
            raise HoconError(message) from None
        return {files[path]: data for path, data in parsed.items()}
