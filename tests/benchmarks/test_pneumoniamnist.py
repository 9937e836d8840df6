"""benchmarks/pneumoniamnist.py: the held-out test carved from official train, the own-data folder it writes, and
the section and model card that say each set's role."""

from __future__ import annotations

import csv
from argparse import Namespace

import numpy as np
import pneumoniamnist


def test_held_out_is_a_seeded_stratified_share_of_each_class():
    labels = np.array([0] * 40 + [1] * 60)
    picked = pneumoniamnist.held_out(labels, fraction=0.15, seed=15)
    assert np.array_equal(picked, np.sort(picked)) and len(set(picked)) == len(picked)
    assert np.sum(labels[picked] == 0) == 6 and np.sum(labels[picked] == 1) == 9
    assert np.array_equal(picked, pneumoniamnist.held_out(labels, fraction=0.15, seed=15))
    assert not np.array_equal(picked, pneumoniamnist.held_out(labels, fraction=0.15, seed=16))


def test_splits_give_every_row_one_role():
    labels = np.arange(100) % 4 > 0
    parts = pneumoniamnist.splits(labels, n_val=20)
    rows = np.concatenate([parts["train"], parts["val"], parts["test"]])
    assert sorted(rows) == list(range(120))
    assert set(parts["val"]) == set(range(100, 120)) and set(parts["test"]) < set(range(100))


def test_write_folder_writes_pngs_and_a_split_column(tmp_path):
    rng = np.random.default_rng(0)
    npz = tmp_path / "tiny.npz"
    np.savez(npz, train_images=rng.integers(0, 255, (20, 28, 28), dtype=np.uint8),
             train_labels=(np.arange(20) % 2)[:, None].astype(np.uint8),
             val_images=rng.integers(0, 255, (4, 28, 28), dtype=np.uint8), val_labels=np.array([[0], [1], [1], [0]]))
    folder = pneumoniamnist.write_folder(npz, tmp_path / "folder")
    with (folder / "dataset.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [r["split"] for r in rows].count("test") == 4 and [r["split"] for r in rows].count("val") == 4
    assert all(r["image"].startswith("images/val_") for r in rows if r["split"] == "val")
    assert all((folder / r["image"]).is_file() for r in rows)


def test_the_held_out_test_of_the_real_data_is_15_percent_of_official_train(shared_data):
    labels = np.load(shared_data / "cxr" / "pneumoniamnist" / "pneumoniamnist_trainval.npz")["train_labels"][:, 0]
    test = pneumoniamnist.held_out(labels)
    assert len(test) == 702 and int(labels[test].sum()) == 520


def fake_rows() -> dict:
    def report(value: float, ci: bool = True) -> dict:
        row = {"n": 702, "accuracy": value, "auc": value, "sensitivity": value, "specificity": value, "ece": 0.02,
               "threshold": 0.4}
        return row | ({f"{k}_ci": [value - 0.01, value + 0.01] for k in ("accuracy", "auc", "sensitivity",
                                                                            "specificity")} if ci else {})
    config = {"model": {"name": "rds-cnn-small", "width": 16}, "data": {"size": 28, "batch_size": 64,
              "augment": "radiograph"}, "optim": {"name": "adamw", "lr": 0.002}, "trainer": {"max_epochs": 6}}
    return {"machine": "a machine", "training": {"machine": "a machine", "seconds": 300.0, "load_before": 4.0, "load_after": 5.0},
            "members": [{"val": report(0.9, False), "test": report(0.9)}],
            "calibration": {"temperature": 0.8, "threshold": 0.4, "val_ece_before": 0.05, "val_ece_after": 0.03},
            "counts": {"train": {"n": 3980, "pneumonia": 2949}, "val": {"n": 524, "pneumonia": 389},
                       "test": {"n": 702, "pneumonia": 520}},
            "ensemble_val": report(0.97, False), "ensemble_test": report(0.95), "ensemble_test_at_0.5": report(0.94),
            "n_parameters": 1000, "config": config}


def test_section_and_card_report_the_held_out_test_with_intervals_and_name_each_role():
    rows = fake_rows()
    section = pneumoniamnist.render(rows, Namespace(members=1, max_epochs=None, install=True))
    card = pneumoniamnist.card(rows)
    for text in (section, card):
        assert "0.950 (0.940-0.960)" in text and "3980 images (2949 pneumonia)" in text
        assert "same distribution" in text and "not in this repository" in text
    assert "| **ensemble, calibrated, at its threshold (shipped)** | 0.950 (0.940-0.960) |" in section
    assert "5.0 min in all" in section and "load average 4.0 before, 5.0 after" in section

