import shutil

import numpy as np

from nmkit.datasets import check_dataset, overlap, read_table, training_hashes

from .conftest import make_folder


def test_check_lists_duplicates_leaks_unreadable_rows_and_counts(tmp_path, spec):
    root = make_folder(tmp_path / "d", ["img/0.npy,0,a,train", "img/1.npy,1,b,train", "img/dup.npy,1,c,val",
                                        "img/bad.txt,0,d,val", "img/3.npy,0,a,test"],
                       header="image,label,patient_id,split")
    shutil.copy(root / "img/1.npy", root / "img/dup.npy")
    (root / "img/bad.txt").write_text("licence")
    report = check_dataset(root, spec, needs=("train", "val"))
    messages = [str(p) for p in report.errors]
    assert any("line 4" in m and "same pixels as line 3 (train vs val)" in m for m in messages)
    assert any("line 5" in m and "is not a .npy image" in m for m in messages)
    assert any("patient 'a' is in test and train" in m for m in messages)
    assert report.labels["train"] == {"0": 1, "1": 1} and report.sizes == {"1x4x5": 3}
    assert not report.ok and report.as_dict()["problems"]


def test_training_hashes_find_the_same_image_under_another_name(tmp_path, spec):
    train = make_folder(tmp_path / "t", ["img/0.npy,0", "img/1.npy,1"])
    test = make_folder(tmp_path / "e", ["img/5.npy,0", "copy.npy,1"])
    np.save(test / "copy.npy", np.load(train / "img/1.npy"))
    hashes = training_hashes(read_table(train, spec), splits=(None,))
    found = overlap(read_table(test, spec), read_table(test, spec).rows, hashes)
    assert [(row.line, column) for row, column in found] == [(3, "image")]
