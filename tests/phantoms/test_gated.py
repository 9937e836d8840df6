"""Gated blood-pool phantoms: ground truth, counts, determinism, observers, LabelMe and the written set."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pydicom
import pytest
from scipy import ndimage
from skimage.draw import polygon as fill_polygon

from nmkit.errors import InputError
from nmkit.io import read_dicom
from nmkit.phantoms.gated import (
    MANIFEST_COLUMNS,
    GatedSpec,
    generate_gated_studies,
    labelme_json,
    observer_polygons,
    read_gated_manifest,
    training_frames,
    write_gated_set,
)

SMALL = GatedSpec(frames=12, size=128)


def _spec(**changes) -> GatedSpec:
    return dataclasses.replace(SMALL, **changes)


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2.0 * np.logical_and(a, b).sum() / (a.sum() + b.sum())


def _raster(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    mask[fill_polygon(points[:, 1], points[:, 0], shape)] = True
    return mask


def test_shapes_and_ground_truth():
    studies = generate_gated_studies(SMALL, 4, seed=0)
    assert SMALL.pixel_mm == 3.0
    for s in studies:
        assert s.frames.shape == s.lv_masks.shape == (12, 128, 128)
        assert s.frames.dtype == np.float32 and s.lv_masks.dtype == bool and s.lv_counts.shape == (12,)
        assert np.array_equal(s.frames, np.round(s.frames)) and s.frames.min() >= 0  # counts
        c = s.lv_counts
        assert s.ed_frame == int(np.argmax(c)) == 0 and s.es_frame == int(np.argmin(c))
        assert s.true_ef == pytest.approx(100 * (c.max() - c.min()) / c.max())
        assert 15 - 0.1 <= s.true_ef <= 80 + 0.1
        assert 0.25 <= s.es_frame / 12 <= 0.46  # ES at 26-45 % of R-R
        assert isinstance(s.heart_rate_bpm, int) and 50 <= s.heart_rate_bpm <= 110
        assert 200e3 <= s.counts_per_frame <= 400e3 and 8 <= s.fwhm_mm <= 10
        assert s.frame_time_ms == pytest.approx(60_000 / s.heart_rate_bpm / 12)
    assert len({round(s.true_ef, 3) for s in studies}) == 4


def test_same_seed_same_bytes_and_smaller_n_is_a_prefix():
    a = generate_gated_studies(_spec(frames=8, size=64), 3, seed=5)
    b = generate_gated_studies(_spec(frames=8, size=64), 3, seed=5)
    c = generate_gated_studies(_spec(frames=8, size=64), 2, seed=5)
    d = generate_gated_studies(_spec(frames=8, size=64), 1, seed=6)
    for x, y in zip(a, b):
        assert x.frames.tobytes() == y.frames.tobytes() and x.lv_masks.tobytes() == y.lv_masks.tobytes()
        assert x.true_ef == y.true_ef
    assert all(x.frames.tobytes() == y.frames.tobytes() for x, y in zip(a, c))
    assert not np.array_equal(a[0].frames, d[0].frames)


def test_masks_are_one_region_that_shrinks_from_ed_to_es():
    for s in generate_gated_studies(SMALL, 4, seed=1):
        for mask in s.lv_masks:
            assert ndimage.label(mask)[1] == 1
        area = s.lv_masks.sum(axis=(1, 2))
        assert area[s.ed_frame] == area.max() > area[s.es_frame] == area.min()
        assert s.lv_masks[s.ed_frame, round(s.lv_center[0]), round(s.lv_center[1])]


def test_counts_and_poisson_noise_at_the_native_grid():
    spec = _spec(size=64)  # frames are then the native Poisson draws themselves
    noisy = generate_gated_studies(spec, 2, seed=2)
    expected = generate_gated_studies(spec, 2, seed=2, noiseless=True)
    for s, e in zip(noisy, expected):
        assert np.array_equal(s.lv_masks, e.lv_masks) and s.true_ef == e.true_ef  # noise is drawn last
        assert e.frames.sum(axis=(1, 2)).mean() == pytest.approx(s.counts_per_frame, rel=1e-5)
        assert s.frames.sum(axis=(1, 2)).mean() == pytest.approx(s.counts_per_frame, rel=0.005)
        residual = ((s.frames - e.frames) ** 2).sum() / e.frames.sum()
        assert residual == pytest.approx(1.0, abs=0.03)  # Poisson: variance equals the mean
    big = generate_gated_studies(SMALL, 1, seed=2)[0]  # resampled: counts per native pixel, interpolated
    assert big.frames.sum(axis=(1, 2)).mean() / 4 == pytest.approx(big.counts_per_frame, rel=0.02)


def test_lv_is_the_brightest_region_at_end_diastole():
    studies = generate_gated_studies(SMALL, 20, seed=3)
    hits = 0
    for s in studies:
        ed = ndimage.gaussian_filter(s.frames[s.ed_frame], 2.0)
        mask = s.lv_masks[s.ed_frame]
        hits += mask[np.unravel_index(np.argmax(ed), ed.shape)]
        ratio = s.frames[s.ed_frame][mask].mean() / np.median(s.frames[s.ed_frame])
        assert 2.0 < ratio < 10.0  # LV to background, as in clinical MUGA
    assert hits >= 18


def test_training_frames():
    assert training_frames(0, 8, 24) == [0, 2, 8, 10]
    assert training_frames(22, 23, 24) == [22, 0, 23, 1]
    assert training_frames(0, 2, 8) == [0, 2, 4]  # ES = ED + 2 is annotated once


def test_observer_polygons_follow_the_lv_but_differ():
    s = generate_gated_studies(SMALL, 1, seed=4)[0]
    rng = np.random.default_rng(0)
    for frame in (s.ed_frame, s.es_frame):
        mask = s.lv_masks[frame]
        polygons = observer_polygons(mask, rng, 3)
        assert len(polygons) == 3
        rasters = []
        for p in polygons:
            assert p.ndim == 2 and p.shape[1] == 2 and 12 <= len(p) <= 32
            assert p.min() >= 0 and p[:, 0].max() <= 127 and p[:, 1].max() <= 127
            rasters.append(_raster(p, mask.shape))
            assert 0.8 <= _dice(rasters[-1], mask) < 1.0
        assert not np.array_equal(rasters[0], rasters[1]) and not np.array_equal(rasters[1], rasters[2])
    with pytest.raises(ValueError):
        observer_polygons(np.zeros((8, 8), bool), rng, 1)


def test_labelme_document():
    square = np.array([[1.0, 2.0], [5.0, 2.0], [5.0, 6.5], [1.0, 6.5]])
    doc = labelme_json([square], (64, 80), "frame_03.png")
    assert doc == {"version": "5.2.1", "flags": {}, "imagePath": "frame_03.png", "imageData": None,
                   "imageHeight": 64, "imageWidth": 80,
                   "shapes": [{"label": "LV", "points": [[1.0, 2.0], [5.0, 2.0], [5.0, 6.5], [1.0, 6.5]],
                               "group_id": None, "shape_type": "polygon", "flags": {}}]}
    assert json.loads(json.dumps(doc)) == doc


def test_written_dicom_set_round_trips(tmp_path):
    spec = _spec(frames=8)
    seen = []
    out = write_gated_set(tmp_path / "set", spec, 2, seed=7, observers=2, progress=seen.append)
    assert seen == [1, 2] and sorted(p.name for p in tmp_path.iterdir()) == ["set"]
    assert (out / "manifest.csv").read_text().splitlines()[0] == ",".join(MANIFEST_COLUMNS)
    manifest = read_gated_manifest(out / "manifest.csv")
    for i, (m, s) in enumerate(zip(manifest, generate_gated_studies(spec, 2, seed=7))):
        assert m == {"path": f"studies/study_{i:05d}.dcm", "true_ef": s.true_ef, "ed_frame": s.ed_frame,
                     "es_frame": s.es_frame, "mask": f"masks/study_{i:05d}.npy", "frames": 8,
                     "heart_rate_bpm": s.heart_rate_bpm, "pixel_mm": 3.0, "counts_per_frame": s.counts_per_frame}
        image = read_dicom(out / m["path"])
        np.testing.assert_array_equal(image.array, s.frames)
        assert image.pixel_spacing == (3.0, 3.0)
        ds = pydicom.dcmread(out / m["path"])
        assert ds.ImageType[2] == "GATED" and list(ds.TimeSlotVector) == list(range(1, 9))
        assert ds.HeartRate == s.heart_rate_bpm and ds.NumberOfTimeSlots == 8
        data = ds.GatedInformationSequence[0].DataInformationSequence[0]
        assert float(data.FrameTime) == pytest.approx(s.frame_time_ms) and data.IntervalsAcquired > 50
        masks = np.load(out / m["mask"])
        assert masks.dtype == np.uint8 and np.array_equal(masks, s.lv_masks)
        folder = out / "labelme" / f"study_{i:05d}"
        frames = training_frames(s.ed_frame, s.es_frame, 8)
        assert sorted(p.name for p in folder.iterdir()) == sorted(
            [f"frame_{f:02d}.png" for f in frames] + [f"frame_{f:02d}_obs{o}.json" for f in frames for o in (1, 2)])
        doc = json.loads((folder / f"frame_{s.es_frame:02d}_obs2.json").read_text())
        assert doc["imagePath"] == f"frame_{s.es_frame:02d}.png"
        assert (doc["imageHeight"], doc["imageWidth"]) == (128, 128)
        outline = _raster(np.array(doc["shapes"][0]["points"]), (128, 128))
        assert _dice(outline, s.lv_masks[s.es_frame]) >= 0.8
    again = write_gated_set(tmp_path / "again", spec, 2, seed=7, observers=2)
    for name in ("studies/study_00001.dcm", "labelme/study_00001/frame_00_obs1.json", "manifest.csv"):
        assert (again / name).read_bytes() == (out / name).read_bytes()
    write_gated_set(out, spec, 1, seed=1)  # a gated set may be replaced
    assert len(read_gated_manifest(out / "manifest.csv")) == 1 and not (out / "labelme").exists()


def test_npy_set_and_refusals(tmp_path):
    spec = _spec(frames=8, size=64)
    out = write_gated_set(tmp_path / "npy", spec, 1, seed=0, fmt="npy")
    stored = np.load(out / "studies/study_00000.npy")
    assert stored.dtype == np.float32 and np.array_equal(stored, generate_gated_studies(spec, 1)[0].frames)

    def boom(done):
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        write_gated_set(tmp_path / "broken", spec, 2, progress=boom)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["npy"]
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(InputError, match="gated set"):
        write_gated_set(tmp_path / "mine", spec, 1)
    (tmp_path / "mine" / "manifest.csv").write_text("file,label\n")  # some other set
    with pytest.raises(InputError, match="gated set"):
        write_gated_set(tmp_path / "mine", spec, 1)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    with pytest.raises(ValueError, match="fmt"):
        write_gated_set(tmp_path / "x", spec, 1, fmt="png")


def test_read_gated_manifest_reports_bad_files(tmp_path):
    bad = tmp_path / "manifest.csv"
    bad.write_text("path,true_ef\nstudies/a.dcm,50\n")
    with pytest.raises(InputError, match="column"):
        read_gated_manifest(bad)
    bad.write_text(",".join(MANIFEST_COLUMNS) + "\nstudies/a.dcm,high,0,8,masks/a.npy,24,70,1.5,3e5\n")
    with pytest.raises(InputError, match="line 2"):
        read_gated_manifest(bad)
    with pytest.raises(InputError, match="not found"):
        read_gated_manifest(tmp_path / "missing.csv")


def test_spec_validation():
    for changes, match in [({"frames": 6}, "frames"), ({"frames": 40}, "frames"), ({"ef_range": (60, 20)}, "ef_range"),
                           ({"ef_range": (0, 50)}, "ef_range"), ({"size": 32}, "size"),
                           ({"native_pixel_mm": 2.0}, "field of view"), ({"counts_range": (1e5,)}, "counts_range"),
                           ({"heart_rate_range": (20, 90)}, "heart_rate_range"), ({"rotation_deg": 90}, "rotation")]:
        with pytest.raises(ValueError, match=match):
            _spec(**changes)
    spec = GatedSpec(ef_range=[20, 70], counts_range=[1e5, 2e5])  # lists from YAML are fine
    assert spec.ef_range == (20.0, 70.0) and spec.pixel_mm == 1.5 and spec == GatedSpec(ef_range=(20, 70),
                                                                                           counts_range=(1e5, 2e5))


def test_chunks_made_with_start_equal_the_whole_set():
    spec = GatedSpec(frames=8, size=64)
    whole = generate_gated_studies(spec, 3, seed=2)
    chunk = generate_gated_studies(spec, 2, seed=2, start=1)
    assert all(np.array_equal(a.frames, b.frames) for a, b in zip(whole[1:], chunk))


def test_lv_frames_are_the_lvs_own_blurred_counts_and_change_nothing_else():
    spec = GatedSpec(frames=8, size=128)
    plain, = generate_gated_studies(spec, 1, seed=2, noiseless=True)
    parts, = generate_gated_studies(spec, 1, seed=2, noiseless=True, lv_frames=True)
    assert plain.lv_frames is None and np.array_equal(plain.frames, parts.frames)
    lv = parts.lv_frames
    assert lv.shape == parts.frames.shape and (lv <= parts.frames + 1e-3).all()
    per_native_pixel = (spec.size / spec.native) ** 2  # bilinear resampling keeps counts per native pixel
    np.testing.assert_allclose(lv.sum(axis=(1, 2)) / per_native_pixel, parts.lv_counts, rtol=0.02)
    outside = 1 - (lv * parts.lv_masks).sum(axis=(1, 2)) / lv.sum(axis=(1, 2))
    assert 0 < outside.min() and outside.max() < 0.3  # the camera blur carries some LV counts out of its outline
