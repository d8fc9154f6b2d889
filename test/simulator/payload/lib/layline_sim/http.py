"""A tiny threaded HTTP server: handlers are plain functions returning a Response."""

import base64
import json
import logging
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

log = logging.getLogger("Http")


@dataclass
class Request:
    """An incoming request: method, path (unquoted later by the route), query, headers, body."""

    method: str
    path: str
    query: dict
    headers: dict
    body: bytes

    def form(self):
        """Parse an ``application/x-www-form-urlencoded`` body (plus the query string)."""
        values = dict(self.query)
        values.update({k: v[-1] for k, v in parse_qs(self.body.decode("utf-8", "replace")).items()})
        return values

    def basic_auth(self):
        """Return (user, password) from an HTTP basic Authorization header, or None."""
        header = self.headers.get("authorization", "")
        if not header.lower().startswith("basic "):
            return None
        try:
            user, _, password = base64.b64decode(header[6:].strip()).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        return user, password


@dataclass
class Response:
    """What a handler returns."""

    status: int = 200
    body: bytes | str = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: dict = field(default_factory=dict)


def json_response(data, status=200):
    """Response with a JSON body."""
    return Response(status, json.dumps(data, indent=None), "application/json")


class _Handler(BaseHTTPRequestHandler):
    server_version = "layline-sim"
    protocol_version = "HTTP/1.1"

    def _dispatch(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        headers = {k.lower(): v for k, v in self.headers.items()}
        request = Request(self.command, parts.path, query, headers, body)
        try:
            response = self.server.app(request)
        except Exception:  # a bug in a handler must not kill the server
            log.exception("error handling %s %s", self.command, self.path)
            response = Response(500, "internal error")
        payload = response.body.encode() if isinstance(response.body, str) else response.body
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _dispatch

    def log_message(self, format, *args):  # noqa: A002 - signature of the base class
        log.debug("%s - %s", self.address_string(), format % args)


class Server(ThreadingHTTPServer):
    """ThreadingHTTPServer calling ``app(request) -> Response``."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, host, port, app):
        self.app = app
        super().__init__((host, port), _Handler)

    def start(self, name):
        """Serve in a daemon thread."""
        thread = threading.Thread(target=self.serve_forever, name=name, daemon=True)
        thread.start()
        return thread
