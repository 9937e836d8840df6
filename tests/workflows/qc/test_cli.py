"""`nmkit qc` from the command line: outputs, JSON keys, and bad input (exit 2, one sentence, nothing written)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pydicom
import pytest
from pydicom.dataset import FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from typer.testing import CliRunner

from nmkit.cli import app

from .conftest import flood_file

runner = CliRunner()
CHECK_KEYS = {"file", "ufov_iu", "ufov_du", "cfov_iu", "cfov_du", "defect_probability", "verdict", "map_png"}


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_synth_writes_images_and_manifest(tmp_path):
    result = invoke("qc", "synth", "--out", tmp_path / "set", "--n", 6, "--seed", 4, "--paper")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader((tmp_path / "set" / "manifest.csv").open()))
    assert len(rows) == 6
    assert {"label", "defect", "alpha", "diameter", "row", "col"} <= set(rows[0])
    assert np.load(tmp_path / "set" / rows[0]["file"]).shape == (175, 238)


def test_synth_same_seed_same_bytes(tmp_path):
    for name in ("a", "b"):
        assert invoke("qc", "synth", "--out", tmp_path / name, "--n", 3, "--seed", 9, "--counts", 50).exit_code == 0
    for f in sorted((tmp_path / "a" / "images").iterdir()):
        assert f.read_bytes() == (tmp_path / "b" / "images" / f.name).read_bytes()
    assert (tmp_path / "a" / "manifest.csv").read_bytes() == (tmp_path / "b" / "manifest.csv").read_bytes()


def test_check_json_has_stable_keys_and_writes_map(tmp_path, tiny_model):
    flood = flood_file(tmp_path)
    result = invoke("qc", "check", flood, "--model", tiny_model, "--json", "--out", tmp_path / "maps")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout.strip().splitlines()[-1])
    assert CHECK_KEYS <= set(data)
    assert data["verdict"] in ("pass", "fail") and 0 <= data["defect_probability"] <= 1
    assert 0 < data["ufov_iu"] < 5 and data["cfov_iu"] <= data["ufov_iu"] + 1e-9
    png = tmp_path / "maps" / "flood.npy.qc.png"
    assert data["map_png"] == str(png) and png.read_bytes()[:4] == b"\x89PNG"


def test_check_several_files_one_json_line_each(tmp_path, tiny_model):
    files = [flood_file(tmp_path, f"f{i}.npy", seed=i) for i in range(2)]
    result = invoke("qc", "check", *files, "--model", tiny_model, "--json", "--out", tmp_path / "maps")
    lines = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert [line["file"] for line in lines] == [str(f) for f in files]


def test_iu_limit_drives_the_verdict(tmp_path, tiny_model):
    flood = flood_file(tmp_path)
    strict = invoke("qc", "check", flood, "--model", tiny_model, "--json", "--iu-limit", 0.01, "--out", tmp_path / "m")
    data = json.loads(strict.stdout.strip().splitlines()[-1])
    assert data["verdict"] == "fail" and any("integral uniformity" in r for r in data["reasons"])


def _dicom_without_pixels(path):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.20"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = pydicom.Dataset()
    ds.file_meta = meta
    ds.Modality = "NM"
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.save_as(path, enforce_file_format=True)
    return path


def _bad_inputs(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("this is not an image\n")
    nan = np.full((96, 96), 100.0)
    nan[3, 3] = np.nan
    np.save(tmp_path / "nan.npy", nan)
    np.save(tmp_path / "zero.npy", np.zeros((96, 96)))
    np.save(tmp_path / "constant.npy", np.full((96, 96), 77.0))
    np.save(tmp_path / "stack.npy", np.random.default_rng(0).poisson(100, (3, 96, 96)).astype(float))
    np.save(tmp_path / "tiny.npy", np.random.default_rng(0).poisson(100, (6, 6)).astype(float))
    return {
        "notes.txt": text, "nodata.dcm": _dicom_without_pixels(tmp_path / "nodata.dcm"),
        "nan.npy": tmp_path / "nan.npy", "zero.npy": tmp_path / "zero.npy",
        "constant.npy": tmp_path / "constant.npy", "stack.npy": tmp_path / "stack.npy", "tiny.npy": tmp_path / "tiny.npy",
    }


@pytest.mark.parametrize("name", ["notes.txt", "nodata.dcm", "nan.npy", "zero.npy", "constant.npy", "stack.npy", "tiny.npy"])
def test_check_bad_input_exits_2_with_one_sentence_and_writes_nothing(tmp_path, tiny_model, name):
    bad = _bad_inputs(tmp_path)[name]
    out = tmp_path / "maps"
    result = invoke("qc", "check", bad, "--model", tiny_model, "--out", out)
    assert result.exit_code == 2, result.output
    message = result.stderr.strip()
    assert message.startswith("error: ") and name in message and message.count("\n") == 0
    assert not out.exists()


def test_check_of_a_folder_reports_a_bad_file_and_goes_on(tmp_path, tiny_model):
    for ward in ("ward1", "ward2"):
        (tmp_path / "archive" / ward).mkdir(parents=True)
        flood_file(tmp_path / "archive" / ward)                  # two files of one name: two outputs
    (tmp_path / "archive" / "ward2" / "notes.txt").write_text("not an image")
    out = tmp_path / "maps"
    result = invoke("qc", "check", tmp_path / "archive", "--model", tiny_model, "--out", out)
    assert result.exit_code == 1, result.output
    records = {r["input"]: r for r in map(json.loads, result.stdout.splitlines())}
    assert sorted(records) == ["ward1/flood.npy", "ward2/flood.npy", "ward2/notes.txt"]
    assert "notes.txt: is not an image nmkit can read" in records["ward2/notes.txt"]["error"]
    for key in ("ward1/flood.npy", "ward2/flood.npy"):
        assert CHECK_KEYS <= set(records[key]) and records[key]["map_png"] == str(out / f"{key}.qc.png")
        assert json.loads((out / f"{key}.json").read_text()) == {k: v for k, v in records[key].items() if k != "input"}
        assert (out / f"{key}.qc.png").stat().st_mode & 0o777 == 0o644
    assert "2 of 3 items analysed" in result.stderr


def test_evaluate_json_keys_and_readers(tmp_path, tiny_model):
    assert invoke("qc", "synth", "--out", tmp_path / "set", "--n", 8, "--seed", 1, "--paper").exit_code == 0
    rows = list(csv.DictReader((tmp_path / "set" / "manifest.csv").open()))
    readers = tmp_path / "readers.csv"
    readers.write_text("reader,image,call\n" + "".join(f"R1,{r['file']},{r['label']}\n" for r in rows))
    result = invoke("qc", "evaluate", "--data", tmp_path / "set", "--model", tiny_model, "--json",
                    "--readers", readers, "--out", tmp_path / "eval")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout.strip().splitlines()[-1])
    assert {"accuracy", "sensitivity", "specificity", "auc", "observer_auc", "observer_accuracy"} <= set(data)
    assert data["readers"][0]["accuracy"] == 1.0  # this reader copied the truth
    assert (tmp_path / "eval" / "roc.png").is_file()


def test_evaluate_missing_folder_exits_2(tmp_path):
    result = invoke("qc", "evaluate", "--data", tmp_path / "nowhere")
    assert result.exit_code == 2 and "manifest.csv" in result.stderr


def test_models_lists_qc_models():
    result = invoke("models", "qc-*")
    assert result.stdout.split() == ["qc-compact", "qc-resnet18"]


def test_check_refuses_what_is_not_a_flood_and_force_never_enters_the_history(shared_data, tmp_path):
    pet = shared_data / "pet" / "PT_slice_1.dcm"
    refused = invoke("qc", "check", pet, "--out", tmp_path / "maps", "--data-dir", tmp_path / "data")
    assert refused.exit_code == 2 and not (tmp_path / "maps").exists()
    assert "is a PT (PET) image" in refused.output and "qc check takes a planar flood" in refused.output
    forced = invoke("qc", "check", pet, "--out", tmp_path / "maps", "--data-dir", tmp_path / "data", "--json",
                    "--force")
    assert forced.exit_code == 0, forced.output
    result = json.loads(forced.stdout.strip().splitlines()[-1])
    assert result["forced"].startswith("analysed with --force") and "history_id" not in result
