"""The pet demo section."""

from __future__ import annotations

from nmkit.workflows.pet.demo import pet_demo


def test_pet_demo_section(tmp_path):
    [section] = pet_demo(tmp_path)
    assert section.title.startswith("pet")
    assert all(path.is_file() for path in section.figures)
    pix2pix, identity = section.tables[2]
    assert pix2pix["method"].startswith("pix2pix") and identity["PSNR body dB"] > 10
    assert pix2pix["PSNR body dB"] > identity["PSNR body dB"]  # the shipped generator beats copying the early scan
    assert {row["tissue"] for row in section.tables[0]} >= {"liver", "brain", "bladder"}
