"""The web page recognises a count-rate series, SPECT projections and a reconstructed SPECT volume by their DICOM
ImageType (or frame pointer), answers with the CLI's numbers (per head), and stores each result in the QC history."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from nmkit.cli import app as cli
from nmkit.phantoms.camera import decaying_source_series, point_source_projections, write_dynamic, write_projections
from nmkit.web.app import Settings, create_app
from nmkit.web.upload import probe
from nmkit.web.workflows import candidates


@pytest.fixture()
def client(tmp_path):
    return TestClient(create_app(Settings(data_dir=tmp_path / "data", workers=1)), base_url="http://localhost")


def upload(client, path, name):
    response = client.post("/api/analyse", files={"file": (name, path.read_bytes())})
    assert response.status_code == 200, response.text
    return response.json()


def cli_lines(*args):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.strip().splitlines()]


def test_projections_are_picked_as_cor_and_give_the_cli_numbers_per_head(client, tmp_path):
    frames, _, _ = point_source_projections(n_views=32, offsets_mm=(1.0, -2.0))
    path = write_projections(tmp_path / "cor.dcm", frames, 32, 360.0, heads=2)
    body = upload(client, path, "cor.dcm")
    assert body["workflow"] == "qc-cor"
    expected = cli_lines("qc", "cor", path, "--json", "--out", tmp_path / "cli")
    heads = body["result"]["heads"]
    assert [h["offset_mm"] for h in heads] == [e["offset_mm"] for e in expected]
    assert [h["figure_png"] for h in heads] == ["head1.cor.png", "head2.cor.png"]
    stored = client.app.state.history.battery()
    assert [(r["test"], r["detector"], r["file_name"]) for r in stored] == [("cor", "1", "cor.dcm"),
                                                                            ("cor", "2", "cor.dcm")]


def test_a_dynamic_series_is_picked_as_countrate(client, tmp_path):
    frames, truth = decaying_source_series(n_frames=30)
    body = upload(client, write_dynamic(tmp_path / "cr.dcm", frames, 10.0), "cr.dcm")
    assert body["workflow"] == "qc-countrate"
    assert body["result"]["heads"][0]["max_cps"] == pytest.approx(truth.frame_cps.max())


def test_the_real_mediso_count_rate_file_is_only_a_count_rate_test(shared_data, tmp_path):
    copy = tmp_path / "upload"
    copy.write_bytes((shared_data / "linaqa-nm" / "MCR_Mediso_AnyScan_30f.dcm").read_bytes())
    _, found = probe(copy, "mcr.dcm")
    assert candidates(found) == ["qc-countrate"]


def test_a_dual_head_flood_gives_one_check_per_head(client, tmp_path):
    import dataclasses

    from nmkit.phantoms.camera import write_static
    from nmkit.phantoms.flood import FloodSpec, generate_floods

    floods, _ = generate_floods(dataclasses.replace(FloodSpec(), counts=300.0, shape=(96, 96)), 2, 0)
    body = upload(client, write_static(tmp_path / "flood2.dcm", floods, 600.0), "flood2.dcm")
    assert body["workflow"] == "qc" and [h["detector"] for h in body["result"]["heads"]] == ["1", "2"]
    assert body["figures"] == ["flood.head1.qc.png", "flood.head2.qc.png"]
    assert [c["detector"] for c in client.app.state.history.checks()] == ["1", "2"]


SPHERES = tuple((d, a, 0) for d, a in zip((38.0, 31.8, 25.4, 19.1, 15.9, 12.7), (0, 60, 120, 180, 240, 300)))


def test_a_reconstructed_volume_is_picked_as_tomo_and_gives_both_tests_as_the_cli(client, tmp_path):
    from .conftest import spect_volume, write_dicom

    path = write_dicom(tmp_path, "jaszczak.dcm", spect_volume(slices=36, spheres=SPHERES, sphere_slice=12))
    body = upload(client, path, "jaszczak.dcm")
    assert body["workflow"] == "qc-tomo"
    result = body["result"]
    for key, command in (("uniformity", "tomo-uniformity"), ("contrast", "tomo-contrast")):
        [expected] = cli_lines("qc", command, path, "--json")
        assert result[key]["file"] == "jaszczak.dcm" and result[key]["figure"] == f"{command}.png"  # no server paths
        assert {k: v for k, v in result[key].items() if k not in ("file", "figure", "history_id")} == \
            {k: v for k, v in expected.items() if k not in ("file", "figure")}
    assert body["figures"] == ["tomo-uniformity.png", "tomo-contrast.png"]
    shown = {n["key"]: n["value"] for n in body["numbers"]}
    assert shown["ufov_iu"] == result["uniformity"]["ufov_iu"] and shown["spheres.5.contrast"] == \
        result["contrast"]["spheres"][5]["contrast"]
    stored = client.app.state.history.battery()
    assert [(r["test"], r["detector"], r["file_name"]) for r in stored] == [("tomo-uniformity", "1", "jaszczak.dcm"),
                                                                            ("tomo-contrast", "1", "jaszczak.dcm")]


def test_a_volume_without_spheres_gives_uniformity_and_says_why_there_is_no_contrast(client, tmp_path):
    from .conftest import spect_volume, write_dicom

    body = upload(client, write_dicom(tmp_path, "uniform.dcm", spect_volume(slices=12)), "uniform.dcm")
    assert body["workflow"] == "qc-tomo" and body["result"]["uniformity"]["ufov_iu"] == 0.0
    assert "no section with cold spheres" in body["result"]["contrast"]["skipped"]
    assert body["figures"] == ["tomo-uniformity.png"]
    assert [n["value"] for n in body["numbers"] if n["key"] == "contrast"][0].startswith("not measured: ")


def test_slices_stepped_by_slice_vector_are_only_a_tomo_volume(tmp_path):
    import numpy as np

    from nmkit.io.dicom_write import write_nm_dicom

    path = write_nm_dicom(tmp_path / "slices.dcm", np.ones((12, 16, 16), np.uint16), (4.0, 4.0),
                          extra={"ImageType": ["ORIGINAL", "PRIMARY"], "FrameIncrementPointer": 0x00540080})
    assert candidates(probe(path, "slices.dcm")[1]) == ["qc-tomo"]  # not a gated study (gbp)


def test_the_real_jaszczak_is_picked_as_tomo_with_the_cli_numbers(client, shared_data, tmp_path):
    source = shared_data / "nmqc" / "Jaszack.dcm"
    body = upload(client, source, "Jaszack.dcm")
    assert body["workflow"] == "qc-tomo"
    [uniformity] = cli_lines("qc", "tomo-uniformity", source, "--json")
    assert [body["result"]["uniformity"][k] for k in ("first_slice", "last_slice", "ufov_iu", "cfov_du")] == \
        [uniformity[k] for k in ("first_slice", "last_slice", "ufov_iu", "cfov_du")]
    assert [s["diameter_mm"] for s in body["result"]["contrast"]["spheres"]] == [38.0, 31.8, 25.4, 19.1, 15.9, 12.7]
