"""Auth on every protected route, upload limits (413), corrupt images (400), signed webhooks."""

from __future__ import annotations

import io
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, ClassVar

import httpx
import pytest
from PIL import Image

from server.jobs.webhooks import verify
from tests.server.conftest import API_KEY, FAST, WEBHOOK_SECRET, LiveServer, wait_terminal

PROTECTED = [
    ("POST", "/v1/text-to-video"), ("POST", "/v1/image-to-video"), ("POST", "/v1/first-last-frame-to-video"),
    ("POST", "/v1/videos"), ("GET", "/v1/videos"), ("GET", "/v1/videos/video_x"),
    ("GET", "/v1/videos/video_x/content"), ("GET", "/v1/videos/video_x/events"),
    ("POST", "/v1/videos/video_x/cancel"), ("DELETE", "/v1/videos/video_x"), ("GET", "/v1/models"),
    ("GET", "/metrics"),
]


@pytest.mark.parametrize("method,path", PROTECTED)
def test_protected_routes_need_a_valid_key(server: LiveServer, method: str, path: str) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as anon:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {API_KEY}"}):
            r = anon.request(method, path, headers=headers, json={"prompt": "x"})
            assert r.status_code == 401, (method, path, headers, r.text)
            assert r.json()["error"]["type"] == "authentication_error"


def test_health_and_ready_need_no_key(server: LiveServer) -> None:
    assert httpx.get(f"{server.url}/healthz").status_code == 200
    assert httpx.get(f"{server.url}/readyz").status_code == 200


def _png(width: int, height: int, noise: bool = False) -> bytes:
    img = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3)) if noise \
        else Image.new("RGB", (width, height), (10, 20, 30))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def test_upload_limits_and_corrupt_images(client: httpx.Client) -> None:
    big = _png(300, 300, noise=True)  # ~270 kB of noise: over the 200 kB test limit
    assert len(big) > 200_000
    r = client.post("/v1/image-to-video", data={"prompt": "x"}, files={"image": ("big.png", big, "image/png")})
    assert r.status_code == 413 and r.json()["error"]["param"] == "image", r.text
    import base64
    r = client.post("/v1/image-to-video", json={"prompt": "x", "image": base64.b64encode(big).decode()})
    assert r.status_code == 413
    # Few bytes, many pixels: refused from the header, before decoding.
    wide = _png(2000, 1000)
    assert len(wide) < 200_000
    r = client.post("/v1/image-to-video", data={"prompt": "x"}, files={"image": ("wide.png", wide, "image/png")})
    assert r.status_code == 413 and "pixels" in r.json()["error"]["message"]
    corrupt = _png(32, 32)[:60]
    r = client.post("/v1/image-to-video", data={"prompt": "x"}, files={"image": ("c.png", corrupt, "image/png")})
    assert r.status_code == 400 and r.json()["error"]["param"] == "image", r.text
    r = client.post("/v1/videos", data={"prompt": "x"}, files={"input_reference": ("t.txt", b"hello", "text/plain")})
    assert r.status_code == 400 and r.json()["error"]["param"] == "input_reference"
    r = client.post("/v1/image-to-video", json={"prompt": "x", "image": "data:image/png;base64,@@@"})
    assert r.status_code == 400
    r = client.post("/v1/text-to-video", json={"prompt": "x" * 20_001})
    assert r.status_code in (400, 422) and r.json()["error"]["param"] == "prompt"


class _Receiver(BaseHTTPRequestHandler):
    calls: ClassVar[list[tuple[dict[str, str], bytes]]] = []
    lock = threading.Lock()
    fail_first = True

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with self.lock:
            if _Receiver.fail_first:  # the first delivery fails: the sender must retry
                _Receiver.fail_first = False
                self.send_response(503)
                self.end_headers()
                return
            _Receiver.calls.append((dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture()
def receiver() -> Iterator[str]:
    srv = HTTPServer(("127.0.0.1", 0), _Receiver)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/hook"
    srv.shutdown()


def test_webhook_is_signed_and_retried(client: httpx.Client, receiver: str) -> None:
    import time

    job = client.post("/v1/text-to-video", json={"prompt": "hook", "webhook_url": receiver, **FAST}).json()
    wait_terminal(client, job["id"])
    deadline = time.monotonic() + 15
    while not _Receiver.calls and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _Receiver.calls, "webhook never delivered"
    headers, body = _Receiver.calls[0]
    assert verify(WEBHOOK_SECRET, headers["Vidserve-Signature"], body)
    assert not verify("other-secret", headers["Vidserve-Signature"], body)
    assert not verify(WEBHOOK_SECRET, headers["Vidserve-Signature"], body + b" ")
    payload = json.loads(body)
    assert payload["type"] == "video.completed" and payload["data"]["id"] == job["id"]
    assert headers["Vidserve-Webhook-Id"].startswith("whk_")


def test_an_idle_connection_outlives_the_clients_own_idle_expiry(server: LiveServer) -> None:
    """httpx (and the openai SDK on it) drop idle connections after 5 s. A server that closes them
    at the same moment races every reuse: the request a client sends as the server closes is reset.
    The server must keep them longer, so one reused just before the client's expiry is served."""
    client_expiry_s = httpx.Limits().keepalive_expiry
    assert client_expiry_s is not None
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        request = b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n"
        sock.sendall(request)
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        time.sleep(client_expiry_s + 0.5)  # idle past the client's own limit, and a bit of scheduling slack
        sock.sendall(request)
        assert sock.recv(4096).startswith(b"HTTP/1.1 200"), "the server closed an idle connection a client reuses"
