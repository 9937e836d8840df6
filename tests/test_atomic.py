from __future__ import annotations

import pytest

from nmkit.atomic import atomic_dir, atomic_path


def test_atomic_path_leaves_nothing_on_error(tmp_path):
    target = tmp_path / "out.txt"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_atomic_path_and_dir_commit_on_success(tmp_path):
    with atomic_path(tmp_path / "a.txt") as tmp:
        tmp.write_text("done")
    with atomic_dir(tmp_path / "d") as d:
        (d / "x").write_text("1")
    assert (tmp_path / "a.txt").read_text() == "done"
    assert (tmp_path / "d" / "x").read_text() == "1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "d"]


def test_outputs_are_readable_by_other_users(tmp_path):
    with atomic_path(tmp_path / "result.json") as tmp:
        tmp.write_text("{}")
    with atomic_dir(tmp_path / "figures") as tmp:
        (tmp / "a.png").write_bytes(b"x")
    assert (tmp_path / "result.json").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "figures").stat().st_mode & 0o777 == 0o755
