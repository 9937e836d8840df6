"""EF, background ROI, ED/ES and input checks on exact synthetic studies (no model needed)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from nmkit.errors import InputError
from nmkit.io import Image
from nmkit.models import load_bundle
from nmkit.workflows.gbp.analyse import (
    GatedEF, background_roi, ejection_fraction, find_ed_es, largest_component, load_gated_study, recovery_fraction,
    segment_frames)

from .conftest import blurred_pool_study, disc, disc_study


def test_ejection_fraction_is_exact_on_discs_over_flat_background():
    frames, masks = disc_study()
    ed, es = 0, 6
    bg = background_roi(masks[es])
    ef, ed_net, es_net, per_pixel = ejection_fraction(frames[ed], frames[es], masks[ed], masks[es], bg)
    assert per_pixel == pytest.approx(10.0)
    assert ed_net == pytest.approx(100.0 * masks[ed].sum()) and es_net == pytest.approx(100.0 * masks[es].sum())
    assert ef == pytest.approx((masks[ed].sum() - masks[es].sum()) / masks[ed].sum() * 100)


def test_study_background_is_the_lower_right_quadrant_of_the_dilated_ring():
    es = disc((256, 256), (128, 128), 30)
    bg = background_roi(es, "study")
    rows, cols = np.nonzero(bg)
    assert bg.any() and (rows > 128).all() and (cols > 128).all()
    cross = ndimage.generate_binary_structure(2, 1)
    assert not (bg & ndimage.binary_dilation(es, cross, iterations=3)).any()
    assert not (bg & ~ndimage.binary_dilation(es, cross, iterations=8)).any()
    # the iterations scale with the matrix: on 64x64 the ring is 2 px out at most
    small = background_roi(disc((64, 64), (32, 32), 8), "study")
    distance = ndimage.distance_transform_edt(~disc((64, 64), (32, 32), 8))
    assert distance[small].max() <= 2.0 + 1e-9 and distance[small].min() > 1.0


def test_crescent_background_lies_posterolateral_outside_the_es_border():
    es = disc((256, 256), (128, 128), 30)
    bg = background_roi(es, "crescent")
    rows, cols = np.nonzero(bg)
    angle = np.degrees(np.arctan2(rows - 128, cols - 128))
    assert bg.any() and not (bg & es).any()
    assert angle.min() >= -30 and angle.max() <= 90
    with pytest.raises(ValueError, match="unknown background"):
        background_roi(es, "nowhere")


def test_ed_es_from_ecg_gating_or_from_the_curve():
    curve = np.array([90.0, 95, 70, 40, 35, 50, 80, 88])
    assert find_ed_es(curve, ecg_gated=True) == (0, 4, "ecg")
    assert find_ed_es(curve, ecg_gated=False) == (1, 4, "curve")


def test_gated_ef_with_given_masks_reports_and_plots(tmp_path):
    frames, masks = disc_study()
    image = Image(frames, (6.0, 6.0), "NM", {"gated": True}, tmp_path / "study.npy")
    analysis = GatedEF(image).analyze(masks=masks)
    r = analysis.results_data()
    expected = (masks[0].sum() - masks[6].sum()) / masks[0].sum() * 100
    assert (r.ed_frame, r.es_frame, r.ed_source) == (0, 6, "ecg")
    assert r.ef == pytest.approx(expected, abs=0.01)
    assert r.background_per_pixel == pytest.approx(10.0)
    assert analysis.curve[0] == pytest.approx(100.0 * masks[0].sum())
    analysis.plot_analyzed_image(tmp_path / "rois.png")
    analysis.plot_curve(tmp_path / "curve.png")
    d = r.as_dict()
    assert {"ef", "ed_frame", "es_frame", "ed_counts", "es_counts", "background_per_pixel", "overlay_png",
            "curve_png"} <= set(d)
    assert (tmp_path / "rois.png").read_bytes()[:4] == b"\x89PNG" and d["curve_png"].endswith("curve.png")
    assert "LVEF" in analysis.results()


def test_segment_frames_gives_one_region_per_frame(tiny_model):
    model, _ = load_bundle(tiny_model)
    frames, _ = disc_study(n_frames=8, size=48)
    masks = segment_frames(model, frames)
    assert masks.shape == frames.shape and masks.dtype == bool
    for m in masks:
        assert ndimage.label(m)[1] <= 1


def test_largest_component_keeps_the_biggest_region_with_holes_filled():
    mask = disc((40, 40), (12, 12), 8) | disc((40, 40), (32, 32), 3)
    mask[12, 12] = False
    out = largest_component(mask)
    assert out[12, 12] and not out[32, 32] and ndimage.label(out)[1] == 1


@pytest.mark.parametrize("array, problem", [
    (np.ones((1, 32, 32)), "static"), (np.ones((5, 32, 32)), "at least 8"), (np.zeros((10, 32, 32)), "zero"),
])
def test_bad_studies_are_refused_with_one_sentence(tmp_path, array, problem):
    with pytest.raises(InputError, match=problem) as err:
        load_gated_study(Image(array, path=tmp_path / "s.npy"))
    assert str(err.value).startswith(str(tmp_path / "s.npy"))


def test_folder_of_frames_loads_and_refuses_mixed_sizes(tmp_path):
    frames, _ = disc_study(n_frames=8, size=32)
    good = tmp_path / "good"
    good.mkdir()
    for i, f in enumerate(frames):
        np.save(good / f"frame_{i:02d}.npy", f)
    assert load_gated_study(good).shape == (8, 32, 32)
    np.save(good / "frame_08.npy", np.ones((40, 40), np.float32))
    with pytest.raises(InputError, match="different sizes"):
        load_gated_study(good)


def test_spill_background_lies_inferolateral_one_to_two_fwhm_beyond_the_es_border():
    es = disc((128, 128), (60, 60), 15)
    bg = background_roi(es, "spill", pixel_mm=2.0, fwhm_mm=12.0)
    rows, cols = np.nonzero(bg)
    cy, cx = ndimage.center_of_mass(es)
    distance_mm = ndimage.distance_transform_edt(~es)[bg] * 2.0
    assert bg.any() and (rows > cy).all() and (cols > cx).all()
    assert distance_mm.min() > 12.0 and distance_mm.max() <= 24.0 and distance_mm.max() > 22.0
    # no pixel size: the field of view is assumed (384 mm), so the band is the same on any matrix
    assert np.array_equal(background_roi(es, "spill", pixel_mm=384 / 128), background_roi(es, "spill"))
    with pytest.raises(ValueError, match="FWHM"):
        background_roi(es, "spill", pixel_mm=2.0, fwhm_mm=0.0)


def test_recovery_fraction_is_smaller_for_small_rois_and_wide_blur():
    small, large = disc((96, 96), (48, 48), 8), disc((96, 96), (48, 48), 16)
    assert 0 < recovery_fraction(small, 2.0) < recovery_fraction(large, 2.0) < 1
    assert recovery_fraction(large, 2.0, fwhm_mm=20.0) < recovery_fraction(large, 2.0, fwhm_mm=6.0)
    assert recovery_fraction(large, 2.0, fwhm_mm=0.2) == pytest.approx(1.0, abs=1e-3)
    with pytest.raises(ValueError, match="empty"):
        recovery_fraction(np.zeros((8, 8), bool))


def test_spill_method_recovers_the_true_ef_of_a_blurred_pool_where_the_study_ring_overstates_it():
    frames, masks, true_ef = blurred_pool_study()
    image = Image(frames, (4.0, 4.0), "NM", {"gated": True, "spacing_known": True})
    spill = GatedEF(image, background="spill").analyze(masks=masks).results_data()
    study = GatedEF(image, background="study").analyze(masks=masks).results_data()
    assert abs(spill.ef - true_ef) < 0.3 < study.ef - true_ef
    # the study's ring sits in the LV's spill; one FWHM out, the background is within 1 % of the true 10
    assert spill.background_per_pixel == pytest.approx(10.0, rel=0.01) and study.background_per_pixel > 12
    assert spill.recovery_es < spill.recovery_ed < 1 and spill.pixel_mm == 4.0
    assert study.recovery_ed == study.recovery_es == 1.0
    assert "spill correction for 12 mm FWHM (4 mm pixels)" in GatedEF(image, background="spill").analyze(
        masks=masks).results()


def test_spill_method_says_when_it_assumes_the_pixel_size():
    frames, masks, _ = blurred_pool_study()
    analysis = GatedEF(Image(frames, metadata={"gated": True}), background="spill").analyze(masks=masks)
    assert analysis.results_data().pixel_mm is None and "384 mm field of view assumed" in analysis.results()
    with pytest.raises(InputError, match="--fwhm-mm"):
        GatedEF(Image(frames), background="spill", fwhm_mm=0.0)
    with pytest.raises(InputError, match="spill"):
        GatedEF(Image(frames), background="elsewhere")


def test_ef_interval_spans_the_roi_boundary_perturbations_scaled_by_the_bundle_factor(tmp_path):
    frames, masks = disc_study()
    image = Image(frames, (6.0, 6.0), "NM", {"gated": True}, tmp_path / "study.npy")
    plain = GatedEF(image).analyze(masks=masks).results_data()
    assert plain.ef_low is None and plain.ef_high is None  # no calibrated scale: no interval
    analysis = GatedEF(image).analyze(masks=masks, info={"ef_interval": {"level": 0.95, "scale": 2.0}})
    r = analysis.results_data()
    assert len(analysis.ef_spread) == 9 and analysis.ef_spread.std() > 0.5
    assert r.ef_high - r.ef == pytest.approx(2.0 * analysis.ef_spread.std(), abs=0.02)
    assert r.ef_low < r.ef < r.ef_high and r.ef_interval_level == 0.95
    assert "95 % interval" in analysis.results()
    floored = GatedEF(image).analyze(masks=masks, info={"ef_interval": {"level": 0.95, "scale": 0.5,
                                                                        "min_spread": 20.0}}).results_data()
    assert floored.ef_high - floored.ef == pytest.approx(10.0, abs=0.01)  # the floor above the SD: one width
