"""The web API refuses a file its workflow does not take with HTTP 422, and stores nothing."""

from __future__ import annotations

from fastapi.testclient import TestClient

from nmkit.web.app import create_app


def test_a_radiograph_sent_to_qc_is_a_422_and_enters_no_history(settings, studies):
    client = TestClient(create_app(settings), base_url="http://localhost")
    response = client.post("/api/qc", files={"file": ("chest.png", studies["rds"].read_bytes())})
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail.startswith("chest.png: is a grey image (png") and "qc check takes a planar flood" in detail
    assert client.get("/api/qc/history").json()["cameras"] == []
