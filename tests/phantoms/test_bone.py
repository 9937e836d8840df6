"""Whole-body bone phantom: determinism, anatomy where the manifest says, graded knee uptake, the set writer."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from nmkit.errors import InputError
from nmkit.io.matlab import read_bone_mat
from nmkit.phantoms.bone import BoneSpec, generate_bone_scan, read_bone_manifest, write_bone_set


def test_same_seed_same_scan_and_seeds_differ():
    a, b = generate_bone_scan(BoneSpec(), 3, 1), generate_bone_scan(BoneSpec(), 3, 1)
    assert a.views.tobytes() == b.views.tobytes() and a.grades == b.grades and a.knees == b.knees
    assert generate_bone_scan(BoneSpec(), 4, 1).views.tobytes() != a.views.tobytes()


def test_scan_shape_and_knees():
    scan = generate_bone_scan(BoneSpec(), 0, 0)
    assert scan.views.shape == (2, 1024, 256) and scan.views.dtype == np.float32
    assert (scan.views >= 0).all() and (scan.views == np.round(scan.views)).all()
    (right_row, right_col), (left_row, left_col) = scan.knees
    assert right_row == left_row and right_col < 128 < left_col  # patient right on the image left
    assert all(-1 <= g <= 4 for g in scan.grades)
    assert scan.codes == tuple(g + 2 if g >= 0 else -1 for g in scan.grades)


def test_posterior_is_mirrored():
    scan = generate_bone_scan(BoneSpec(injection_rate=0, fracture_rate=0, metastasis_rate=0), 0, 0)
    row = int(scan.knees[0][0])
    anterior, posterior = scan.views[0][row - 40:row + 40].sum(0), scan.views[1][row - 40:row + 40].sum(0)
    assert np.corrcoef(anterior, posterior[::-1])[0, 1] > 0.9


def _knee_counts(grade: int) -> float:
    weights = tuple(1.0 if g == grade else 0.0 for g in range(5))
    spec = BoneSpec(grade_weights=weights, unspecified_fraction=0.0, counts_range=(3e6, 3e6))
    scan = generate_bone_scan(spec, 5, 0)
    row, col = (int(v) for v in scan.knees[0])
    return float(scan.views[0][row - 12:row + 13, col - 15:col + 16].sum())


def test_knee_uptake_rises_with_grade():
    counts = [_knee_counts(g) for g in range(5)]
    assert counts == sorted(counts) and counts[4] > 2 * counts[0]


def test_spec_validation():
    with pytest.raises(ValueError, match="grade_weights"):
        BoneSpec(grade_weights=(1, 1))
    with pytest.raises(ValueError, match="does not fit"):
        BoneSpec(height_mm_range=(1500, 2100), pixel_mm=2.0)
    with pytest.raises(ValueError, match="counts_range"):
        dataclasses.replace(BoneSpec(), counts_range=(5e6, 1e6))


def test_write_set_prefix_and_manifest(tmp_path):
    write_bone_set(tmp_path / "a", BoneSpec(), 3, seed=2)
    write_bone_set(tmp_path / "b", BoneSpec(), 2, seed=2)
    records = read_bone_manifest(tmp_path / "a" / "manifest.csv")
    assert len(records) == 3 and records[0]["path"] == "scans/scan_00000.mat"
    for i in range(2):
        assert (tmp_path / "a" / records[i]["path"]).read_bytes() == (tmp_path / "b" / records[i]["path"]).read_bytes()
    study = read_bone_mat(tmp_path / "a" / records[1]["path"])
    scan = generate_bone_scan(BoneSpec(), 2, 1)
    assert study.knee_grades == scan.grades == (records[1]["right_grade"], records[1]["left_grade"])
    assert (records[1]["right_knee_row"], records[1]["right_knee_col"]) == scan.knees[0]


def test_write_set_refuses_foreign_folder(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(InputError, match="not empty"):
        write_bone_set(tmp_path, BoneSpec(), 1)
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]
