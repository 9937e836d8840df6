"""Centre of rotation: projections of a point source at a known offset, one and two heads, with and without
noise; files that are not projections are refused."""

from __future__ import annotations

import numpy as np
import pytest

from nmkit.errors import InputError
from nmkit.phantoms.camera import point_source_projections, write_projections, write_static
from nmkit.workflows.qc.battery.cor import CenterOfRotationQC


def test_noise_free_projections_give_the_offset_exactly(tmp_path):
    frames, _, _ = point_source_projections(n_views=32, offsets_mm=(2.0,), pixel_mm=4.0)
    qc = CenterOfRotationQC(write_projections(tmp_path / "cor.dcm", frames, 32, 360.0)).analyze()
    r = qc.results_data()
    assert r.offset_mm == pytest.approx(2.0, abs=1e-3) and r.offset_px == pytest.approx(0.5, abs=1e-3)
    assert r.radius_mm == pytest.approx(60.0, abs=0.01)
    assert r.x_deviation_mm < 0.01 and r.y_deviation_mm < 0.01  # not 0: counts are rounded
    assert r.n_projections == 32 and r.arc_deg == pytest.approx(348.75)
    assert qc.plot_analyzed_image(tmp_path / "cor.png").is_file()


def test_each_head_has_its_own_offset_in_a_noisy_two_head_set(tmp_path):
    frames, _, _ = point_source_projections(n_views=60, offsets_mm=(1.5, -3.0), seed=3)
    path = write_projections(tmp_path / "two.dcm", frames, 60, 360.0, heads=2)
    results = [qc.analyze().results_data() for qc in CenterOfRotationQC.per_head(path)]
    assert [r.detector for r in results] == ["1", "2"]
    assert [r.offset_mm for r in results] == pytest.approx([1.5, -3.0], abs=0.1)
    assert all(r.x_deviation_mm < 0.5 and r.y_deviation_mm < 0.5 for r in results)


def test_a_180_degree_arc_also_finds_the_offset(tmp_path):
    frames, _, _ = point_source_projections(n_views=32, arc_deg=180.0, offsets_mm=(-2.5,))
    r = CenterOfRotationQC(write_projections(tmp_path / "half.dcm", frames, 32, 180.0)).analyze().results_data()
    assert r.offset_mm == pytest.approx(-2.5, abs=1e-3)


def test_a_planar_image_is_refused(tmp_path):
    with pytest.raises(InputError, match="does not give its projection angles"):
        CenterOfRotationQC(write_static(tmp_path / "s.dcm", np.ones((8, 8)), 60.0))


def test_a_projection_without_the_source_is_refused_by_name(tmp_path):
    frames, _, _ = point_source_projections(n_views=16, offsets_mm=(1.0,))
    frames[3] = 7.0  # flat: nothing above its border
    with pytest.raises(InputError, match=r"projection 3 \(0-based\) has no counts above its border"):
        CenterOfRotationQC(write_projections(tmp_path / "flat.dcm", frames, 16, 360.0)).analyze()


def test_centroids_match_the_per_frame_formula_on_any_float_data():
    from nmkit.workflows.qc.battery.cor import weighted_centroids

    frames = np.random.default_rng(1).gamma(2.0, 3.0, (4, 20, 30)).astype(np.float32)
    centroids, totals = weighted_centroids(frames)
    for frame, centroid, total in zip(frames, centroids, totals):
        border = np.concatenate([frame[0], frame[-1], frame[1:-1, 0], frame[1:-1, -1]])
        weights = np.clip(frame.astype(np.float64) - np.median(border), 0, None)
        assert total == pytest.approx(weights.sum(), rel=1e-12)
        expected = [weights.sum(0) @ np.arange(30) / total, weights.sum(1) @ np.arange(20) / total]
        assert centroid == pytest.approx(expected, rel=1e-12)
