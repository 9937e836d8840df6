"""The pet demo section."""

from __future__ import annotations

from nmkit.workflows.pet.demo import pet_demo


def test_pet_demo_section(tmp_path):
    [section] = pet_demo(tmp_path)
    assert section.title.startswith("pet")
    assert all(path.is_file() for path in section.figures)
    assert section.tables[2][0]["PSNR body dB"] > 10
    assert {row["tissue"] for row in section.tables[0]} >= {"liver", "brain", "bladder"}
