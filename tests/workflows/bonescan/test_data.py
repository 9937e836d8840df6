"""Loading scans (.mat, DICOM frames, two files), knee inputs, the patient-level split, class weights, training."""

from __future__ import annotations

import numpy as np
import pytest

from nmkit.errors import InputError
from nmkit.io.dicom_write import write_nm_dicom
from nmkit.phantoms.bone import BoneSpec, generate_bone_scan
from nmkit.workflows.bonescan.data import (class_weights, knee_inputs, load_scan, patient_split, phantom_knees,
                                           spec_class_weights)
from nmkit.workflows.bonescan.knees import Knee


@pytest.fixture(scope="module")
def scan():
    return generate_bone_scan(BoneSpec(), 2, 0)


def test_load_mat_and_dicom_frames_and_two_files(tmp_path, scan, scan_set):
    study = load_scan(scan_set / "scans" / "scan_00000.mat")
    assert study.anterior.shape == (1024, 256) and study.posterior is not None and study.knee_grades is not None
    both = write_nm_dicom(tmp_path / "wb.dcm", scan.views, (2.26, 2.26))
    loaded = load_scan(both)
    assert np.array_equal(loaded.anterior, scan.views[0]) and np.array_equal(loaded.posterior, scan.views[1])
    ant = write_nm_dicom(tmp_path / "ant.dcm", scan.views[:1], (2.26, 2.26))
    post = write_nm_dicom(tmp_path / "post.dcm", scan.views[1:], (2.26, 2.26))
    pair = load_scan([ant, post])
    assert np.array_equal(pair.anterior, scan.views[0]) and np.array_equal(pair.posterior, scan.views[1])


def test_load_rejects_stacks_and_empty_views(tmp_path, scan):
    stack = write_nm_dicom(tmp_path / "three.dcm", np.concatenate([scan.views, scan.views[:1]]), (2.26, 2.26))
    with pytest.raises(InputError, match="3 frames"):
        load_scan(stack)
    empty = write_nm_dicom(tmp_path / "empty.dcm", np.zeros((1, 1024, 256)), (2.26, 2.26))
    with pytest.raises(InputError, match="empty"):
        load_scan(empty)


def test_knee_inputs_mirror_the_left_knee(scan):
    right, left = Knee("right", 600, 90), Knee("left", 600, 90)
    x = knee_inputs(scan.views[0], [right, left])
    assert x.shape == (2, 1, 128, 128) and x.dtype == np.float32
    assert np.array_equal(x[1, 0], x[0, 0, :, ::-1])


def test_patient_split_keeps_both_knees_together():
    scans = np.repeat(np.arange(10), 2)
    train, val = patient_split(scans, 0.3, seed=0)
    assert len(val) == 6 and not set(scans[train]) & set(scans[val])
    assert sorted(np.concatenate([train, val])) == list(range(20))


def test_class_weights():
    assert class_weights(np.array([0, 0, 0, 1])) == [0.6667, 2.0, 0.0, 0.0, 0.0]
    weights = spec_class_weights(BoneSpec(grade_weights=(0.5, 0.125, 0.125, 0.125, 0.125)))
    assert weights == [0.4, 1.6, 1.6, 1.6, 1.6]


def test_phantom_knees_deterministic():
    a, b = phantom_knees(BoneSpec(), 2, 3), phantom_knees(BoneSpec(), 2, 3)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert a[0].shape[1:] == (1, 128, 128) and set(a[2]) <= {0, 1}


def test_engine_trains_a_bonescan_config(tmp_path):
    from nmkit.engine import load_config, train
    from nmkit.models import load_bundle

    config_file = tmp_path / "tiny.yaml"
    config_file.write_text("workflow: bonescan\nmodel: {name: bonescan-compact, width: 4}\n"
                           "data: {phantom: {n: 4}, batch_size: 4, val_fraction: 0.5}\n"
                           "trainer: {max_epochs: 1, progress_bar: false}\n")
    bundle = train(load_config(config_file), tmp_path / "run")
    model, info = load_bundle(bundle)
    assert info["model_name"] == "bonescan-compact" and (tmp_path / "run" / "logs" / "metrics.csv").is_file()
