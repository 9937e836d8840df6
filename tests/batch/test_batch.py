"""`nmkit batch`: many inputs, one JSON line each, errors per item, no overwritten outputs, resume, workers, Ray."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from typer.testing import CliRunner

from nmkit.batch import BatchTask, discover, exit_code, run_batch, run_on_ray
from nmkit.cli import app
from nmkit.phantoms.flood import FloodSpec, generate_floods

RESULT_KEYS = {"ufov_iu", "ufov_du", "cfov_iu", "cfov_du", "defect_probability", "verdict"}


@pytest.fixture()
def floods(tmp_path) -> Path:
    """Two floods of the same name in two folders, a third, and a file that is no image."""
    spec = dataclasses.replace(FloodSpec(), counts=300.0, shape=(96, 96), defect_fraction=0.0)
    images, _ = generate_floods(spec, 3, 1)
    root = tmp_path / "archive"
    for folder, image in zip(("ward1", "ward2", "ward2/old"), images):
        (root / folder).mkdir(parents=True)
        np.save(root / folder / "flood.npy", image)
    (root / "ward2" / "notes.txt").write_text("not an image")
    return root


def batch(*args):
    return CliRunner().invoke(app, ["batch", *map(str, args)])


def lines(result) -> list[dict]:
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


def test_one_line_per_item_and_errors_do_not_stop_the_batch(tmp_path, floods, tiny_qc):
    result = batch("qc", floods, "--out", tmp_path / "out", "--model", tiny_qc)
    assert result.exit_code == 1, result.output            # some items failed
    records = {r["input"]: r for r in lines(result)}
    assert sorted(records) == ["ward1/flood.npy", "ward2/flood.npy", "ward2/notes.txt", "ward2/old/flood.npy"]
    assert "is not an image nmkit can read" in records["ward2/notes.txt"]["error"]
    for key in ("ward1/flood.npy", "ward2/flood.npy", "ward2/old/flood.npy"):
        assert RESULT_KEYS <= set(records[key]["result"])
        stored = tmp_path / "out" / key / "result.json"     # named by the relative path: nothing overwritten
        assert json.loads(stored.read_text())["result"] == records[key]["result"]
        assert stored.stat().st_mode & 0o777 == 0o644
        assert (stored.parent.stat().st_mode & 0o777) == 0o755
    assert not (tmp_path / "out" / "ward2" / "notes.txt").exists()


def test_batch_result_equals_qc_check(tmp_path, floods, tiny_qc):
    flood = floods / "ward1" / "flood.npy"
    check = CliRunner().invoke(app, ["qc", "check", str(flood), "--json", "--model", str(tiny_qc),
                                     "--out", str(tmp_path / "maps")])
    single = json.loads(check.stdout.splitlines()[0])
    record = lines(batch("qc", flood, "--out", tmp_path / "out", "--model", tiny_qc))[0]
    assert {k: record["result"][k] for k in RESULT_KEYS} == {k: single[k] for k in RESULT_KEYS}


def test_exit_2_when_nothing_could_be_read(tmp_path):
    (tmp_path / "a.txt").write_text("x")
    result = batch("qc", tmp_path / "a.txt", "--out", tmp_path / "out")
    assert result.exit_code == 2 and "error" in lines(result)[0]
    assert batch("qc", tmp_path / "missing", "--out", tmp_path / "out").exit_code == 2
    assert batch("spect", tmp_path / "a.txt").exit_code == 2


def test_skip_done_resumes_without_analysing_again(tmp_path, floods, tiny_qc):
    task = BatchTask("qc", tmp_path / "out", [tiny_qc])
    items = [i for i in discover([floods]) if i.key.endswith(".npy")]
    first = list(run_batch(task, items))
    stored = tmp_path / "out" / items[0].key / "result.json"
    stored.write_text(json.dumps({"result": {"marker": 1}}))     # proves the second run reads, not recomputes
    again = list(run_batch(task, items, skip_done=True))
    assert again[0] == {"input": items[0].key, "resumed": True, "result": {"marker": 1}}
    assert [r["result"] for r in again[1:]] == [r["result"] for r in first[1:]]


def test_worker_processes_give_the_same_records(tmp_path, floods, tiny_qc):
    items = discover([floods])
    one = list(run_batch(BatchTask("qc", tmp_path / "one", [tiny_qc]), items, jobs=1))
    two = list(run_batch(BatchTask("qc", tmp_path / "two", [tiny_qc]), items, jobs=2))
    assert [r.get("result") for r in two] == [r.get("result") for r in one]
    assert exit_code(two) == 1


def _slice(path: Path, series: str) -> None:
    ds = pydicom.Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.128"
    ds.SeriesInstanceUID, ds.SOPInstanceUID, ds.Modality = series, generate_uid(), "PT"
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)


def test_dicom_slices_of_one_series_form_one_item_for_volume_workflows(tmp_path):
    a, b = generate_uid(), generate_uid()
    for i in range(3):
        _slice(tmp_path / "early" / f"{i}.dcm", a)
        _slice(tmp_path / "mixed" / f"a{i}.dcm", b)
    _slice(tmp_path / "mixed" / "other.dcm", generate_uid())
    items = {i.key: i for i in discover([tmp_path], group_series=True)}
    assert set(items) == {"early", "mixed", "mixed/other.dcm"}
    assert items["early"].error is None and items["early"].path == (tmp_path / "early").resolve()
    assert "more than one DICOM series" in items["mixed"].error
    assert len(discover([tmp_path])) == 7                    # planar workflows: every file is an item


def test_ray_tasks_give_the_cli_records(tmp_path, floods, tiny_qc):
    pytest.importorskip("ray", reason="the ray extra is not installed (pip install 'nmkit[ray]')")
    items = discover([floods])
    local = list(run_batch(BatchTask("qc", tmp_path / "local", [tiny_qc]), items))
    remote = list(run_on_ray(BatchTask("qc", tmp_path / "ray", [tiny_qc]), items, "local"))
    assert [r.get("result") for r in remote] == [r.get("result") for r in local]
    assert [r["input"] for r in remote] == [r["input"] for r in local]


def test_workflow_names_known_without_importing_the_analyses():
    from nmkit.batch.run import WORKFLOWS
    from nmkit.web.workflows import ANALYSES

    assert WORKFLOWS == tuple(ANALYSES)
