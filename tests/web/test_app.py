"""The web API through FastAPI's TestClient: same numbers as the CLI, auto-picking, bad uploads, safety."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from nmkit.cli import app as cli
from nmkit.web.app import Settings, create_app

from .conftest import flood_dicom


def client_for(settings: Settings) -> TestClient:
    return TestClient(create_app(settings), base_url="http://localhost")


def post(client: TestClient, path: str, file, name: str = "study.dcm", **form):
    data = file.read_bytes() if hasattr(file, "read_bytes") else file
    return client.post(path, files={"file": (name, data)}, data=form)


def cli_json(*args) -> dict:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout.strip().splitlines()[-1])


def stored(settings: Settings) -> list:
    return [p for sub in ("uploads", "results") for p in (settings.data_dir / sub).iterdir()]


def test_qc_upload_returns_the_cli_numbers_and_stores_the_check(settings, models, studies, tmp_path):
    client = client_for(settings)
    response = post(client, "/api/qc", studies["qc"], name="head 1 flood.dcm")
    assert response.status_code == 200, response.text
    body = response.json()
    expected = cli_json("qc", "check", studies["qc"], "--model", models["qc"][0], "--json", "--out", tmp_path / "cli")
    for key in ("ufov_iu", "ufov_du", "cfov_iu", "cfov_du", "defect_probability", "verdict"):
        assert body["result"][key] == expected[key]
    assert {n["key"]: n["value"] for n in body["numbers"]}["ufov_iu"] == expected["ufov_iu"]
    assert body["file"] == body["result"]["file"] == "head 1 flood.dcm"
    assert body["verdict"] == expected["verdict"] and body["result"]["map_png"] == "flood.qc.png"
    for name in (*body["figures"], *body["downloads"]):
        assert client.get(f"/api/analyses/{body['id']}/files/{name}").status_code == 200
    assert json.loads(client.get(f"/api/analyses/{body['id']}/files/result.json").content) == body
    history = client.get("/api/qc/history").json()
    camera = history["cameras"][0]
    assert (camera["station_name"], camera["device_serial_number"], camera["n_checks"]) == ("GAMMA1", "SN-0042", 1)
    assert camera["checks"][0]["acquired_at"] == "2026-11-02T08:15:00"
    assert camera["metrics"]["ufov_iu"]["latest"] == expected["ufov_iu"]
    assert list((settings.data_dir / "uploads").iterdir()) == []  # the upload is gone once analysed


def test_gbp_upload_matches_the_cli_with_the_shipped_model(tmp_path, studies):
    settings = Settings(data_dir=tmp_path / "data")
    body = post(client_for(settings), "/api/gbp", studies["gbp"]).json()
    expected = cli_json("gbp", "ef", studies["gbp"], "--json", "--out", tmp_path / "cli")
    assert body["result"] | {"file": expected["file"], "overlay_png": expected["overlay_png"],
                             "curve_png": expected["curve_png"]} == expected
    assert [n["key"] for n in body["numbers"]][:4] == ["ef", "ef_interval", "ed_frame", "es_frame"]  # shipped interval
    assert body["figures"] == ["study.rois.png", "study.curve.png"]


@pytest.mark.parametrize("key", ["qc", "gbp", "pet", "bonescan", "rds"])
def test_auto_picks_each_workflow_from_the_content(settings, studies, key, monkeypatch):
    from nmkit.web import upload
    from nmkit.web.workflows import candidates

    path = studies[key]
    typed, found = upload.probe(_copy(path, settings.data_dir / "probe"), path.name)
    expected = {"rds": ["qc", "rds"]}.get(key, [key])  # a grey PNG may be a flood or a radiograph
    assert candidates(found) == expected


def test_every_workflow_runs_through_the_queue(settings, studies):
    client = client_for(settings)
    for key, path in studies.items():
        job = post(client, "/api/analyses", path, name=path.name, workflow=key)
        assert job.status_code == 202, job.text
        state = _wait(client, job.json()["id"])
        assert state["status"] == "done", state
        assert state["result"]["workflow"] == key and state["result"]["numbers"]
        text = client.get(f"/api/analyses/{state['id']}/files/result.json").text
        for server_path in (settings.data_dir, models_root(), settings.models["qc"][0].parent):
            assert str(server_path) not in text, (key, server_path)  # the model by name and sha256, no path
    pet = state = None
    for job_id in (p.name for p in (settings.data_dir / "results").iterdir()):
        state = client.get(f"/api/analyses/{job_id}").json()
        if state["workflow"] == "pet":
            pet = state["result"]
    assert pet["viewer"]["volumes"] == {"early (input)": "early.u8", "predicted delayed": "delayed.u8"}
    volume = client.get(f"/api/analyses/{pet['id']}/files/delayed.u8").content
    slices, height, width = pet["viewer"]["shape"]
    assert len(volume) == slices * height * width


def test_an_ambiguous_png_asks_for_the_workflow(settings, studies):
    response = post(client_for(settings), "/api/analyse", studies["rds"], name="image.png")
    assert response.status_code == 422
    assert response.json()["detail"].startswith("image.png: a raster") and "choose the workflow" in response.json()["detail"]
    assert stored(settings) == []


def _bad_uploads(studies):
    dicom = studies["qc"].read_bytes()
    return {"truncated DICOM": (dicom[: len(dicom) // 2], 422, "truncated"),
            "wrong type": (b"%PDF-1.7 not an image at all", 415, "is not an image nmkit can read"),
            "empty": (b"", 400, "is empty"),
            "over the limit": (b"\0" * (9 << 20), 413, "larger than the")}


@pytest.mark.parametrize("case", ["truncated DICOM", "wrong type", "empty", "over the limit"])
@pytest.mark.parametrize("path", ["/api/qc", "/api/analyses"])
def test_bad_uploads_get_4xx_one_sentence_and_store_nothing(settings, studies, case, path):
    data, status, words = _bad_uploads(studies)[case]
    client = client_for(settings)
    response = post(client, path, data, name="bad.dcm")
    assert response.status_code == status
    detail = response.json()["detail"]
    assert words in detail and detail.endswith(".") and "\n" not in detail
    assert stored(settings) == [] and client.get("/api/qc/history").json()["cameras"] == []


def test_an_analysis_error_is_a_422_naming_the_client_file(settings, tmp_path):
    frames = tmp_path / "static.dcm"
    flood_dicom(frames)  # one frame: not a gated study
    response = post(client_for(settings), "/api/gbp", frames, name="mine.dcm")
    assert response.status_code == 422
    assert response.json()["detail"].startswith("mine.dcm:") and str(settings.data_dir) not in response.text
    assert stored(settings) == []


def test_a_workflow_without_a_model_is_refused_before_storing(tmp_path, studies, monkeypatch):
    from nmkit.workflows.pet.web import WEB

    settings = Settings(data_dir=tmp_path / "data")
    ready = {w["key"]: w["ready"] for w in client_for(settings).get("/api/workflows").json()}
    assert ready == {"qc": True, "gbp": True, "pet": True, "bonescan": True, "rds": True,  # every default is shipped
                     "qc-countrate": True, "qc-cor": True, "qc-tomo": True}  # and the battery tests need no model
    monkeypatch.setattr(WEB, "model_required", True)  # as when a workflow ships none
    client = client_for(settings)
    assert {w["key"]: w["ready"] for w in client.get("/api/workflows").json()}["pet"] is False
    response = post(client, "/api/pet", studies["pet"])
    assert response.status_code == 503 and "--model pet=PATH" in response.json()["detail"]
    assert stored(settings) == []


def test_files_are_served_only_by_plain_name_of_a_known_job(settings, studies):
    client = client_for(settings)
    job = post(client, "/api/qc", studies["qc"]).json()["id"]
    for name in ("..%2F..%2Fnmkit.db", "upload.dcm", ".hidden", "nope.png"):
        assert client.get(f"/api/analyses/{job}/files/{name}").status_code == 404
    assert client.get("/api/analyses/../files/result.json").status_code == 404
    assert client.get(f"/api/analyses/{'0' * 32}").status_code == 404


def test_page_and_docs_load_nothing_from_elsewhere(settings):
    client = client_for(settings)
    page = client.get("/")
    assert page.status_code == 200 and "default-src 'self'" in page.headers["content-security-policy"]
    for url in ("/", "/static/app.js", "/static/style.css", "/docs", "/qc/history"):
        text = client.get(url).text
        assert "http://" not in text and "https://" not in text, url
    assert "/openapi.json" in client.get("/docs").text
    schema = client.get("/openapi.json").json()
    assert {"/api/qc", "/api/gbp", "/api/pet", "/api/bonescan", "/api/rds", "/api/analyse"} <= set(schema["paths"])


def test_serve_binds_to_loopback_by_default(monkeypatch, tmp_path):
    import uvicorn

    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(kw))
    result = CliRunner().invoke(cli, ["serve", "--data-dir", str(tmp_path / "d")])
    assert result.exit_code == 0, result.output
    assert seen["host"] == "127.0.0.1"


def test_serve_rejects_bad_options(tmp_path):
    result = CliRunner().invoke(cli, ["serve", "--model", "pet", "--data-dir", str(tmp_path / "d")])
    assert result.exit_code == 2 and "WORKFLOW=PATH" in result.output
    result = CliRunner().invoke(cli, ["serve", "--gbp-background", "ring", "--data-dir", str(tmp_path / "d")])
    assert result.exit_code == 2 and "--gbp-background" in result.output


def models_root():
    """Where the shipped models and the uploaded bundles live on the server."""
    from pathlib import Path

    import nmkit

    return Path(nmkit.__file__).parent


def _copy(path, folder):
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "upload"
    target.write_bytes(path.read_bytes())
    return target


def _wait(client, job_id, tries=400):
    import time

    for _ in range(tries):
        state = client.get(f"/api/analyses/{job_id}").json()
        if state["status"] in ("done", "error"):
            return state
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish")
