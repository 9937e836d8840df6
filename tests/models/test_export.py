"""Exported models give torch's output in onnxruntime and torch.export; bad names and formats are refused."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from nmkit.cli import app
from nmkit.models import create_model, load_bundle, resolve_model_path, save_bundle, shipped_models
from nmkit.models.export import export_model, input_shape


@pytest.fixture()
def tiny_bundle(tmp_path):
    torch.manual_seed(0)
    model = create_model("qc-compact")
    return save_bundle(tmp_path / "tiny.pt", "qc-compact", {}, model, {"config": {"data": {"size": 32}}})


def test_onnx_export_matches_torch(tmp_path, tiny_bundle):
    ort = pytest.importorskip("onnxruntime")
    model, info = load_bundle(tiny_bundle)
    written = export_model(model, info, tmp_path / "m.onnx")
    assert written["format"] == "onnx" and written["input_shape"] == ["batch", 1, 32, 32]
    x = np.random.default_rng(0).normal(size=(3, 1, 32, 32)).astype(np.float32)   # batch 3: the batch is free
    got = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"]).run(None, {"image": x})[0]
    with torch.no_grad():
        want = model(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, want, atol=1e-4)


def test_pt2_export_matches_torch(tmp_path, tiny_bundle):
    model, info = load_bundle(tiny_bundle)
    export_model(model, info, tmp_path / "m.pt2")
    program = torch.export.load(str(tmp_path / "m.pt2"))
    x = torch.randn(2, 1, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(program.module()(x), model(x), atol=1e-5, rtol=0)


def test_input_shape_from_config_or_default():
    model = create_model("qc-compact")
    assert input_shape(model, {"config": {"data": {"phantom": {"size": 96}}}}) == (1, 96, 96)
    assert input_shape(model, {}) == (1, 128, 128)
    assert input_shape(model, {}, (40, 50)) == (1, 40, 50)


def test_shipped_names_resolve():
    shipped = shipped_models()
    assert {"qc-default", "gbp-default", "pet-default", "bonescan-default"} <= set(shipped)
    assert resolve_model_path("qc-default") == shipped["qc-default"]


def test_cli_refuses_unknown_model_and_format(tmp_path, tiny_bundle):
    result = CliRunner().invoke(app, ["export", "no-such-model", "--out", str(tmp_path / "m.onnx")])
    assert result.exit_code == 2 and "neither a model file nor a shipped model" in result.output
    result = CliRunner().invoke(app, ["export", str(tiny_bundle), "--out", str(tmp_path / "m.bin")])
    assert result.exit_code == 2 and "export format must be one of onnx, pt2" in result.output
    result = CliRunner().invoke(app, ["export", str(tiny_bundle), "--out", str(tmp_path / "m.onnx"),
                                      "--input-size", "32"])
    assert result.exit_code == 2 and "--input-size" in result.output
    assert not list(tmp_path.glob("m.*"))
