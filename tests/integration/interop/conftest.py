"""A real HTTP receiver on 127.0.0.1 that checks our signatures, and the registry world to feed it."""

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from poa_manager.interop import signing
from poa_manager.interop.http import UrllibSender
from tests.integration.registry.conftest import (  # noqa: F401  (fixtures)
    allocation,
    issued,
    make_verified,
    registry,
)
from tests.integration.sites.conftest import registered  # noqa: F401  (a fixture)
from tests.integration.verification.conftest import verifiers  # noqa: F401  (a fixture)


@dataclass
class Received:
    path: str
    headers: dict[str, str]  # names lower-cased: HTTP header names are case-insensitive
    body: bytes
    signature_valid: bool

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def event(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    """What a subscriber runs: it verifies each request with the pure `signing.verify` and the
    secret it was given, records it, and answers with the next queued status (200 by default)."""

    url: str = ""
    secrets: dict[str, str] = field(default_factory=dict)  # path → secret
    statuses: deque = field(default_factory=deque)
    requests: list[Received] = field(default_factory=list)

    def endpoint_url(self, path: str = "/hook") -> str:
        return self.url + path

    def answer(self, *statuses: int) -> None:
        self.statuses.extend(statuses)

    def events(self, kind: str | None = None) -> list[dict]:
        return [r.event for r in self.requests if kind is None or r.header("X-PoA-Event") == kind]


@pytest.fixture
def receiver():
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            secret = state.secrets.get(self.path, "")
            valid = signing.verify(
                secret, self.headers.get("X-PoA-Timestamp"), body, self.headers.get("X-PoA-Signature", "")
            )
            headers = {name.lower(): value for name, value in self.headers.items()}
            state.requests.append(Received(self.path, headers, body, valid))
            status = state.statuses.popleft() if state.statuses else 200
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):  # keep the test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def send():
    """The real urllib sender, allowed to reach 127.0.0.1 (the default refuses loopback)."""
    return UrllibSender(timeout_seconds=5, allow_private_addresses=True)
