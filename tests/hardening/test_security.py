"""Security: key comparison, keys never logged, per-key rate limits, CORS, job ownership, webhook
allow-list, request ids in headers and logs, docs behind the key."""

from __future__ import annotations

import hmac
import io
import json
import logging
import socket
from pathlib import Path

import httpx
import pytest

from benchmarks.timing import server_timing_ms
from server.api.auth import authenticate
from server.jobs.webhook_policy import WebhookPolicy, WebhookRefused
from server.logging_setup import configure
from tests.hardening.conftest import ADMIN_KEY, OTHER_KEY, auth, start, wait_done
from tests.server.conftest import API_KEY, FAST, LiveServer


def test_key_comparison_is_constant_time_and_checks_every_key(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", counting)
    keys, admins = ["k1-aaaa", "k2-bbbb", "k3-cccc"], ["adm-dddd"]
    assert authenticate("Bearer k1-aaaa", keys, admins) == (authenticate("Bearer k1-aaaa", keys, admins)[0], False)
    assert len(calls) == 8  # no early exit on the first match: every key, every time
    assert authenticate("Bearer adm-dddd", keys, admins)[1] is True
    with pytest.raises(Exception, match="invalid API key"):
        authenticate("Bearer nope", keys, admins)


def test_keys_never_logged(hserver: LiveServer) -> None:
    buf = io.StringIO()
    handler = configure("json", "DEBUG", stream=buf)
    try:
        with httpx.Client(base_url=hserver.url, headers=auth(API_KEY), timeout=30) as c:
            job = c.post("/v1/text-to-video", json={"prompt": "log me", **FAST}).json()
            wait_done(c, job["id"])
            c.get("/v1/videos", headers=auth("wrong-secret-key-xyz"))
            c.get("/v1/videos", headers={"Authorization": "Basic " + API_KEY})
    finally:
        logging.getLogger().removeHandler(handler)
    text = buf.getvalue()
    assert job["id"] in text  # the log did capture this request's lines
    for secret in (API_KEY, "wrong-secret-key-xyz", ADMIN_KEY):
        assert secret not in text


def test_request_ids_in_header_and_logs(hserver: LiveServer) -> None:
    buf = io.StringIO()
    handler = configure("json", "INFO", stream=buf)
    try:
        with httpx.Client(base_url=hserver.url, headers=auth(API_KEY), timeout=30) as c:
            r = c.post("/v1/text-to-video", json={"prompt": "rid", **FAST}, headers={"X-Request-Id": "client-abc.1"})
            assert r.status_code == 202 and r.headers["x-request-id"] == "client-abc.1"
            bad = c.get("/healthz", headers={"X-Request-Id": "evil id with spaces" * 5})
            assert bad.headers["x-request-id"].startswith("req_")
            assert c.get("/v1/videos/nope").headers["x-request-id"].startswith("req_")  # errors carry one too
            # How long the server itself took, for telling server time from time on the way (load test).
            took = server_timing_ms(r.headers["server-timing"])
            assert took is not None and 0 < took < 30_000
            wait_done(c, r.json()["id"])
    finally:
        logging.getLogger().removeHandler(handler)
    lines = [json.loads(line) for line in buf.getvalue().splitlines()]
    queued = [ln for ln in lines if "queued" in ln["message"] and ln["job_id"] == r.json()["id"]]
    assert queued and queued[0]["request_id"] == "client-abc.1", lines[:5]


def test_per_key_rate_limit(tiny_weights_dir: Path, tmp_path: Path) -> None:
    live = start(tmp_path, tiny_weights_dir, rate_limit_rps=0.5, rate_limit_burst=3)
    try:
        with httpx.Client(base_url=live.url, timeout=30) as c:
            codes = [c.get("/v1/models", headers=auth(API_KEY)).status_code for _ in range(5)]
            assert codes[:3] == [200, 200, 200] and codes[3:] == [429, 429], codes
            r = c.get("/v1/models", headers=auth(API_KEY))
            assert r.json()["error"]["code"] == "rate_limited" and int(r.headers["retry-after"]) >= 1
            # Another key has its own bucket; health checks are never limited.
            assert c.get("/v1/models", headers=auth(OTHER_KEY)).status_code == 200
            assert c.get("/healthz").status_code == 200
    finally:
        live.stop()


def test_cors_off_by_default_and_configurable(hserver: LiveServer, tiny_weights_dir: Path, tmp_path: Path) -> None:
    pre = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST",
           "Access-Control-Request-Headers": "authorization"}
    r = httpx.options(f"{hserver.url}/v1/videos", headers=pre)
    assert "access-control-allow-origin" not in r.headers
    r = httpx.get(f"{hserver.url}/healthz", headers={"Origin": "https://app.example"})
    assert "access-control-allow-origin" not in r.headers
    live = start(tmp_path, tiny_weights_dir, cors_origins=["https://app.example"])
    try:
        r = httpx.options(f"{live.url}/v1/videos", headers=pre)
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "https://app.example"
        r = httpx.options(f"{live.url}/v1/videos", headers={**pre, "Origin": "https://evil.example"})
        assert r.headers.get("access-control-allow-origin") != "https://evil.example"
    finally:
        live.stop()


