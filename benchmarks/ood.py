"""Out-of-distribution check of the shipped models: fit the feature-space Gaussian on training phantoms
(``--install`` writes ``<bundle>.ood.pt`` beside each shipped bundle), then the AUROC of phantom test inputs
against every real file in ../shared/data of another kind, fed to the model as if forced past the gate.
Writes the "ood" section of BENCHMARKS.md.

    PYTHONPATH=src python benchmarks/ood.py [--install] [--only qc gbp bonescan rds]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine, write_section  # noqa: E402
from gates import belongs, real_inputs  # noqa: E402

from nmkit.engine import load_config  # noqa: E402
from nmkit.errors import InputError  # noqa: E402
from nmkit.io import Image, load_image  # noqa: E402
from nmkit.metrics.classification import auc  # noqa: E402
from nmkit.metrics.ood import FeatureGaussian, deepest_layer, ood_path, pooled_features, weights_hash  # noqa: E402
from nmkit.models import load_bundle  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
TEST_SEED = 424242
PERCENTILE = 99.0


@dataclass
class Setup:
    """How one workflow's model sees an input: ``feed(model, x)`` runs it once; ``train``/``test`` make phantom
    inputs; ``from_real`` turns a real file's image into an input (as --force would)."""

    bundle: Path
    feed: Callable
    train: Callable[[], list]
    test: Callable[[], list]
    from_real: Callable[[Image], object]
    train_text: str


def _qc() -> Setup:
    from nmkit.workflows.qc.analyse import defect_probabilities
    from nmkit.workflows.qc.data import make_phantom_set

    phantom = load_config(ROOT / "configs/qc-default.yaml")["data"]["phantom"]
    return Setup(ROOT / "src/nmkit/workflows/qc/default_model/qc-default.pt",
                 lambda model, x: defect_probabilities(model, x[None]),
                 lambda: list(make_phantom_set(phantom | {"n": 240}, 1)[0]),
                 lambda: list(make_phantom_set(phantom | {"n": 120}, TEST_SEED)[0]),
                 lambda image: image.array[0],
                 "240 training floods (configs/qc-default.yaml, seed 1: the first 10 of each of its 24 groups)")


def _gbp() -> Setup:
    from nmkit.phantoms.gated import GatedSpec, generate_gated_studies
    from nmkit.workflows.gbp.analyse import segment_frames

    return Setup(ROOT / "src/nmkit/workflows/gbp/default_model/gbp-default.pt",
                 lambda model, x: segment_frames(model, x),
                 lambda: [s.frames for s in generate_gated_studies(GatedSpec(), 24, 0)],
                 lambda: [s.frames for s in generate_gated_studies(GatedSpec(), 24, 777_777)],
                 lambda image: image.array,
                 "24 training studies (configs/gbp-fast.yaml, seed 0), every frame")


def _bonescan() -> Setup:
    from nmkit.workflows.bonescan.analyse import grade_probabilities
    from nmkit.workflows.bonescan.data import phantom_knees, spec_from_config

    spec = spec_from_config(load_config(ROOT / "configs/bonescan-fast.yaml")["data"]["phantom"])

    def per_scan(n: int, seed: int) -> list:
        inputs, _, scans = phantom_knees(spec, n, seed)
        return [inputs[scans == s] for s in np.unique(scans)]

    def as_knee(image: Image) -> np.ndarray:
        frame = image.array[0].astype(np.float64)
        crop = ndimage.zoom(frame, (128 / frame.shape[0], 128 / frame.shape[1]), order=1)[:128, :128]
        return (crop / max(float(crop[crop > 0].mean()) if (crop > 0).any() else 1.0, 1e-6))[None, None].astype(
            np.float32)

    return Setup(ROOT / "src/nmkit/workflows/bonescan/default_model/bonescan-default.pt",
                 lambda model, x: grade_probabilities(model, np.ascontiguousarray(x, dtype=np.float32)),
                 lambda: per_scan(60, 0), lambda: per_scan(40, TEST_SEED), as_knee,
                 "the knees of 60 training scans (configs/bonescan-fast.yaml, seed 0)")


def _rds() -> Setup:
    from nmkit.workflows.rds.data import phantom_set
    from nmkit.workflows.rds.postprocess import segment_lungs

    config = load_config(ROOT / "configs/rds-seg-fast.yaml")["data"]

    def images(seed: int, part: str) -> list:
        made = phantom_set(config["phantom"] | {"n": 160}, int(config.get("size", 128)), seed)
        return [im.astype(np.float32) / 255.0 for im, split in zip(made.images, made.split) if split == part]

    def grey(image: Image) -> np.ndarray:
        frame = image.array[0].astype(np.float64)
        low, high = np.percentile(frame, (0.5, 99.5))
        return np.clip((frame - low) / max(high - low, 1e-6), 0, 1).astype(np.float32)

    return Setup(ROOT / "src/nmkit/workflows/rds/default_model/rds-seg-default.pt",
                 lambda model, x: segment_lungs(model, x), lambda: images(0, "train"),
                 lambda: images(TEST_SEED, "test"), grey,
                 "the training group of 160 phantoms made as configs/rds-seg-fast.yaml (seed 0)")


