"""Flood phantoms: geometry, counts, defects, the study's grid, determinism and the written set."""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np
import pytest
from scipy import special, stats

from nmkit.errors import InputError
from nmkit.phantoms import flood
from nmkit.phantoms.flood import (
    MANIFEST_COLUMNS,
    PAPER_ALPHAS,
    PAPER_DIAMETERS,
    FloodSpec,
    brush_profile,
    fov_mask,
    generate_floods,
    read_manifest,
    write_flood_set,
)

SMALL = FloodSpec(shape=(64, 80), diameters=(9, 15), defect_types=("cold_disc",))


def _spec(**changes) -> FloodSpec:
    return dataclasses.replace(SMALL, **changes)


def test_shapes_dtype_and_records():
    images, records = generate_floods(_spec(), 6, seed=0)
    assert images.shape == (6, 64, 80) and images.dtype == np.float32
    assert np.array_equal(images, np.round(images)) and images.min() >= 0  # counts
    assert len(records) == 6
    for r in records:
        assert set(MANIFEST_COLUMNS) - {"file"} <= set(r)
        assert r["counts"] == SMALL.counts and r["label"] == (r["defect"] != "none")


@pytest.mark.parametrize("fov", ["rectangular", "circular", "octagonal"])
def test_mean_counts_in_fov_and_zero_outside(fov):
    spec = _spec(fov=fov, counts=200.0, defect_fraction=0.0, fov_margin=2)
    images, _ = generate_floods(spec, 3, seed=1)
    mask = fov_mask(spec.shape, fov, 2)
    assert not mask.all() and mask.sum() > 0.5 * mask.size
    assert np.all(images[:, ~mask] == 0)
    assert np.all(images[:, mask].mean(axis=1) == pytest.approx(200.0, rel=0.02))


def test_fov_shapes_differ():
    rect, circ, octa = (fov_mask((101, 101), f) for f in ("rectangular", "circular", "octagonal"))
    assert rect.all() and not circ[0, 0] and not octa[0, 0]
    assert circ.sum() < octa.sum() < rect.sum()  # a regular octagon lies between its circles
    assert circ[50, 0] and octa[50, 0] and octa[0, 50]


def test_poisson_noise_variance_equals_mean():
    images, _ = generate_floods(_spec(counts=100.0, defect_fraction=0.0, nonuniformity=0.0), 4, seed=2)
    assert images.var() / images.mean() == pytest.approx(1.0, abs=0.05)


@pytest.mark.parametrize("brush", [0, 1, 2, 3])
def test_cold_disc_reduces_counts_by_alpha_at_its_centre(brush):
    spec = _spec(defect_fraction=1.0, alphas=(0.05,), diameters=(21,), brushes=(brush,), nonuniformity=0.0,
                 counts=100.0)
    expected, records = generate_floods(spec, 2, seed=3, noiseless=True)
    for image, r in zip(expected, records):
        assert (r["defect"], r["alpha"], r["diameter"], r["brush"]) == ("cold_disc", 0.05, 21, brush)
        assert 10 <= r["row"] < 64 - 10 and 10 <= r["col"] < 80 - 10  # fully inside the FOV
        assert image[r["row"], r["col"]] == pytest.approx(95.0, rel=1e-5)
        rows, cols = np.indices(image.shape)
        far = np.hypot(rows - r["row"], cols - r["col"]) > 10.5
        assert np.allclose(image[far], 100.0) and image[~far].min() == pytest.approx(95.0, rel=1e-5)
    # With noise at high counts, the disc's core sits alpha below the far field.
    noisy, records = generate_floods(dataclasses.replace(spec, counts=1e5), 1, seed=3)
    r, image = records[0], noisy[0]
    core = image[r["row"] - 1:r["row"] + 2, r["col"] - 1:r["col"] + 2].mean()
    assert core / 1e5 == pytest.approx(1 - 0.05 * brush_profile(brush, 21)[10:13, 10:13].mean(), abs=0.004)


