from nmkit.datasets import load_dataset, read_table, write_split_csv

from .conftest import make_folder

LINES = [f"img/{i}.npy,{i % 2},p{i // 2}" for i in range(6)]


def test_seeded_patient_level_split_keeps_a_patient_together(tmp_path, spec):
    root = make_folder(tmp_path / "d", LINES, header="image,label,patient_id")
    a = load_dataset({"root": root, "val_fraction": 0.34}, spec, seed=1)
    b = load_dataset({"root": root, "val_fraction": 0.34}, spec, seed=1)
    assert [r.split for r in a.rows] == [r.split for r in b.rows]
    for group in {r.group for r in a.rows}:
        assert len({r.split for r in a.rows if r.group == group}) == 1
    assert {r.split for r in a.rows} == {"train", "val"}
    write_split_csv(a, tmp_path / "split.csv")
    assert (tmp_path / "split.csv").read_text().splitlines()[0] == "line,image,patient,split"


def test_given_split_is_kept_and_folds_cover_every_patient_once(tmp_path, spec):
    lines = [f"img/{i}.npy,{i % 2},p{i},{'test' if i == 5 else 'train'}" for i in range(6)]
    root = make_folder(tmp_path / "d", lines, header="image,label,patient_id,split")
    assert [r.split for r in load_dataset({"root": root}, spec, 0).rows][-1] == "test"
    val = [[r.line for r in load_dataset({"root": root, "folds": 2, "fold": k}, spec, 0).rows_in("val")]
           for k in range(2)]
    assert sorted(val[0] + val[1]) == [2, 3, 4, 5, 6] and not set(val[0]) & set(val[1])
    assert read_table(root, spec).split_given