SETUPS = {"qc": _qc, "gbp": _gbp, "bonescan": _bonescan, "rds": _rds}


def features(model, layer: str, feed: Callable, x) -> np.ndarray:
    return pooled_features(model, layer, lambda: feed(model, x))


def run(key: str, install: bool) -> dict:
    setup = SETUPS[key]()
    model, info = load_bundle(setup.bundle)
    train = setup.train()
    layer = deepest_layer(model, lambda: setup.feed(model, train[0]))
    fit = FeatureGaussian.fit([features(model, layer, setup.feed, x) for x in train], layer, weights_hash(model),
                              PERCENTILE, setup.train_text)
    if install:
        fit.save(ood_path(setup.bundle))
    test_scores = fit.scores([features(model, layer, setup.feed, x) for x in setup.test()])
    other, own = [], []
    for name, path in real_inputs(DATA):
        try:
            image = load_image(path)
            score = float(fit.scores([features(model, layer, setup.feed, setup.from_real(image))])[0])
        except (InputError, ValueError, RuntimeError) as err:
            print(f"{key}: {name} skipped ({err})")
            continue
        (own if belongs(name) == key else other).append((name, score))
    scores = np.concatenate([test_scores, [s for _, s in other]])
    labels = np.concatenate([np.zeros(len(test_scores)), np.ones(len(other))])
    return {"workflow": key, "layer": layer, "threshold": round(fit.threshold, 3), "n_train": len(train),
            "n_test": len(test_scores), "n_other": len(other),
            "auroc": round(auc(scores, labels), 4) if len(other) else None,
            "test_flagged": round(float((test_scores > fit.threshold).mean()), 4),
            "other_flagged": round(float(np.mean([s > fit.threshold for _, s in other])), 4) if other else None,
            "own_real": [(n, round(s, 2), bool(s > fit.threshold)) for n, s in own],
            "other_real": [(n, round(s, 2), bool(s > fit.threshold)) for n, s in other]}


def write_benchmarks(rows: list[dict]) -> None:
    """The "ood" section of BENCHMARKS.md from the saved rows."""
    table = ["| model | layer | threshold (99th pct) | phantom test flagged | real files of other kinds flagged "
             "| AUROC phantom test vs other kinds | real files of its own kind flagged |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        own = f"{sum(f for _, _, f in r['own_real'])} of {len(r['own_real'])}" if r["own_real"] else "none in the data"
        table.append(f"| {r['workflow']} | `{r['layer']}` | {r['threshold']:.2f} | {100 * r['test_flagged']:.1f} % of "
                     f"{r['n_test']} | {100 * r['other_flagged']:.1f} % of {r['n_other']} | {r['auroc']:.4f} | {own} |")
    body = f"""## ood: is the input like the training data?

Feature-space Mahalanobis distance (`nmkit.metrics.ood`): each shipped model's deepest feature map, averaged over
space; a Gaussian (Ledoit-Wolf covariance) fitted on training phantoms; threshold at the {PERCENTILE:g}th
percentile of the training inputs' distances (an input's distance is the largest over its frames / knees /
passes), stored beside the bundle as `<bundle>.ood.pt` with the hash of the weights it belongs to. Phantom test
inputs (never trained on) against every real file in ../shared/data of another kind, fed to the model as
`--force` would. Target: AUROC >= 0.99 for inputs of another modality.

{chr(10).join(table)}

Real files of the model's own kind and their distances are in benchmarks/results/ood.json.
Command: `PYTHONPATH=src python benchmarks/ood.py --install`. Machine: {machine()}.
"""
    write_section("ood", body)
    print(body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--install", action="store_true", help="Write <bundle>.ood.pt beside each shipped bundle.")
    parser.add_argument("--only", nargs="*", default=list(SETUPS))
    args = parser.parse_args()
    saved = ROOT / "benchmarks" / "results" / "ood.json"
    for key in args.only:  # saved after each model, so a long run keeps what it finished
        fresh = run(key, args.install)
        previous = {r["workflow"]: r for r in json.loads(saved.read_text())} if saved.is_file() else {}
        rows = [fresh if k == key else previous[k] for k in SETUPS if k == key or k in previous]
        saved.parent.mkdir(parents=True, exist_ok=True)
        saved.write_text(json.dumps(rows, indent=1))
        write_benchmarks(rows)


if __name__ == "__main__":
    main()
