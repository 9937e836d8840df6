from __future__ import annotations

import pytest
import torch
from torch import nn

from nmkit.errors import InputError
from nmkit.models import create_model, list_models, load_weights, register_model
from nmkit.models.bundle import load_bundle, save_bundle


def test_list_models_has_qc_models_and_filters():
    assert {"qc-resnet18", "qc-compact"} <= set(list_models())
    assert list_models("qc-res*") == ["qc-resnet18"]


def test_unknown_model_names_the_known_ones():
    with pytest.raises(KeyError, match="qc-compact"):
        create_model("no-such-model")


def test_register_twice_is_refused():
    @register_model("test-dummy")
    def dummy() -> nn.Module:
        return nn.Linear(1, 1)

    with pytest.raises(ValueError, match="registered twice"):
        register_model("test-dummy")(lambda: nn.Linear(1, 1))


def test_bundle_round_trip_gives_identical_outputs(tmp_path):
    torch.manual_seed(0)
    model = create_model("qc-compact", width=4, stages=2).eval()
    path = save_bundle(tmp_path / "m.pt", "qc-compact", {"width": 4, "stages": 2}, model, {"note": "test"})
    loaded, info = load_bundle(path)
    x = torch.rand(2, 1, 40, 30) * 100
    assert torch.equal(model(x), loaded(x))
    assert info["note"] == "test" and info["model_name"] == "qc-compact"


def test_bundle_errors_name_the_file(tmp_path):
    with pytest.raises(InputError, match="m.pt: model file not found"):
        load_bundle(tmp_path / "m.pt")
    junk = tmp_path / "junk.pt"
    junk.write_text("not torch")
    with pytest.raises(InputError, match="junk.pt"):
        load_bundle(junk)


def test_load_weights_accepts_lightning_prefix_and_rejects_mismatch(tmp_path):
    model = create_model("qc-compact", width=4, stages=2)
    torch.save({"state_dict": {f"model.{k}": v for k, v in model.state_dict().items()}}, tmp_path / "ckpt.pt")
    fresh = create_model("qc-compact", width=4, stages=2)
    load_weights(fresh, tmp_path / "ckpt.pt")
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), fresh.state_dict().values()))
    with pytest.raises(InputError, match="do not fit"):
        load_weights(create_model("qc-compact", width=8, stages=2), tmp_path / "ckpt.pt")


def test_load_model_takes_the_path_else_the_shipped_file_else_says_none_is_shipped(tmp_path):
    from nmkit.models import load_model, shipped_model

    path = save_bundle(tmp_path / "m.pt", "qc-compact", {"width": 4, "stages": 2},
                       create_model("qc-compact", width=4, stages=2))
    assert load_model(path)[1]["model_path"] == str(path)
    assert load_model(None, path)[1]["model_path"] == str(path)
    with pytest.raises(InputError, match="no default demo model is shipped yet.*nmkit train x.yaml"):
        load_model(None, tmp_path / "absent.pt", "demo", "nmkit train x.yaml")
    assert shipped_model("nmkit.workflows.qc", "qc-default.pt").is_file()


def test_shipped_bundles_carry_no_machine_paths():
    """A bundle records file names only: no absolute path of the machine that trained it."""
    from nmkit.models.bundle import shipped_models

    def strings(value):
        if isinstance(value, dict):
            for v in value.values():
                yield from strings(v)
        elif isinstance(value, (list, tuple)):
            for v in value:
                yield from strings(v)
        elif isinstance(value, str):
            yield value

    for name, path in shipped_models().items():
        info = torch.load(path, map_location="cpu", weights_only=True)["info"]
        absolute = [s for s in strings(info) if s.startswith(("/", "~")) or s[1:3] == ":\\"]
        assert absolute == [], f"{name} records machine paths: {absolute}"
