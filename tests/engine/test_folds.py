"""`--folds K`: patient-level cross-validation on an own-data folder, mean and sd of each validation metric."""

from __future__ import annotations

import json

import numpy as np

from nmkit.engine.config import DEFAULTS, merge
from nmkit.engine.train import train_folds


def test_two_folds_train_on_every_patient_once(tmp_path):
    rng = np.random.default_rng(0)
    root = tmp_path / "floods"
    root.mkdir()
    lines = ["image,label,patient_id"]
    for i in range(8):
        np.save(root / f"f{i}.npy", rng.poisson(100, (16, 16)).astype(np.float32))
        lines.append(f"f{i}.npy,{i % 2},cam{i // 2}")
    (root / "dataset.csv").write_text("\n".join(lines) + "\n")
    config = merge(DEFAULTS, {"workflow": "qc", "model": {"name": "qc-compact", "width": 4, "stages": 2},
                              "data": {"root": str(root), "size": 16, "batch_size": 4},
                              "trainer": {"max_epochs": 1, "progress_bar": False}})
    result = train_folds(config, tmp_path / "cv", folds=2, log=lambda _: None)
    assert len(result["runs"]) == 2 and set(result["mean"]) == set(result["sd"]) >= {"val_loss", "val_auc"}
    val = [{row.split(",")[2] for row in (tmp_path / "cv" / f"fold-{k}" / "split.csv").read_text().splitlines()[1:]
            if row.endswith(",val")} for k in range(2)]
    assert val[0] | val[1] == {"cam0", "cam1", "cam2", "cam3"} and not val[0] & val[1]
    assert json.loads((tmp_path / "cv" / "folds.json").read_text())["folds"] == 2
