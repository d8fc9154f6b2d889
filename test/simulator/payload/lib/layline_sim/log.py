"""Logging in layline's format: ``26-04-30 15:56:23.561 INFO Layline - [LAY-11000] ...``."""

import logging
import os
import sys
import time


class LaylineFormatter(logging.Formatter):
    """Format records as ``yy-mm-dd HH:MM:SS.mmm LEVEL Logger - message``."""

    def format(self, record):
        stamp = time.strftime("%y-%m-%d %H:%M:%S", time.localtime(record.created))
        level = "WARN" if record.levelname == "WARNING" else record.levelname
        text = f"{stamp}.{int(record.msecs):03d} {level} {record.name} - {record.getMessage()}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def setup(component, log_file):
    """Log to stdout and to ``log_file`` (its directory is created when possible).

    ``component`` is only used as the root of the logger hierarchy. Returns the path of the
    log file, or None when it cannot be written (the simulator then logs to stdout only).
    """
    root = logging.getLogger()
    root.handlers.clear()
    root.setLevel(logging.INFO)
    formatter = LaylineFormatter()
    out = logging.StreamHandler(sys.stdout)
    out.setFormatter(formatter)
    root.addHandler(out)
    try:
        os.makedirs(os.path.dirname(log_file), exist_ok=True)
        handler = logging.FileHandler(log_file, encoding="utf-8")
    except OSError as exc:
        print(f"WARN cannot write log file {log_file}: {exc}", file=sys.stderr)
        return None
    handler.setFormatter(formatter)
    root.addHandler(handler)
    logging.getLogger(component).debug("logging to %s", log_file)
    return log_file
