"""evaluate_floods: each flood's label and both scores on request, agreeing with the summary figures."""

from __future__ import annotations

from nmkit.metrics.classification import auc
from nmkit.models import load_bundle
from nmkit.phantoms.flood import FloodSpec, generate_floods
from nmkit.workflows.qc.evaluate import evaluate_floods


def test_per_flood_scores_match_the_summary(tiny_model):
    images, records = generate_floods(FloodSpec.paper(), 6, seed=3)
    model, info = load_bundle(tiny_model)
    plain = evaluate_floods(images, records, model, info)
    result = evaluate_floods(images, records, model, info, per_flood=True)
    assert "per_flood" not in plain
    per = result["per_flood"]
    assert per["label"].tolist() == [r["label"] for r in records] and per["cnn"].shape == per["observer"].shape == (6,)
    assert auc(per["cnn"], per["label"]) == result["auc"] and auc(per["observer"], per["label"]) == result["observer_auc"]
