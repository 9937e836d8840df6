from nmkit.datasets import DatasetError, load_dataset, read_table

from .conftest import make_folder


def test_reads_paths_relative_to_the_folder_and_parses_labels(tmp_path, spec):
    root = make_folder(tmp_path / "d", ["img/0.npy,pass", "img/1.npy,FAIL", "img/2.npy,1"])
    data = read_table(root, spec)
    assert not data.problems and not data.split_given
    assert [r["label"] for r in data.rows] == [0, 1, 1]
    assert data.rows[0]["image"] == root / "img/0.npy" and data.rows[0].line == 2


def test_every_problem_is_listed_with_its_line(tmp_path, spec):
    root = make_folder(tmp_path / "d", ["../x.npy,pass", "img/9.npy,pass", "img/1.npy,maybe", "img/2.npy,1,7",
                                        "img/3.npy,0,"], header="image,label,grade")
    problems = read_table(root, spec).problems
    assert [(p.line, p.column) for p in problems] == [(2, "image"), (3, "image"), (4, "label"), (5, "grade")]
    assert "leaves the dataset folder" in problems[0].message and "outside 0..4" in problems[3].message


def test_missing_required_column_and_bad_split_raise_one_message(tmp_path, spec):
    root = make_folder(tmp_path / "d", ["img/0.npy"], header="image")
    try:
        load_dataset({"root": root}, spec, 0)
    except DatasetError as err:
        assert "required column 'label' is missing" in str(err)
    root = make_folder(tmp_path / "e", ["img/0.npy,0,train", "img/1.npy,1,training"], header="image,label,split")
    try:
        load_dataset({"root": root}, spec, 0)
        raise AssertionError("no error")
    except DatasetError as err:
        assert "line 3, column split: split 'training' is not one of train, val, test" in str(err)