def test_brush_profiles_are_one_at_centre_zero_outside_and_distinct():
    profiles = [brush_profile(b, 20) for b in range(4)]
    yy, xx = np.mgrid[-10:11, -10:11]
    outside = np.hypot(yy, xx) > 10
    for p in profiles:
        assert p.shape == (21, 21) and p[10, 10] == 1.0
        assert np.all(p[outside] == 0) and p.min() >= 0 and p.max() <= 1
        assert np.allclose(p, p.T) and np.allclose(p, p[::-1])
    assert np.all(profiles[0][~outside] == 1)
    for a, b in itertools.combinations(profiles, 2):
        assert np.abs(a - b).max() > 0.1
    energies = [float((p**2).sum()) for p in profiles]
    assert energies == sorted(energies, reverse=True)  # hard > linear > cosine > gaussian
    assert brush_profile(0, 5).shape == (7, 7)
    with pytest.raises(ValueError):
        brush_profile(4, 10)


def test_hot_spot_pmt_failure_and_crack():
    for kind, sign in (("hot_spot", 1), ("pmt_failure", -1), ("crack", -1)):
        spec = _spec(shape=(120, 160), defect_fraction=1.0, defect_types=(kind,), nonuniformity=0.0, counts=100.0)
        expected, records = generate_floods(spec, 3, seed=4, noiseless=True)
        for image, r in zip(expected, records):
            assert r["defect"] == kind and r["label"] == 1
            centre = image[r["row"], r["col"]]
            assert centre == pytest.approx(100.0 * (1 + sign * r["alpha"]), rel=1e-5)
            if kind == "pmt_failure":
                assert 0.1 <= r["alpha"] <= 0.4 and r["brush"] == 2 and r["diameter"] == round(75 / spec.pixel_mm)
            if kind == "crack":
                assert 0.05 <= r["alpha"] <= 0.3 and r["brush"] in (1, 2) and r["diameter"] >= 10
                # thin: well under 2 px of cold line per px of length
                assert (image < 99.9).sum() < (r["brush"] + 2) * (r["diameter"] + 2 * r["brush"] + 2)


def test_paper_mode_grid_and_balance():
    spec = FloodSpec.paper()
    assert spec.shape == (175, 238) and spec.counts == 98.0 and spec.fov == "rectangular"
    assert spec.defect_types == ("cold_disc",) and spec.defect_fraction == 0.5
    assert spec.alphas == PAPER_ALPHAS == (0.02, 0.04, 0.06, 0.08) and spec.diameters == PAPER_DIAMETERS
    assert PAPER_DIAMETERS == tuple(range(5, 80, 5)) and spec.brushes == (0, 1, 2, 3)
    assert 533 / 238 == pytest.approx(spec.pixel_mm)
    images, records = generate_floods(spec, 480, seed=0, noiseless=True)
    assert images.shape == (480, 175, 238)
    labels = np.array([r["label"] for r in records])
    assert labels.sum() == 240 and all(labels[0::2] + labels[1::2] == 1)  # balanced in every pair
    defects = [(r["alpha"], r["diameter"], r["brush"]) for r in records if r["label"]]
    assert sorted(defects) == sorted(itertools.product(PAPER_ALPHAS, PAPER_DIAMETERS, range(4)))  # the grid, once
    assert {r["defect"] for r in records} == {"none", "cold_disc"}


def test_same_seed_same_bytes_however_chunked():
    spec = _spec(defect_types=("cold_disc", "hot_spot", "pmt_failure", "crack"))
    a, ra = generate_floods(spec, 40, seed=7, workers=1)
    b, rb = generate_floods(spec, 40, seed=7, workers=3)
    c, rc = generate_floods(spec, 13, seed=7)
    assert a.tobytes() == b.tobytes() and ra == rb
    assert a[:13].tobytes() == c.tobytes() and ra[:13] == rc  # a smaller n is a prefix
    d, _ = generate_floods(spec, 40, seed=8)
    assert not np.array_equal(a, d)


def test_defect_fraction_and_types_share_evenly():
    spec = _spec(defect_fraction=0.3, defect_types=("cold_disc", "hot_spot"), alphas=(0.05,), diameters=(9,),
                 brushes=(0,))
    _, records = generate_floods(spec, 40, seed=1, noiseless=True)
    labels = [r["label"] for r in records]
    assert sum(labels) == 12
    assert sum(r["defect"] == "hot_spot" for r in records) == 6


