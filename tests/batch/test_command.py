"""An analysis command on many inputs (nmkit.batch.command): one input as always, a batch otherwise; resume gives
the stored records; the task pickles for worker processes (which tests/batch/test_batch.py runs)."""

from __future__ import annotations

import dataclasses
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from nmkit.batch import discover
from nmkit.batch.command import batch_items
from nmkit.cli import app
from nmkit.phantoms.flood import FloodSpec, generate_floods


@pytest.fixture()
def floods(tmp_path) -> Path:
    spec = dataclasses.replace(FloodSpec(), counts=300.0, shape=(96, 96), defect_fraction=0.0)
    images, _ = generate_floods(spec, 3, 1)
    for name, image in zip(("a/flood.npy", "b/flood.npy", "c.npy"), images):
        (tmp_path / "floods" / name).parent.mkdir(parents=True, exist_ok=True)
        np.save(tmp_path / "floods" / name, image)
    return tmp_path / "floods"


def check(*args):
    return CliRunner().invoke(app, ["qc", "check", *map(str, args)])


def records(result) -> list[dict]:
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_one_file_or_one_series_folder_is_one_input_anything_else_a_batch(tmp_path, floods):
    assert batch_items([floods / "c.npy"]) is None
    assert batch_items([tmp_path / "absent.npy"]) is None          # the command's reader says what is wrong
    assert [i.key for i in batch_items([floods])] == ["a/flood.npy", "b/flood.npy", "c.npy"]
    assert len(batch_items([floods / "a" / "flood.npy", floods / "c.npy"])) == 2
    assert len(batch_items([floods / "a"])) == 1                   # a folder holding one file is still a batch
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(8):
        np.save(frames / f"{i}.npy", np.ones((8, 8)))
    assert batch_items([frames], group_frames=True) is None        # a study's frames: one input, as always
    assert [i.key for i in discover([tmp_path], group_frames=True) if i.key.startswith("frames")] == ["frames"]


def test_skip_done_gives_the_stored_records(tmp_path, floods, tiny_qc):
    out = tmp_path / "maps"
    first = check(floods, "--model", tiny_qc, "--out", out)
    assert first.exit_code == 0, first.output
    (out / "c.npy.json").write_text(json.dumps({"marker": 1}))   # proves the second run reads, not recomputes
    again = check(floods, "--model", tiny_qc, "--out", out, "--skip-done")
    assert records(again)[2] == {"input": "c.npy", "resumed": True, "marker": 1}
    assert records(again)[:2] == [r | {"resumed": True} for r in records(first)[:2]]


def test_all_bad_exits_2_with_an_error_line_each(tmp_path, tiny_qc):
    for name in ("a.txt", "b.txt"):
        (tmp_path / name).write_text("not an image")
    result = check(tmp_path / "a.txt", tmp_path / "b.txt", "--model", tiny_qc, "--out", tmp_path / "maps")
    assert result.exit_code == 2 and all("error" in r for r in records(result)) and len(records(result)) == 2


def test_a_command_task_travels_to_worker_processes(tmp_path):
    from nmkit.batch import CommandTask
    from nmkit.workflows.qc.cli import check_flood

    task = CommandTask(check_flood, "nmkit.workflows.qc.analyse:load_qc_model", None, tmp_path, {"force": False})
    assert pickle.loads(pickle.dumps(task)) == task          # spawn pickles the task with each item
    assert task.loader().__name__ == "load_qc_model"
