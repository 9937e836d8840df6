"""A hospital-style qc folder (DICOM floods of two matrix sizes and .npy, pass/fail labels) through dataset
check, one training epoch and evaluate, with zero lines of user code."""

from __future__ import annotations

import dataclasses
import json
import shutil

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from nmkit.cli import app
from nmkit.io.dicom_write import write_nm_dicom
from nmkit.models import load_bundle
from nmkit.phantoms.flood import FloodSpec, generate_floods

CONFIG = {"workflow": "qc", "seed": 0, "model": {"name": "qc-compact", "width": 4, "stages": 2},
          "data": {"size": 32, "batch_size": 4}, "trainer": {"max_epochs": 1, "progress_bar": False}}
SPLITS = ["train"] * 6 + ["val"] * 2 + ["test"] * 2


@pytest.fixture(scope="module")
def hospital(tmp_path_factory):
    root = tmp_path_factory.mktemp("qc-own")
    spec = dataclasses.replace(FloodSpec(), counts=200.0, shape=(32, 32), diameters=(8,))
    small, records = generate_floods(spec, 10, seed=4)
    big, _ = generate_floods(dataclasses.replace(spec, shape=(64, 64)), 10, seed=4)
    lines = ["image,label,split,camera"]
    for i, (split, record) in enumerate(zip(SPLITS, records)):
        name = f"floods/f{i}.dcm" if i % 3 else f"floods/f{i}.npy"
        (root / "floods").mkdir(exist_ok=True)
        if name.endswith(".npy"):
            np.save(root / name, small[i])
        else:
            write_nm_dicom(root / name, (big if i % 2 else small)[i][None], (3.2, 3.2), patient_id=f"CAM{i}")
        lines.append(f"{name},{'fail' if record['label'] else 'pass'},{split},cam{i % 2}")
    (root / "dataset.csv").write_text("\n".join(lines) + "\n")
    return root


def test_check_train_evaluate(hospital, tmp_path, own_data_roundtrip):
    report, scored, run = own_data_roundtrip("qc", hospital, CONFIG)
    assert report["ok"] and set(report["image_sizes"]) == {"32x32", "64x64"}
    assert (run / "split.csv").read_text().count("\n") == 11
    _, info = load_bundle(run / "model.pt")
    assert len(info["dataset"]["training_sha256"]) == 8 and info["config"]["data"]["root"] == hospital.name
    assert info["nmkit_version"] and str(tmp_path) not in json.dumps(info)
    assert scored["n"] == 2 and scored["rows"] == "test" and "observer_auc" not in scored
    assert (tmp_path / "eval" / "rows.csv").read_text().count("\n") == 3
    leak = tmp_path / "leak"
    shutil.copytree(hospital, leak)
    (leak / "dataset.csv").write_text("image,label\nfloods/f1.dcm,pass\n")
    refused = CliRunner().invoke(app, ["qc", "evaluate", "--data", str(leak), "--model", str(run / "model.pt")])
    assert refused.exit_code == 2 and "trained on would be scored: line 2 (floods/f1.dcm)" in refused.output


def test_bad_folder_lists_every_problem_and_trains_nothing(hospital, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(hospital, bad)
    (bad / "floods" / "notes.txt").write_text("licence text")
    (bad / "dataset.csv").write_text("image,label,split\n../x.dcm,pass,train\nfloods/f1.dcm,maybe,train\n"
                                     "floods/notes.txt,pass,val\nfloods/f2.dcm,fail,train\n")
    runner = CliRunner()
    check = runner.invoke(app, ["qc", "dataset", "check", str(bad)])
    assert check.exit_code == 2
    for text in ("line 2, column image: path '../x.dcm' leaves the dataset folder", "line 3, column label: 'maybe'",
                 "line 4, column image:"):
        assert text in check.output
    config = tmp_path / "qc.yaml"
    config.write_text(yaml.safe_dump(CONFIG))
    trained = runner.invoke(app, ["train", str(config), "--data", str(bad), "--out", str(tmp_path / "run")])
    assert trained.exit_code == 2 and "has 3 problems" in trained.output
    assert not (tmp_path / "run").exists()