def test_normal_floods_pass_nema_integral_uniformity():
    images, _ = generate_floods(FloodSpec(defect_fraction=0.0), 12, seed=5, noiseless=True)
    rows, cols = (s // 4 * 4 for s in images.shape[1:])
    summed = images[:, :rows, :cols].reshape(len(images), rows // 4, 4, cols // 4, 4).sum(axis=(2, 4))
    iu = 100 * (summed.max(axis=(1, 2)) - summed.min(axis=(1, 2))) / (summed.max(axis=(1, 2)) + summed.min(axis=(1, 2)))
    assert iu.max() < 4.0 and iu.min() > 0.5  # visibly non-uniform, well inside the 5 % limit
    flat, _ = generate_floods(FloodSpec(defect_fraction=0.0, nonuniformity=0.0), 1, seed=5, noiseless=True)
    assert np.ptp(flat) == pytest.approx(0.0, abs=1e-3)


def test_written_set_round_trips(tmp_path):
    spec = _spec(defect_types=("cold_disc", "crack"))
    seen = []
    out = write_flood_set(tmp_path / "set", spec, 9, seed=3, progress=seen.append)
    assert seen[-1] == 9
    images, records = generate_floods(spec, 9, seed=3)
    manifest = read_manifest(out / "manifest.csv")
    assert (out / "manifest.csv").read_text().splitlines()[0] == ",".join(MANIFEST_COLUMNS)
    assert [{k: v for k, v in m.items() if k != "file"} for m in manifest] == records
    for m, image in zip(manifest, images):
        stored = np.load(out / m["file"])
        assert m["file"].startswith("images/flood_") and stored.dtype == np.uint16
        assert np.array_equal(stored, image)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["set"]  # no temporary left behind
    write_flood_set(out, spec, 2, seed=1)  # a flood set may be replaced
    assert len(read_manifest(out / "manifest.csv")) == 2


def test_write_leaves_nothing_on_error_and_refuses_foreign_folders(tmp_path):
    def boom(done):
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        write_flood_set(tmp_path / "set", _spec(), 3, seed=0, progress=boom)
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(InputError, match="manifest"):
        write_flood_set(tmp_path / "mine", _spec(), 2, seed=0)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_read_manifest_reports_bad_files(tmp_path):
    bad = tmp_path / "manifest.csv"
    bad.write_text("file,label\nimages/a.npy,1\n")
    with pytest.raises(InputError, match="column"):
        read_manifest(bad)
    bad.write_text(",".join(MANIFEST_COLUMNS) + "\nimages/a.npy,x,none,0,0,-1,-1,-1,98\n")
    with pytest.raises(InputError, match="line 2"):
        read_manifest(bad)


def test_spec_rejects_bad_values():
    with pytest.raises(ValueError, match="fov"):
        FloodSpec(fov="hexagonal")
    with pytest.raises(ValueError, match="defect_types"):
        FloodSpec(defect_types=("scratch",))
    with pytest.raises(ValueError, match="fit"):
        FloodSpec(shape=(40, 40), diameters=(75,))
    with pytest.raises(ValueError, match="alphas"):
        FloodSpec(alphas=(1.5,))
    assert FloodSpec(shape=[40, 40], diameters=[9], alphas=[0.1]).shape == (40, 40)  # lists from YAML are fine


# The counting-noise sampler (Ahrens-Dieter PD, vectorised): exact Poisson, seeded, independent of batching.


def _chi2_pvalue(samples: np.ndarray, mu: float) -> float:
    """Chi-square goodness of fit of integer samples to Poisson(mu), bins with >= 20 expected, tails pooled."""
    k = np.arange(int(mu + 12 * np.sqrt(mu) + 20))
    expected = stats.poisson.pmf(k, mu) * samples.size
    observed = np.bincount(samples.astype(np.int64), minlength=k.size)[:k.size]
    keep = expected >= 20
    o = np.append(observed[keep], samples.size - observed[keep].sum())
    e = np.append(expected[keep], samples.size - expected[keep].sum())
    return float(stats.chi2.sf(((o - e) ** 2 / e).sum(), len(o) - 1))


@pytest.mark.parametrize("mu", [10.0, 10.46, 23.7, 98.0, 1568.0, 2e5])
def test_poisson_draws_follow_the_poisson_law(mu):
    x = flood.poisson(np.random.default_rng(11), np.full(300_000, mu))
    assert x.dtype == np.float64 and np.array_equal(x, np.round(x)) and x.min() >= 0
    assert _chi2_pvalue(x, mu) > 1e-3
    assert x.mean() == pytest.approx(mu, abs=4 * np.sqrt(mu / x.size))
    assert x.var() / mu == pytest.approx(1.0, abs=0.015)


def test_poisson_mixed_means_are_exact_everywhere():
    # Means below 10 and above 1e6 go to numpy's sampler, 0 stays 0; a randomised PIT is uniform for an exact draw.
    rng = np.random.default_rng(12)
    mu = np.concatenate([rng.uniform(0.0, 60.0, 199_997), [0.0, 0.0, 3e6]]).reshape(-1, 8)
    x = flood.poisson(rng, mu)
    assert x.shape == mu.shape and np.all(x[mu == 0] == 0) and x[-1, -1] == pytest.approx(3e6, rel=0.01)
    m, k = mu.ravel()[:-3], x.ravel()[:-3]
    pit = stats.poisson.cdf(k - 1, m) + rng.random(k.size) * stats.poisson.pmf(k, m)
    assert stats.kstest(pit, "uniform").pvalue > 1e-3


def test_poisson_same_state_same_values_in_any_batch():
    means = [np.full((20, 30), 98.0), np.linspace(0, 400, 600).reshape(20, 30), np.full((20, 30), 1568.0)]
    alone = [flood.poisson(np.random.default_rng(i), m) for i, m in enumerate(means)]
    batch, outs = flood._PoissonBatch(), [np.empty((20, 30), np.float32) for _ in means]
    for i, (m, out) in enumerate(zip(means, outs)):
        batch.add(np.random.default_rng(i), m, out)
    batch.finish()
    for a, b in zip(alone, outs):
        assert np.array_equal(a, b)
    assert not np.array_equal(alone[0], flood.poisson(np.random.default_rng(99), means[0]))


def test_poisson_rejects_bad_means():
    for bad in (np.array([1.0, -1.0]), np.array([np.nan, 5.0]), np.array([np.inf])):
        with pytest.raises(ValueError, match="finite and >= 0"):
            flood.poisson(np.random.default_rng(0), bad)
    assert flood.poisson(np.random.default_rng(0), np.zeros((0, 3))).shape == (0, 3)


def test_pd_inequalities_hold_over_its_range_of_means():
    """What makes PD exact, with p_k the Poisson and f_k the discrete-normal probabilities (module docstring).

    (a) p_k >= f_k for k >= floor(mu - 1.1484) (step I); (b) p_k / f_k >= 1 - (mu - k)^3 / (6 mu^2) below it
    (step S); (c) the hat covers what step N leaves: e^|t - 1.8| (p_k - f_k) <= 0.1069 / mu over each cell of t
    above -0.6744; (d) p_k <= f_k in the cells reaching t <= -0.6744, which the hat leaves out.
    """
    means = np.concatenate([np.linspace(10, 12, 201), np.geomspace(12, 1e6, 200)])
    for mu in means:
        s = math.sqrt(mu)
        k = np.arange(max(0.0, math.floor(mu - 40 * s)), math.ceil(mu + 40 * s))
        p = np.exp(k * math.log(mu) - mu - special.gammaln(k + 1))
        z0, z1 = (k - mu) / s, (k + 1 - mu) / s
        f = np.where(z0 > 0, special.ndtr(-z0) - special.ndtr(-z1), special.ndtr(z1) - special.ndtr(z0))
        live = np.maximum(p, f) > 1e-300
        at_or_above = (k >= math.floor(mu - flood._PD_L_SHIFT)) & live
        assert np.all(p[at_or_above] >= f[at_or_above]), mu
        below = (k < math.floor(mu - flood._PD_L_SHIFT)) & live & (f > 0)
        assert np.all(p[below] / f[below] >= 1 - (mu - k[below]) ** 3 / (6 * mu**2)), mu
        hat = (z1 > flood._PD_T_MIN) & live
        reach = np.maximum(np.abs(np.maximum(z0, flood._PD_T_MIN) - 1.8), np.abs(z1 - 1.8))
        gap = np.maximum(p - f, 0.0)[hat]
        assert np.all(gap * np.exp(reach[hat]) <= flood._PD_HAT / mu), mu
        cut = (z0 <= flood._PD_T_MIN) & live
        assert np.all(p[cut] <= f[cut]), mu
