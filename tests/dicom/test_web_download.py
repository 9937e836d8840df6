"""The web page offers the DICOM results of a DICOM upload as one zip (SEG, SR, SC), and none for other uploads."""

from __future__ import annotations

import io
import zipfile

import numpy as np
from fastapi.testclient import TestClient

from nmkit.dicom.sr import read_measurements
from nmkit.web.app import Settings, create_app

from .conftest import assert_valid, read


def test_dicom_upload_gets_a_zip_of_valid_objects_and_a_png_none(studies, tmp_path):
    client = TestClient(create_app(Settings(data_dir=tmp_path / "data")))
    body = client.post("/api/qc", files={"file": ("flood.dcm", studies["flood"].read_bytes())}).json()
    assert "dicom-results.zip" in body["downloads"]
    response = client.get(f"/api/analyses/{body['id']}/files/dicom-results.zip")
    assert response.status_code == 200 and "attachment" in response.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        archive.extractall(tmp_path / "zip")
    names = sorted(p.name.split(".")[-2] for p in (tmp_path / "zip").iterdir())
    assert names == ["sc", "seg", "sr"]
    for path in (tmp_path / "zip").iterdir():
        assert_valid(path)
    sr = read_measurements(read(next((tmp_path / "zip").glob("*.sr.dcm"))))
    assert sr["UFOV integral uniformity"] == body["result"]["ufov_iu"]
    np.save(tmp_path / "flood.npy", np.random.default_rng(0).poisson(300, (64, 64)).astype(np.float32))
    body = client.post("/api/qc", files={"file": ("flood.npy", (tmp_path / "flood.npy").read_bytes())}).json()
    assert "dicom-results.zip" not in body["downloads"]
