"""Sensitivity: a source of known activity and known camera sensitivity, decay over the acquisition and since
calibration, per-head backgrounds, bad input, and the real Siemens I-131 Petri dish."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nmkit.errors import InputError
from nmkit.phantoms.camera import sensitivity_source, write_static
from nmkit.workflows.qc.battery.nuclides import HALF_LIVES_S, half_life_s, nuclide_key
from nmkit.workflows.qc.battery.sensitivity import SensitivityQC, decay_factor

TC = HALF_LIVES_S["tc99m"]


def expected_counts(sensitivity, activity, duration, elapsed=0.0, background_cps=0.0):
    lam = math.log(2) / TC
    mean_activity = activity * math.exp(-lam * elapsed) * (1 - math.exp(-lam * duration)) / (lam * duration)
    return (sensitivity * mean_activity + background_cps) * duration


def test_known_source_gives_its_sensitivity_decay_corrected_from_the_calibration_time(tmp_path):
    # 95 cps/MBq, 40 MBq measured 2 h before a 30-minute acquisition; 12 cps background
    counts = expected_counts(95.0, 40.0, 1800.0, elapsed=7200.0, background_cps=12.0)
    source = write_static(tmp_path / "src.dcm", sensitivity_source(counts), 1800.0, acquired="20240102 110000")
    background = write_static(tmp_path / "bg.dcm", sensitivity_source(12.0 * 600), 600.0)
    qc = SensitivityQC(source, activity_mbq=40.0, nuclide="Tc-99m", background=background,
                       activity_time="09:00").analyze()
    r = qc.results_data()
    assert r.background_cps == pytest.approx(12.0) and r.activity_time == "2024-01-02T09:00:00"
    assert r.decay_factor == pytest.approx(decay_factor(TC, 1800.0, 7200.0), rel=1e-7)
    assert r.decay_factor == pytest.approx(0.5 ** (2 / 6.0067) * 0.9716, rel=1e-3)
    assert r.sensitivity_cps_per_mbq == pytest.approx(95.0, rel=1e-4)
    assert qc.plot_analyzed_image(tmp_path / "s.png").is_file()


def test_each_head_uses_its_own_background_frame(tmp_path):
    source = write_static(tmp_path / "src.dcm", np.stack([sensitivity_source(expected_counts(s, 10.0, 300.0) + b * 300)
                                                          for s, b in ((80.0, 5.0), (90.0, 20.0))]), 300.0)
    background = write_static(tmp_path / "bg.dcm", np.stack([sensitivity_source(5.0 * 300),
                                                             sensitivity_source(20.0 * 300)]), 300.0)
    results = [qc.analyze().results_data() for qc in SensitivityQC.per_head(source, activity_mbq=10.0,
                                                                            nuclide="99mTc", background=background)]
    assert [r.detector for r in results] == ["1", "2"] and [r.background_cps for r in results] == [5.0, 20.0]
    assert [r.sensitivity_cps_per_mbq for r in results] == pytest.approx([80.0, 90.0], rel=1e-4)


def test_a_one_head_source_takes_the_background_head_with_its_collimator(tmp_path):
    source = write_static(tmp_path / "src.dcm", sensitivity_source(30000), 300.0, collimators=["@B"])
    background = write_static(tmp_path / "bg.dcm", np.stack([sensitivity_source(600), sensitivity_source(1500)]),
                              300.0, collimators=["@A", "@B"])
    r = SensitivityQC(source, activity_mbq=1.0, nuclide="I-131", background=background).analyze().results_data()
    assert r.background_cps == 5.0 and "same collimator @B" in r.background
    plain = write_static(tmp_path / "plain.dcm", sensitivity_source(30000), 300.0)
    r = SensitivityQC(plain, activity_mbq=1.0, nuclide="I-131", background=background).analyze().results_data()
    assert r.background_cps == 3.5 and "mean of heads 1, 2" in r.background


@pytest.mark.parametrize(("options", "message"), [
    ({"activity_mbq": -5.0, "nuclide": "Tc-99m"}, "positive number of MBq"),
    ({"activity_mbq": 5.0, "nuclide": "Xe-999"}, "unknown nuclide 'Xe-999'"),
    ({"activity_mbq": 5.0}, "name the nuclide"),
    ({"activity_mbq": 5.0, "nuclide": "Tc-99m", "activity_time": "noon"}, "is not a date and time"),
])
def test_bad_input_is_one_sentence(tmp_path, options, message):
    source = write_static(tmp_path / "src.dcm", sensitivity_source(1000), 60.0)
    with pytest.raises(InputError, match=message):
        SensitivityQC(source, **options)


def test_nuclide_names_as_people_write_them():
    assert {nuclide_key(n) for n in ("Tc-99m", "tc99m", "99mTc", "Tc 99m", "99m-Tc")} == {"tc99m"}
    assert half_life_s("I-131") == pytest.approx(8.0252 * 86400) and nuclide_key("hello") is None
    assert set(HALF_LIVES_S) == {"tc99m", "i131", "in111", "ga67", "lu177", "tl201", "i123"}


def test_real_siemens_petri_dish_with_its_two_head_background(shared_data):
    folder = shared_data / "linaqa-nm"
    r = SensitivityQC(folder / "sensitivity_PetriDish.dcm", activity_mbq=10.0, nuclide="I-131",
                      background=folder / "sensitivity_Background_2det.dcm").analyze().results_data()
    assert r.duration_s == pytest.approx(299.993) and r.source_counts == 734056
    assert r.background_cps == pytest.approx(4693 / 299.994, abs=1e-3) and "head 2" in r.background
    assert r.sensitivity_cps_per_mbq == pytest.approx((734056 / 299.993 - 4693 / 299.994) / 10.0 / r.decay_factor,
                                                      rel=1e-5)
