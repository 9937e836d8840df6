"""The phantom sets' CSV table: target-folder check, write, typed read with clear errors."""

from __future__ import annotations

import pytest

from nmkit.errors import InputError
from nmkit.phantoms.table import check_target, read_table, write_table

COLUMNS = ("path", "value", "note")
TYPES = {"path": str, "value": float, "note": str}


def test_write_then_read_typed_keeping_unknown_columns_as_text(tmp_path):
    write_table(tmp_path / "t.csv", (*COLUMNS, "extra"), [{"path": "a", "value": 1.5, "note": "", "extra": "x",
                                                          "ignored": 1}])
    assert read_table(tmp_path / "t.csv", TYPES, required=("path", "value")) == [
        {"extra": "x", "path": "a", "value": 1.5}]
    assert read_table(tmp_path / "t.csv", TYPES)[0]["note"] == ""


def test_read_errors_name_the_file_and_line(tmp_path):
    with pytest.raises(InputError, match="t.csv: not found \\(make one\\)"):
        read_table(tmp_path / "t.csv", TYPES, hint="make one")
    (tmp_path / "t.csv").write_text("path,value\na,1\nb,oops\n")
    with pytest.raises(InputError, match="lacks the column\\(s\\) note"):
        read_table(tmp_path / "t.csv", TYPES)
    with pytest.raises(InputError, match="line 3 has a bad value"):
        read_table(tmp_path / "t.csv", {"path": str, "value": float})


def test_target_must_be_new_empty_or_a_set_of_the_same_kind(tmp_path):
    check_target(tmp_path / "new", "manifest.csv", COLUMNS, "test")
    (tmp_path / "set").mkdir()
    write_table(tmp_path / "set" / "manifest.csv", COLUMNS, [])
    check_target(tmp_path / "set", "manifest.csv", COLUMNS, "test")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="holds no test set \\(manifest.csv\\)"):
        check_target(tmp_path / "other", "manifest.csv", COLUMNS, "test")
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="not a folder"):
        check_target(tmp_path / "file", "manifest.csv", COLUMNS, "test")
