"""`nmkit bonescan sweep`: the plan's comparisons, one factor at a time around its baseline, on phantom knees.

Baseline (the plan): SimpleCNN with 3 blocks, SGD, lr 0.001, batch 32. Each factor (learning rate, batch
size, epochs, number of blocks, optimizer) is varied alone; every run starts from the same seed and sees
the same patient-level split, so rows differ only by the factor.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from nmkit.atomic import atomic_path
from nmkit.engine.classification import build_optimizer
from nmkit.models import create_model
from nmkit.phantoms.bone import BoneSpec
from nmkit.report.figures import save_figure
from nmkit.workflows.bonescan.data import KneeDataset, patient_split, phantom_knees
from nmkit.workflows.bonescan.evaluate import grade_metrics

OPTIMIZERS = {"sgd": {"name": "sgd", "momentum": 0.0}, "sgd+momentum": {"name": "sgd", "momentum": 0.9},
              "adagrad": {"name": "adagrad"}, "adam": {"name": "adam"}}
COLUMNS = ("factor", "value", "blocks", "optimizer", "lr", "batch_size", "epochs", "train_accuracy",
           "val_accuracy", "val_qwk", "val_macro_f1", "seconds")


def plan_factors(epochs: int) -> dict[str, list[Any]]:
    """The plan's comparisons: values tried for each factor (the baseline's value included)."""
    return {"lr": [1e-3, 1e-2, 1e-1], "batch_size": [16, 32, 64], "epochs": sorted({max(1, epochs // 2), epochs,
            2 * epochs}), "blocks": [1, 2, 3], "optimizer": list(OPTIMIZERS)}


def _predict(model: nn.Module, inputs: torch.Tensor) -> np.ndarray:
    model.eval()
    with torch.no_grad():
        return torch.cat([model(inputs[i:i + 256]).argmax(dim=1) for i in range(0, len(inputs), 256)]).numpy()


def train_simplecnn(run: dict[str, Any], train: KneeDataset, val: KneeDataset, seed: int) -> dict[str, Any]:
    """Train one SimpleCNN run (plain loop, unweighted cross-entropy as the plan) and score it."""
    torch.manual_seed(seed)
    model = create_model(f"bonescan-simplecnn-{run['blocks']}")
    optim = OPTIMIZERS[run["optimizer"]] | {"lr": run["lr"], "weight_decay": 0.0, "scheduler": "none"}
    optimizer = build_optimizer(model.parameters(), optim, run["epochs"])
    loader = DataLoader(train, batch_size=run["batch_size"], shuffle=True,
                        generator=torch.Generator().manual_seed(seed))
    loss_fn = nn.CrossEntropyLoss()
    start = time.perf_counter()
    for _ in range(run["epochs"]):
        model.train()
        for x, y in loader:
            optimizer.zero_grad()
            loss_fn(model(x), y).backward()
            optimizer.step()
    seconds = time.perf_counter() - start
    val_scores = grade_metrics(val.grades.numpy(), _predict(model, val.inputs))
    train_accuracy = float((_predict(model, train.inputs) == train.grades.numpy()).mean())
    return run | {"train_accuracy": round(train_accuracy, 4), "val_accuracy": val_scores["accuracy"],
                  "val_qwk": val_scores["qwk"], "val_macro_f1": val_scores["macro_f1"], "seconds": round(seconds, 1)}


def run_sweep(out_dir: str | Path, n: int = 120, epochs: int = 5, seed: int = 0,
              factors: dict[str, list[Any]] | None = None,
              progress: Callable[[int, int], Any] | None = None) -> list[dict[str, Any]]:
    """Run the comparisons on ``n`` phantom scans; write sweep.csv, sweep.json and sweep.png to ``out_dir``."""
    if n < 4 or epochs < 1:
        raise ValueError(f"the sweep needs n >= 4 scans and epochs >= 1, not n={n}, epochs={epochs}")
    baseline = {"blocks": 3, "optimizer": "sgd", "lr": 1e-3, "batch_size": 32, "epochs": epochs}
    factors = factors or plan_factors(epochs)
    inputs, grades, scans = phantom_knees(BoneSpec(), n, seed)
    train_idx, val_idx = patient_split(scans, 0.25, seed)
    train, val = KneeDataset(inputs[train_idx], grades[train_idx]), KneeDataset(inputs[val_idx], grades[val_idx])
    plan = [(factor, value, baseline | {factor: value}) for factor, values in factors.items() for value in values]
    rows, done = [], {}
    for i, (factor, value, run) in enumerate(plan):
        key = tuple(sorted(run.items()))
        if key not in done:  # the baseline appears under several factors: train it once
            done[key] = train_simplecnn(run, train, val, seed)
        rows.append({"factor": factor, "value": value} | done[key])
        if progress is not None:
            progress(i + 1, len(plan))
    _write(Path(out_dir), rows, n, seed)
    return rows


def _write(out_dir: Path, rows: list[dict[str, Any]], n: int, seed: int) -> None:
    with atomic_path(out_dir / "sweep.csv") as tmp:
        with tmp.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows({k: row[k] for k in COLUMNS} for row in rows)
    with atomic_path(out_dir / "sweep.json") as tmp:
        tmp.write_text(json.dumps({"n_scans": n, "seed": seed, "runs": rows}, indent=2))
    labels = [f"{row['factor']} = {row['value']}" for row in rows]
    y = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(6.4, 0.32 * len(rows) + 1.2))
    ax.barh(y - 0.2, [row["val_accuracy"] for row in rows], 0.4, label="val accuracy")
    ax.barh(y + 0.2, [row["val_qwk"] or 0.0 for row in rows], 0.4, label="val QWK")
    ax.set_yticks(y, labels, fontsize=8)
    ax.invert_yaxis()
    ax.set(xlim=(0, 1), xlabel="score on validation knees (0-1)",
           title=f"SimpleCNN, one factor changed from the plan's baseline ({n} phantom scans)")
    ax.title.set_fontsize(9)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    save_figure(fig, out_dir / "sweep.png")
