"""`evaluate_studies` segments each study once and scores every background method asked for from that pass."""

from __future__ import annotations

import numpy as np
import pytest

from nmkit.errors import InputError
from nmkit.io import Image
from nmkit.workflows.gbp import evaluate as evaluation
from nmkit.workflows.gbp.analyse import BACKGROUND_METHODS

from .conftest import blurred_pool_study


def _studies(n: int = 3):
    for i in range(n):
        frames, masks, true_ef = blurred_pool_study(n_frames=8, radii=(12.0, 7.0 + i))
        image = Image(frames, (4.0, 4.0), "NM", {"gated": True, "spacing_known": True}, path=f"s{i}")
        yield evaluation.LabelledStudy(image, masks, true_ef, 0, int(np.argmin(masks.sum(axis=(1, 2)))))


def test_every_background_method_is_scored_from_one_segmentation(monkeypatch, tmp_path):
    calls = []
    truth = {s.image.array.tobytes(): s.masks for s in _studies()}

    def segment(model, frames):
        calls.append(1)
        return truth[frames.tobytes()]

    monkeypatch.setattr(evaluation, "segment_frames", segment)
    result = evaluation.evaluate_studies(_studies(), None, {"model_path": "truth"}, tmp_path,
                                         background=BACKGROUND_METHODS)
    assert len(calls) == 3 and result["background"] == "study"
    assert set(result["backgrounds"]) == set(BACKGROUND_METHODS)
    # the top-level keys are the first method's; the spill method gets the blurred pools' EF right
    assert result["ef_bias"] == result["backgrounds"]["study"]["ef_bias"] > 1
    spill = result["backgrounds"]["spill"]
    assert abs(spill["ef_bias"]) < 0.3 and spill["ef_mae"] == pytest.approx(spill["reference_ef_mae"])
    header = (tmp_path / "studies.csv").read_text().splitlines()[0].split(",")
    assert {"model_ef", "model_ef_spill", "reference_ef_crescent", "baseline_ef_spill"} <= set(header)
    assert (tmp_path / "ef_bland_altman_spill.png").is_file() and (tmp_path / "ef_bland_altman.png").is_file()
    assert "spill background" in evaluation.format_evaluation(result)


def test_unknown_background_method_is_refused():
    with pytest.raises(InputError, match="background"):
        evaluation.evaluate_studies(_studies(), None, {}, None, background=("study", "nowhere"))
