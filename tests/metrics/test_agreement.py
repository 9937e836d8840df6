from __future__ import annotations

import math

import pytest

from nmkit.metrics.agreement import bland_altman, cohen_kappa, wilcoxon_signed_rank


def test_bland_altman_by_hand():
    ba = bland_altman([10, 12, 14, 20], [11, 11, 12, 16])  # differences -1, 1, 2, 4
    sd = math.sqrt(13 / 3)  # squared deviations from 1.5: 6.25 + 0.25 + 0.25 + 6.25, over n - 1
    assert ba.as_dict() == {"n": 4, "bias": 1.5, "sd": pytest.approx(sd), "loa_low": pytest.approx(1.5 - 1.96 * sd),
                            "loa_high": pytest.approx(1.5 + 1.96 * sd), "mae": 2.0}


@pytest.mark.parametrize(("a", "b"), [([1, 2, 3], [1, 2]), ([1], [2]), ([1, float("nan")], [1, 2])])
def test_bland_altman_refuses_bad_pairs(a, b):
    with pytest.raises(ValueError):
        bland_altman(a, b)


def test_wilcoxon_exact_two_sided():
    # differences 1..5 all positive: W- = 0, exact p = 2 / 2**5
    assert wilcoxon_signed_rank([2, 4, 6, 8, 10], [1, 2, 3, 4, 5]) == {"statistic": 0.0, "p_value": 0.0625, "n": 5}
    # differences 1, -2, 3, 4, 5: W- = 2; sign patterns with W- <= 2 are {}, {1}, {2}: p = 2 * 3 / 32
    result = wilcoxon_signed_rank([2, 0, 6, 8, 10], [1, 2, 3, 4, 5])
    assert (result["statistic"], result["p_value"]) == (2.0, pytest.approx(6 / 32))


def test_wilcoxon_all_zero_differences():
    assert wilcoxon_signed_rank([3, 4, 5], [3, 4, 5]) == {"statistic": 0.0, "p_value": 1.0, "n": 3}


def test_cohen_kappa_by_hand():
    # po = 3/4; marginals (2, 2) and (1, 3): pe = (2*1 + 2*3) / 16 = 1/2; kappa = (3/4 - 1/2) / (1 - 1/2)
    assert cohen_kappa([0, 0, 1, 1], [0, 1, 1, 1], num_classes=2) == pytest.approx(0.5)
    # one disagreement (1 vs 2) among 3; marginals (1, 1, 1) and (1, 0, 2):
    # linear: observed weighted disagreement 1/6, expected 1/2 -> 1 - 1/3; quadratic: 1/12 vs 5/12 -> 1 - 1/5
    assert cohen_kappa([0, 1, 2], [0, 2, 2], 3, weights="linear") == pytest.approx(2 / 3)
    assert cohen_kappa([0, 1, 2], [0, 2, 2], 3, weights="quadratic") == pytest.approx(0.8)
    with pytest.raises(ValueError, match="0..2"):
        cohen_kappa([0, 3], [0, 1], 3)