def test_outputs_only_for_the_owner_or_an_admin(hserver: LiveServer) -> None:
    with httpx.Client(base_url=hserver.url, headers=auth(API_KEY), timeout=60) as c:
        job = c.post("/v1/text-to-video", json={"prompt": "mine", **FAST}).json()
        done = wait_done(c, job["id"])
        assert done["state"] == "completed"
        vid = job["id"]
        for method, path in (("GET", f"/v1/videos/{vid}"), ("GET", f"/v1/videos/{vid}/content"),
                             ("GET", f"/v1/videos/{vid}/events"), ("POST", f"/v1/videos/{vid}/cancel"),
                             ("GET", f"/v1/videos/{vid}/provenance"), ("DELETE", f"/v1/videos/{vid}")):
            r = c.request(method, path, headers=auth(OTHER_KEY))
            assert r.status_code == 404, (method, path, r.text)
            assert r.json()["error"]["code"] == "not_found"
        # Routes that take the id in the body check ownership too (extend via the OpenAI route).
        r = c.post("/v1/videos/extensions", data={"prompt": "steal", "video[id]": vid}, headers=auth(OTHER_KEY))
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found", r.text
        listed = c.get("/v1/videos", params={"limit": 100}, headers=auth(OTHER_KEY)).json()["data"]
        assert vid not in {j["id"] for j in listed}
        admin_list = c.get("/v1/videos", params={"limit": 100}, headers=auth(ADMIN_KEY)).json()["data"]
        assert vid in {j["id"] for j in admin_list}
        assert c.get(f"/v1/videos/{vid}/content", headers=auth(ADMIN_KEY)).content[4:8] == b"ftyp"
        assert c.get(f"/v1/videos/{vid}/content", headers=auth(API_KEY)).status_code == 200
        assert c.delete(f"/v1/videos/{vid}", headers=auth(API_KEY)).status_code == 200


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:9/hook", "http://localhost/hook", "http://169.254.169.254/latest/meta-data",
    "http://10.1.2.3/x", "http://[::1]/x", "http://[::ffff:127.0.0.1]/x", "http://0.0.0.0/x", "http://192.168.1.1/",
    "https://user:pw@127.0.0.1/x",
])
def test_webhooks_to_internal_addresses_refused_by_default(url: str) -> None:
    policy = WebhookPolicy([])
    with pytest.raises(WebhookRefused):
        policy.check(url)


def test_webhook_policy_allow_list() -> None:
    # An injected resolver stands for DNS (no name server is reachable here); IP literals use none.
    names = {"hooks.lan": ["10.0.0.7"], "public.example": ["93.184.216.34"]}

    def resolve(host: str) -> list[str]:
        if host not in names:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return names[host]

    policy = WebhookPolicy(["10.0.0.0/24", "builder.local"], resolver=resolve)
    policy.check("http://hooks.lan:8080/cb")        # resolves into an allowed range
    policy.check("http://builder.local/cb")          # listed by name
    policy.check("https://public.example/cb")        # public: allowed unless only_listed
    policy.check("https://93.184.216.34/cb")
    with pytest.raises(WebhookRefused, match="does not resolve"):
        policy.check("http://unknown.invalid/cb")
    strict = WebhookPolicy(["10.0.0.0/24"], only_listed=True, resolver=resolve)
    strict.check("http://hooks.lan/cb")
    with pytest.raises(WebhookRefused, match="not in webhook_allow_hosts"):
        strict.check("https://public.example/cb")
    for bad in ("ftp://x/", "http:///nohost", "http://h:99999/"):
        with pytest.raises(WebhookRefused):
            policy.check(bad)


def test_webhook_refused_at_submission_with_400(tiny_weights_dir: Path, tmp_path: Path) -> None:
    live = start(tmp_path, tiny_weights_dir, webhook_allow_hosts=[])
    try:
        with httpx.Client(base_url=live.url, headers=auth(API_KEY), timeout=30) as c:
            r = c.post("/v1/text-to-video", json={"prompt": "x", **FAST,
                                                  "webhook_url": "http://169.254.169.254/latest"})
            assert r.status_code == 400, r.text
            err = r.json()["error"]
            assert err["param"] == "webhook_url" and err["code"] == "webhook_url_not_allowed"
            assert "169.254.169.254" in err["message"]
            assert c.get("/v1/videos").json()["data"] == []  # nothing stored
            assert not any((tmp_path / "jobs").iterdir())     # and no input folder left behind
    finally:
        live.stop()


def test_docs_behind_the_key(hserver: LiveServer, tiny_weights_dir: Path, tmp_path: Path) -> None:
    for path in ("/openapi.json", "/docs", "/redoc"):
        r = httpx.get(hserver.url + path)
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer", path
        assert httpx.get(hserver.url + path, headers=auth(API_KEY)).status_code == 200
    live = start(tmp_path, tiny_weights_dir, docs_public=True)
    try:
        assert httpx.get(live.url + "/openapi.json").status_code == 200
    finally:
        live.stop()
