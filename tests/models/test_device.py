"""`nmkit --device`: cpu leaves models as they are, auto falls back to the CPU, an absent GPU is one sentence."""

from __future__ import annotations

import pytest
import torch
from typer.testing import CliRunner

from nmkit.cli import app
from nmkit.errors import InputError
from nmkit.models import create_model
from nmkit.models.device import current_device, on_device, set_device


@pytest.fixture(autouse=True)
def back_to_cpu():
    yield
    set_device("cpu")


def test_cpu_and_auto_without_gpu_leave_models_unchanged():
    model = create_model("qc-compact")
    assert on_device(model) is model and not model._forward_hooks
    if not torch.cuda.is_available():
        assert set_device("auto") == torch.device("cpu") and current_device().type == "cpu"


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU, so cuda is not refused")
def test_cuda_without_a_gpu_is_refused_in_one_sentence():
    with pytest.raises(InputError, match="no CUDA GPU"):
        set_device("cuda")
    result = CliRunner().invoke(app, ["--device", "cuda", "models"])
    assert result.exit_code == 2 and "error: --device: cuda was asked for" in result.output


def test_unknown_device_is_refused():
    with pytest.raises(InputError, match="must be one of cpu, cuda, auto"):
        set_device("tpu")
    assert CliRunner().invoke(app, ["--device", "tpu", "models"]).exit_code == 2


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (none here)")
def test_gpu_model_takes_and_gives_cpu_tensors():
    set_device("cuda")
    model = on_device(create_model("qc-compact").eval())
    out = model(torch.zeros(1, 1, 64, 64))
    assert next(model.parameters()).is_cuda and out.device.type == "cpu"
