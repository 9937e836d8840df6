"""Count rate: a decaying source on a paralysable detector with a known peak and 20 % loss rate, and the real
Mediso count-rate series."""

from __future__ import annotations

import numpy as np
import pytest

from nmkit.errors import InputError
from nmkit.phantoms.camera import decaying_source_series, write_dynamic, write_static
from nmkit.workflows.qc.battery.countrate import CountRateQC, rate_at_loss


@pytest.fixture(scope="module")
def decaying(tmp_path_factory):
    frames, truth = decaying_source_series(dead_time_s=2e-6, half_life_s=100.0, frame_s=10.0, n_frames=80)
    return write_dynamic(tmp_path_factory.mktemp("cr") / "decay.dcm", frames, 10.0), truth


def test_maximum_is_the_known_peak_and_its_frame(decaying):
    path, truth = decaying
    r = CountRateQC(path).analyze().results_data()
    assert r.max_frame == int(np.argmax(truth.frame_cps)) and r.n_frames == 80 and r.frame_s[0] == 10.0
    assert r.max_cps == pytest.approx(truth.frame_cps.max(), rel=1e-6)
    assert r.max_cps == pytest.approx(truth.max_cps_instant, rel=2e-3)  # 1 / (e tau), frame-averaged
    assert r.cps_at_20pct_loss is None and "half-life" in r.loss_note


def test_observed_rate_at_20_percent_loss_follows_nemas_decaying_source_method(decaying, tmp_path):
    path, truth = decaying
    qc = CountRateQC(path, half_life_s=100.0).analyze()
    r = qc.results_data()
    assert r.cps_at_20pct_loss == pytest.approx(truth.cps_at_20pct_loss, rel=0.01)
    assert r.input_cps_at_20pct_loss == pytest.approx(r.cps_at_20pct_loss / 0.8, rel=1e-3)
    assert qc.plot_analyzed_image(tmp_path / "c.png").stat().st_size > 0 and r.figure_png.endswith("c.png")


def test_a_curve_that_never_falls_low_gives_no_20_percent_rate(tmp_path):
    frames, _ = decaying_source_series(n_frames=30)  # stops near the peak
    r = CountRateQC(write_dynamic(tmp_path / "short.dcm", frames, 10.0), half_life_s=100.0).analyze().results_data()
    assert r.cps_at_20pct_loss is None and "after its maximum" in r.loss_note
    assert rate_at_loss(np.array([1.0, 2.0]), np.array([1.0, 2.0])) is None  # no losses at all


def test_two_heads_give_two_results(tmp_path):
    frames, truth = decaying_source_series(n_frames=40)
    both = np.stack([frames, frames // 2], axis=1).reshape(80, *frames.shape[1:])  # interleaved heads
    results = [qc.analyze().results_data() for qc in CountRateQC.per_head(write_dynamic(tmp_path / "2.dcm", both,
                                                                                         10.0, detectors=2))]
    assert [r.detector for r in results] == ["1", "2"]
    assert results[0].max_cps == pytest.approx(truth.frame_cps.max())
    assert results[1].max_cps == pytest.approx(truth.frame_cps.max() / 2, rel=1e-3)
    with pytest.raises(InputError, match="2 heads"):
        CountRateQC(tmp_path / "2.dcm")


def test_a_static_image_is_refused(tmp_path):
    with pytest.raises(InputError, match="STATIC image, not a dynamic"):
        CountRateQC(write_static(tmp_path / "s.dcm", np.ones((8, 8)), 60.0))


def test_real_mediso_series_peaks_in_frame_20(shared_data):
    r = CountRateQC(shared_data / "linaqa-nm" / "MCR_Mediso_AnyScan_30f.dcm").analyze().results_data()
    assert r.max_frame == 20 and r.max_cps == 724525.0 and r.frame_s == [1.0] * 30  # frame time from the file
    assert r.cps[0] == 32723.0 and len(r.cps) == 30
