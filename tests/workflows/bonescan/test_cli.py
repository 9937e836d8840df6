"""`nmkit bonescan` end to end: synth, crop, predict, evaluate, sweep; bad input exits 2 and writes nothing."""

from __future__ import annotations

import json

import numpy as np
import scipy.io
from typer.testing import CliRunner

from nmkit.cli import app

runner = CliRunner()


def _json(result) -> object:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_synth_writes_mat_set(tmp_path):
    result = runner.invoke(app, ["bonescan", "synth", "--out", str(tmp_path / "s"), "--n", "2", "--seed", "4",
                                 "--mat-version", "v7.3"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "s" / "scans").iterdir()) == ["scan_00000.mat", "scan_00001.mat"]
    assert (tmp_path / "s" / "manifest.csv").read_text().startswith("path,right_grade,left_grade,right_knee_row")


def test_synth_bad_version_exits_2(tmp_path):
    result = runner.invoke(app, ["bonescan", "synth", "--out", str(tmp_path / "s"), "--n", "1", "--mat-version", "v4"])
    assert result.exit_code == 2 and "--mat-version" in result.output and not (tmp_path / "s").exists()


def test_crop_json(scan_set, tmp_path):
    out = _json(runner.invoke(app, ["bonescan", "crop", str(scan_set / "scans" / "scan_00000.mat"), "--json",
                                    "--out", str(tmp_path)]))
    assert [k["side"] for k in out["knees"]] == ["right", "left"]
    assert set(out["knees"][0]) == {"side", "row", "col", "crop"}
    assert np.load(out["knees"][1]["crop"]).shape == (128, 128)
    assert (tmp_path / "scan_00000_knees.png").is_file()


def test_predict_json(scan_set, tiny_model, tmp_path):
    out = _json(runner.invoke(app, ["bonescan", "predict", str(scan_set / "scans" / "scan_00001.mat"), "--model",
                                    str(tiny_model), "--json", "--out", str(tmp_path)]))
    assert [k["side"] for k in out["knees"]] == ["right", "left"]
    for knee in out["knees"]:
        assert 0 <= knee["grade"] <= 4 and len(knee["probabilities"]) == 5
        assert abs(sum(knee["probabilities"]) - 1) < 1e-3
    assert out["overlay_png"] and (tmp_path / "scan_00001.knees.png").is_file()


def test_predict_without_a_shipped_model_says_so(scan_set, tmp_path, monkeypatch):
    from nmkit.workflows.bonescan import analyse

    monkeypatch.setattr(analyse, "default_model_path", lambda: tmp_path / "absent.pt")
    result = runner.invoke(app, ["bonescan", "predict", str(scan_set / "scans" / "scan_00000.mat")])
    assert result.exit_code == 2 and "no default bonescan model is shipped" in result.output


def test_evaluate_json_keys(scan_set, tiny_model, tmp_path):
    out = _json(runner.invoke(app, ["bonescan", "evaluate", "--data", str(scan_set), "--model", str(tiny_model),
                                    "--json", "--out", str(tmp_path)]))
    assert {"accuracy", "qwk", "macro_f1", "knee_localisation_within_10px", "confusion_matrix"} <= set(out)


def test_bad_mat_exits_2_and_writes_nothing(tmp_path, tiny_model):
    bad = tmp_path / "bad.mat"
    scipy.io.savemat(bad, {"V": np.zeros((1024, 256, 2), np.uint16), "diaginfo": {"kneejointid": [[9.0, 2.0]]}})
    for command in (["crop", str(bad), "--out", str(tmp_path / "out")],
                    ["predict", str(bad), "--model", str(tiny_model), "--out", str(tmp_path / "out")]):
        result = runner.invoke(app, ["bonescan", *command])
        assert result.exit_code == 2 and result.output.count("\n") == 1
        assert "bad.mat" in result.output and "outside -1..6" in result.output
    assert not (tmp_path / "out").exists()


def test_no_legs_exits_2(tmp_path):
    path = tmp_path / "nolegs.npy"
    view = np.zeros((1024, 256), np.float32)
    view[100:450, 60:200] = 5.0  # a trunk only
    np.save(path, view)
    result = runner.invoke(app, ["bonescan", "crop", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and "no legs in view" in result.output and not (tmp_path / "out").exists()


def test_sweep_tiny(tmp_path):
    rows = _json(runner.invoke(app, ["bonescan", "sweep", "--out", str(tmp_path), "--n", "4", "--epochs", "1",
                                     "--json"]))
    assert {r["factor"] for r in rows} == {"lr", "batch_size", "epochs", "blocks", "optimizer"}
    assert len(rows) == 3 + 3 + 2 + 3 + 4
    assert {p.name for p in tmp_path.iterdir()} == {"sweep.csv", "sweep.json", "sweep.png"}


def test_predict_with_the_shipped_model(scan_set):
    from nmkit.workflows.bonescan.analyse import default_model_path

    assert default_model_path().is_file() and default_model_path().stat().st_size < 5_000_000
    out = _json(runner.invoke(app, ["bonescan", "predict", str(scan_set / "scans" / "scan_00002.mat"), "--json"]))
    assert out["model"].startswith("bonescan-") and "(bonescan-default.pt, sha256:" in out["model"] and len(out["knees"]) == 2


def test_predict_of_a_folder_gives_each_scan_and_the_bad_one_its_error(scan_set, tiny_model, tmp_path):
    archive = tmp_path / "archive"
    for ward, index in (("a", 0), ("b", 1)):                 # two scans of one name
        (archive / ward).mkdir(parents=True)
        (archive / ward / "scan.mat").write_bytes((scan_set / "scans" / f"scan_0000{index}.mat").read_bytes())
    (archive / "broken.mat").write_text("not a MATLAB file")
    out = tmp_path / "knees"
    result = runner.invoke(app, ["bonescan", "predict", str(archive), "--model", str(tiny_model), "--out", str(out)])
    assert result.exit_code == 1, result.output
    records = {r["input"]: r for r in map(json.loads, result.stdout.splitlines())}
    assert sorted(records) == ["a/scan.mat", "b/scan.mat", "broken.mat"] and "error" in records["broken.mat"]
    for ward in ("a", "b"):
        assert len(records[f"{ward}/scan.mat"]["knees"]) == 2 and (out / ward / "scan.knees.png").is_file()


def test_predict_of_two_single_view_files_is_one_scan(scan_set, tiny_model, tmp_path):
    from nmkit.io.matlab import read_bone_mat

    study = read_bone_mat(scan_set / "scans" / "scan_00000.mat")
    np.save(tmp_path / "anterior.npy", study.anterior)
    np.save(tmp_path / "posterior.npy", study.posterior)
    out = _json(runner.invoke(app, ["bonescan", "predict", str(tmp_path / "anterior.npy"),
                                    str(tmp_path / "posterior.npy"), "--model", str(tiny_model), "--json"]))
    assert "input" not in out and len(out["knees"]) == 2
