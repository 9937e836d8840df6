"""A tiny run killed (SIGKILL) after its third epoch resumes from that epoch and keeps its log."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import torch

from nmkit.engine.config import DEFAULTS, merge
from nmkit.engine.train import train

# lr 0: validation never improves after epoch 0, so best.ckpt stays there while last.ckpt must move on.
TINY = {"workflow": "qc", "seed": 1, "model": {"name": "qc-compact", "width": 4, "stages": 2},
        "data": {"phantom": {"n": 16, "shape": [32, 32], "counts": 200, "diameters": [6]}, "batch_size": 8},
        "optim": {"lr": 0.0}, "trainer": {"max_epochs": 5, "progress_bar": False}}

KILLED_RUN = """
import json, os, signal, sys
import lightning as L
import importlib
engine = importlib.import_module("nmkit.engine.train")

class Kill(L.Callback):
    def on_train_epoch_start(self, trainer, module):
        if trainer.current_epoch == 3:
            os.kill(os.getpid(), signal.SIGKILL)

build = engine.build_trainer
def with_kill(*args, **kwargs):
    trainer = build(*args, **kwargs)
    trainer.callbacks.append(Kill())
    return trainer
engine.build_trainer = with_kill
engine.train(json.loads(sys.argv[1]), sys.argv[2])
"""


def _epochs(run) -> list[int]:
    rows = list(csv.DictReader((run / "logs" / "metrics.csv").open()))
    return sorted({int(r["epoch"]) for r in rows if r.get("val_auc")})


def test_killed_run_resumes_from_its_last_epoch_and_appends_the_log(tmp_path):
    run = tmp_path / "run"
    config = merge(DEFAULTS, TINY)
    killed = subprocess.run([sys.executable, "-c", KILLED_RUN, json.dumps(config), str(run)], capture_output=True,
                            timeout=120)
    assert killed.returncode == -9, killed.stderr[-1500:]
    last = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    best = torch.load(run / "checkpoints" / "best.ckpt", map_location="cpu", weights_only=False)
    assert (last["epoch"], best["epoch"]) == (2, 0)
    assert _epochs(run) == [0, 1, 2]
    train(config, run, resume=True, log=lambda _: None)
    assert _epochs(run) == [0, 1, 2, 3, 4]
    assert torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)["epoch"] == 4
