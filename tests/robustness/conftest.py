"""Fixtures for the robustness suite: a small flood, a CLI runner, and a web client on the shipped models."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner, Result

from nmkit.cli import app as cli
from nmkit.io.dicom_write import write_nm_dicom
from nmkit.web.app import Settings, create_app

CAMERA = {"StationName": "GAMMA9", "DeviceSerialNumber": "SN-9"}


def flood(path: Path, size: int = 64, seed: int = 0) -> Path:
    """A flat Poisson flood (300 counts/px) as NM DICOM."""
    counts = np.random.default_rng(seed).poisson(300.0, (1, size, size)).astype(np.uint16)
    return write_nm_dicom(path, counts, (6.4, 6.4), extra=CAMERA)


def run_cli(*args) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


def one_sentence_error(result: Result) -> str:
    """The CLI refused with exit 2 and one ``error: ...`` line (no traceback); returns that line."""
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and lines[0].endswith("."), result.output
    return lines[0]


def client_for(settings: Settings, host: str = "localhost") -> TestClient:
    return TestClient(create_app(settings), base_url=f"http://{host}")


def post(client: TestClient, path: str, data: bytes, name: str = "study.dcm", headers: dict | None = None, **form):
    return client.post(path, files={"file": (name, data)}, data=form, headers=headers or {})


def stored(settings: Settings) -> list[Path]:
    return [p for sub in ("uploads", "results") for p in (settings.data_dir / sub).iterdir()]


def strings(value) -> list[str]:
    """Every string inside a JSON document."""
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings(v)] + [str(k) for k in value]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return [value] if isinstance(value, str) else []


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path / "data", max_upload_mb=4, workers=1)


__all__ = ["client_for", "flood", "json", "one_sentence_error", "post", "run_cli", "stored", "strings"]
