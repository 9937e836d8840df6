"""A hospital-style gbp folder (gated NM DICOM files and a folder of frame files, LabelMe ROIs on ED and ES only,
two observers on one study, reference EF) through dataset check, one training epoch and evaluate."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from typer.testing import CliRunner

from nmkit.cli import app
from nmkit.io import mask_to_polygon, write_labelme
from nmkit.io.dicom_write import write_nm_dicom
from nmkit.phantoms.gated import GatedSpec, generate_gated_studies

CONFIG = {"workflow": "gbp", "seed": 0, "model": {"name": "gbp-unet-small", "work_size": 32, "decoder_width": 16},
          "data": {"size": 32, "batch_size": 4, "augment": False},
          "trainer": {"max_epochs": 1, "progress_bar": False}}
SPLITS = ["train", "train", "train", "val", "test", "test"]


@pytest.fixture(scope="module")
def hospital(tmp_path_factory):
    root = tmp_path_factory.mktemp("gbp-own")
    spec = dataclasses.replace(GatedSpec(), native=32, native_pixel_mm=12.0, size=32, frames=8)
    lines = ["study,roi,observer,ed_frame,es_frame,ef,split,patient_id"]
    for i, (study, split) in enumerate(zip(generate_gated_studies(spec, len(SPLITS), 5), SPLITS)):
        if i == 1:  # a folder of frame files
            folder = root / "studies" / f"s{i}"
            folder.mkdir(parents=True)
            for f, frame in enumerate(study.frames):
                np.save(folder / f"{f:02d}.npy", frame)
            path = f"studies/s{i}"
        else:
            (root / "studies").mkdir(exist_ok=True)
            write_nm_dicom(root / "studies" / f"s{i}.dcm", study.frames, (6.0, 6.0), patient_id=f"P{i}",
                           gated={"heart_rate_bpm": 60, "n_time_slots": len(study.frames)})
            path = f"studies/s{i}.dcm"
        for observer in (1, 2) if i == 0 else (1,):
            rois = root / "rois" / f"s{i}-obs{observer}"
            rois.mkdir(parents=True)
            for phase, frame in (("ed", study.ed_frame), ("es", study.es_frame)):
                mask = study.lv_masks[frame]
                if observer == 2:
                    mask = np.roll(mask, 1, axis=1)
                write_labelme(rois / f"{phase}.json", [mask_to_polygon(mask)], mask.shape)
            lines.append(f"{path},rois/s{i}-obs{observer},{observer},{study.ed_frame},{study.es_frame},"
                         f"{study.true_ef:.1f},{split},P{i}")
    (root / "dataset.csv").write_text("\n".join(lines) + "\n")
    return root


def test_check_train_evaluate(hospital, tmp_path, own_data_roundtrip):
    report, scored, _ = own_data_roundtrip("gbp", hospital, CONFIG)
    assert report["items"] == 6
    assert (scored["n"], scored["n_frames"]) == (2, 4) and 0 <= scored["dice"] <= 1
    assert scored.get("n_ef", 0) + scored["ef_failures"] == 2
    assert "reference_ef_bias" not in scored
    assert (tmp_path / "eval" / "rows.csv").read_text().count("\n") == 5


def test_roi_outside_the_study_and_unnamed_frame_are_listed(hospital, tmp_path):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(hospital, bad)
    (bad / "rois" / "s0-obs1" / "frame_40.json").write_bytes((bad / "rois" / "s0-obs1" / "ed.json").read_bytes())
    (bad / "rois" / "s3-obs1" / "notes.json").write_bytes((bad / "rois" / "s3-obs1" / "ed.json").read_bytes())
    check = CliRunner().invoke(app, ["gbp", "dataset", "check", str(bad)])
    assert check.exit_code == 2
    assert "frame_40.json: outlines frame 40, but the study has frames 0-7" in check.output
    assert "notes.json: names no frame" in check.output
