"""model.init: weights from a shipped name, a bundle or a prefixed local file; model.freeze: encoder."""

from __future__ import annotations

import pytest
import torch

from nmkit.errors import InputError
from nmkit.models import create_model, freeze, init_from, resolve_model_path, save_bundle, shipped_models


def test_prefixed_files_and_bundles_fit_the_bare_network(tmp_path):
    source = create_model("qc-compact", width=4, stages=2)
    torch.save({f"module.net.{k}": v for k, v in source.state_dict().items()}, tmp_path / "prefixed.pt")
    save_bundle(tmp_path / "bundle.pt", "qc-compact", {"width": 4, "stages": 2}, source)
    for path in ("prefixed.pt", "bundle.pt"):
        target = create_model("qc-compact", width=4, stages=2)
        loaded, total = init_from(target, tmp_path / path)
        assert loaded == total
        assert all(torch.equal(a, b) for a, b in zip(source.state_dict().values(), target.state_dict().values()))


def test_an_encoder_file_fits_an_smp_unet_and_freeze_stops_its_encoder(tmp_path):
    unet = create_model("gbp-unet-small")
    encoder_only = {k.removeprefix("net.encoder."): v for k, v in unet.state_dict().items() if ".encoder." in k}
    torch.save(encoder_only, tmp_path / "timm-encoder.pt")
    target = create_model("gbp-unet-small")
    assert init_from(target, tmp_path / "timm-encoder.pt")[0] == len(encoder_only)
    frozen = freeze(target, "encoder")
    assert frozen == len([p for p in target.net.encoder.parameters()])
    assert all(not p.requires_grad for p in target.net.encoder.parameters())
    assert all(p.requires_grad for p in target.net.decoder.parameters())


def test_freeze_without_encoder_keeps_only_the_head():
    model = create_model("qc-compact", width=4, stages=2)
    freeze(model, "encoder")
    assert [n for n, p in model.named_parameters() if p.requires_grad] == ["head.1.weight", "head.1.bias"]


def test_missing_file_nothing_fitting_and_shipped_names(tmp_path):
    with pytest.raises(InputError, match="neither a model file nor a shipped model"):
        init_from(create_model("qc-compact"), tmp_path / "nope.pt")
    torch.save({"other.weight": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(InputError, match="holds no weights that fit"):
        init_from(create_model("qc-compact"), tmp_path / "other.pt")
    assert "qc-default" in shipped_models()
    assert resolve_model_path("qc-default") == shipped_models()["qc-default"]


def test_models_shipped_lists_name_workflow_and_sha256():
    import json

    from typer.testing import CliRunner

    from nmkit.cli import app

    result = CliRunner().invoke(app, ["models", "--shipped", "qc-*", "--json"])
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.output)
    assert (row["name"], row["workflow"], len(row["sha256"])) == ("qc-default", "qc", 64)
    assert "val_auc" in row["metrics"] and row["training_data"]
