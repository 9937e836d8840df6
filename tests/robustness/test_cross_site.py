"""Item 2: cross-site requests, foreign Host headers (DNS rebinding), the optional token, /docs framing."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from nmkit.cli import app as cli

from .conftest import client_for, post, stored

EMPTY = b""  # an upload the server refuses with 400 once it gets that far: proof a request was let through


def test_only_allowed_hosts_are_served(settings):
    assert client_for(settings, "evil.example").get("/api/qc/history").status_code == 421
    assert client_for(settings, "evil.example:8000").get("/").status_code == 421
    for host in ("localhost", "127.0.0.1:8000", "[::1]:8000"):
        assert client_for(settings, host).get("/api/qc/history").status_code == 200, host
    settings.allowed_hosts = ["nm-server.hospital.local"]
    assert client_for(settings, "nm-server.hospital.local").get("/api/workflows").status_code == 200


@pytest.mark.parametrize("headers", [{"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"},
                                     {"Origin": "null"}, {"Origin": "http://localhost:9999"},
                                     {"Sec-Fetch-Site": "same-site"}])
def test_state_changing_requests_from_another_site_are_refused(settings, headers):
    client = client_for(settings)
    response = post(client, "/api/analyses", EMPTY, headers=headers, workflow="qc")
    assert response.status_code == 403 and "cross-site" in response.json()["detail"]
    assert stored(settings) == [] and client.get("/api/qc/history").json()["cameras"] == []


@pytest.mark.parametrize("headers", [{}, {"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"},
                                     {"Sec-Fetch-Site": "none"}])
def test_the_page_itself_and_scripts_may_post(settings, headers):
    assert post(client_for(settings), "/api/qc", EMPTY, headers=headers).status_code == 400


def test_a_token_guards_everything_but_static_files(settings):
    settings.token = "s3cret-token"
    client = client_for(settings)
    for url in ("/", "/api/qc/history", "/docs", "/openapi.json"):
        response = client.get(url)
        assert response.status_code == 401 and "Bearer" in response.json()["detail"], url
    assert client.get("/static/app.js").status_code == 200
    assert post(client, "/api/qc", EMPTY).status_code == 401
    assert post(client, "/api/qc", EMPTY, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert post(client, "/api/qc", EMPTY, headers={"Authorization": "Bearer s3cret-token"}).status_code == 400
    page = client.get("/?token=s3cret-token")  # the page opened once with the token keeps it as a cookie
    assert page.status_code == 200 and "samesite=strict" in page.headers["set-cookie"].lower()
    assert client.get("/api/qc/history").status_code == 200


def test_docs_may_not_be_framed(settings):
    policy = client_for(settings).get("/docs").headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy


def test_serve_takes_allowed_hosts_and_a_token_from_the_environment(monkeypatch, tmp_path):
    import uvicorn

    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(app=app, **kw))
    monkeypatch.setenv("NMKIT_TOKEN", "from-env")
    result = CliRunner().invoke(cli, ["serve", "--data-dir", str(tmp_path / "d"), "--allowed-host", "nm.local",
                                      "--max-pixel-mb", "qc=32"])
    assert result.exit_code == 0, result.output
    settings = seen["app"].state.settings
    assert (settings.token, settings.allowed_hosts, settings.pixel_limits_mb) == ("from-env", ["nm.local"], {"qc": 32})
    for bad in (["--max-pixel-mb", "qc=nan"], ["--max-pixel-mb", "ct=5"], ["--max-upload-mb", "inf"]):
        result = CliRunner().invoke(cli, ["serve", "--data-dir", str(tmp_path / "d"), *bad])
        assert result.exit_code == 2 and result.output.startswith("error: "), bad
