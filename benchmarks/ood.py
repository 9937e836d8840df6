"""Out-of-distribution check of the shipped models: fit the feature-space Gaussian on training phantoms
(``--install`` writes ``<bundle>.ood.pt`` beside each shipped bundle), then the AUROC of phantom test inputs
against every real file in ../shared/data of another kind, fed to the model as if forced past the gate.
Writes the "ood" section of BENCHMARKS.md.

    PYTHONPATH=src python benchmarks/ood.py [--install] [--only qc gbp bonescan rds]
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine, write_section  # noqa: E402
from gates import belongs, real_inputs  # noqa: E402
from sets import seed  # noqa: E402

from nmkit.engine import load_config  # noqa: E402
from nmkit.errors import InputError  # noqa: E402
from nmkit.io import Image, load_image  # noqa: E402
from nmkit.metrics.classification import auc  # noqa: E402
from nmkit.metrics.ood import FeatureGaussian, deepest_layer, ood_path, pooled_features, weights_hash  # noqa: E402
from nmkit.models import load_bundle  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
USER = "benchmarks/ood.py"
PERCENTILE = 99.0


@dataclass
class Setup:
    """How one workflow's model sees an input: ``feed(model, x)`` runs it once; ``train`` makes the phantom inputs
    the Gaussian is fitted on, ``validation`` (when given) held-out ones its threshold is set on, ``test`` the
    phantom test inputs (iterables, so large sets are made one input at a time); ``from_real`` turns a real
    file's image into an input as the analysis would (as --force would)."""

    bundle: Path
    feed: Callable
    train: Callable[[], Iterable]
    test: Callable[[], Iterable]
    from_real: Callable[[Image], object]
    train_text: str
    validation: Callable[[], Iterable] | None = None


def _qc() -> Setup:
    from nmkit.workflows.qc.analyse import defect_probabilities
    from nmkit.workflows.qc.data import make_phantom_set

    phantom = load_config(ROOT / "configs/qc-default.yaml")["data"]["phantom"]
    return Setup(ROOT / "src/nmkit/workflows/qc/default_model/qc-default.pt",
                 lambda model, x: defect_probabilities(model, x[None]),
                 lambda: list(make_phantom_set(phantom | {"n": 240}, 1)[0]),
                 lambda: list(make_phantom_set(phantom | {"n": 120}, seed("qc", "test", USER))[0]),
                 lambda image: image.array[0],
                 "240 training floods (configs/qc-default.yaml, seed 1: the first 10 of each of its 24 groups)")


def _gbp() -> Setup:
    from nmkit.phantoms.gated import GatedSpec, generate_gated_studies
    from nmkit.workflows.gbp.analyse import segment_frames
    from nmkit.workflows.gbp.data import split_studies

    config = load_config(ROOT / "configs/gbp-fast.yaml")
    data, config_seed = config["data"], int(config["seed"])
    parts = split_studies(int(data["phantom"]["n"]), config_seed, tuple(data["split"]))

    def studies(indices, study_seed: int) -> Iterator[np.ndarray]:
        return (generate_gated_studies(GatedSpec(), 1, study_seed, start=int(i))[0].frames for i in indices)

    return Setup(ROOT / "src/nmkit/workflows/gbp/default_model/gbp-default.pt",
                 lambda model, x: segment_frames(model, x),
                 lambda: studies(sorted(parts["train"]), config_seed),
                 lambda: studies(range(40), seed("gbp", "test", USER)),
                 lambda image: image.array,
                 f"the {len(parts['train'])} training studies of configs/gbp-fast.yaml (seed {config_seed}), every "
                 f"frame; threshold on its {len(parts['val'])} validation studies",
                 lambda: studies(sorted(parts["val"]), config_seed))


def _bonescan() -> Setup:
    from nmkit.workflows.bonescan.analyse import grade_probabilities
    from nmkit.workflows.bonescan.data import load_knee_data, patient_split, phantom_knees, spec_from_config

    config = load_config(ROOT / "configs/bonescan-fast.yaml")
    data, config_seed = config["data"], int(config["seed"])
    inputs, _, scans = load_knee_data(data, config_seed)
    train, val = patient_split(scans, float(data.get("val_fraction", 0.2)), config_seed)

    def per_scan(knees: np.ndarray, of_scan: np.ndarray) -> list:
        return [knees[of_scan == s] for s in np.unique(of_scan)]

    def test() -> list:
        knees, _, of_scan = phantom_knees(spec_from_config(data["phantom"]), 40, seed("bonescan", "test", USER))
        return per_scan(knees, of_scan)

    def as_knee(image: Image) -> np.ndarray:
        frame = image.array[0].astype(np.float64)
        crop = ndimage.zoom(frame, (128 / frame.shape[0], 128 / frame.shape[1]), order=1)[:128, :128]
        return (crop / max(float(crop[crop > 0].mean()) if (crop > 0).any() else 1.0, 1e-6))[None, None].astype(
            np.float32)

    return Setup(ROOT / "src/nmkit/workflows/bonescan/default_model/bonescan-default.pt",
                 lambda model, x: grade_probabilities(model, np.ascontiguousarray(x, dtype=np.float32)),
                 lambda: per_scan(inputs[train], scans[train]), test, as_knee,
                 f"the knees of the {len(np.unique(scans[train]))} training scans of configs/bonescan-fast.yaml "
                 f"(seed {config_seed}); threshold on its {len(np.unique(scans[val]))} validation scans",
                 lambda: per_scan(inputs[val], scans[val]))


def _rds() -> Setup:
    """The lung classifier (whose P(RDS) is reported), fitted on its training inputs (true lungs, as it was
    trained); test phantoms and real files reach it as in the analysis: lungs from the shipped segmenter."""
    from nmkit.phantoms.chest import ChestSpec, generate_chest_xray, to_png8
    from nmkit.workflows.rds.data import build_set, classifier_input, lung_input
    from nmkit.workflows.rds.evaluate import rds_probability
    from nmkit.workflows.rds.postprocess import segment_lungs
    from nmkit.workflows.rds.prepare import window_to_uint8

    config = load_config(ROOT / "configs/rds-cls-fast.yaml")
    data, config_seed = config["data"], int(config["seed"])
    size, margin = int(data["size"]), int(data.get("lung_margin", 0))
    segmenter, _ = load_bundle(ROOT / "src/nmkit/workflows/rds/default_model/rds-seg-default.pt")
    whole = build_set(data, config_seed)

    def true_lungs(part: str) -> list:
        chosen = whole.subset(part)
        return list(classifier_input(chosen.images, chosen.masks, "lungs", margin).astype(np.float32))

    def as_analysed(grey: np.ndarray) -> np.ndarray:
        mask, _ = segment_lungs(segmenter, grey.astype(np.float32) / 255.0)
        if not mask.any():
            raise InputError("image", "no lung was found in this image")
        return lung_input(grey, mask, size, margin)

    def test() -> Iterator[np.ndarray]:  # radiographs made as in training, at full size, as a user's come
        spec = ChestSpec(**{k: tuple(v) if isinstance(v, list) else v for k, v in data["phantom"].items() if k != "n"})
        test_seed = seed("rds", "test", USER)
        return (as_analysed(to_png8(generate_chest_xray(spec, test_seed, i).pixels)) for i in range(120))

    return Setup(ROOT / "src/nmkit/workflows/rds/default_model/rds-cls-default.pt",
                 lambda model, x: rds_probability(model, x), lambda: true_lungs("train"), test,
                 lambda image: as_analysed(window_to_uint8(image.array[0])),
                 f"the training group of the {len(whole.rds)} phantoms of configs/rds-cls-fast.yaml (seed {config_seed}), "
                 "true lungs widened as in training; threshold on its validation group",
                 lambda: true_lungs("val"))


SETUPS = {"qc": _qc, "gbp": _gbp, "bonescan": _bonescan, "rds": _rds}


def features(model, layer: str, feed: Callable, x) -> np.ndarray:
    return pooled_features(model, layer, lambda: feed(model, x))


def run(key: str, install: bool) -> dict:
    started_on = machine()
    setup = SETUPS[key]()
    model, info = load_bundle(setup.bundle)
    train = iter(setup.train())
    first = next(train)
    layer = deepest_layer(model, lambda: setup.feed(model, first))
    featured = lambda inputs: [features(model, layer, setup.feed, x) for x in inputs]  # noqa: E731
    train_features = featured(itertools.chain([first], train))
    held_out = featured(setup.validation()) if setup.validation else None
    fit = FeatureGaussian.fit(train_features, layer, weights_hash(model), PERCENTILE, setup.train_text, held_out)
    if install:
        fit.save(ood_path(setup.bundle))
    test_scores = fit.scores(featured(setup.test()))
    other, own, skipped = [], [], []
    for name, path in real_inputs(DATA):
        try:
            image = load_image(path)
            score = float(fit.scores([features(model, layer, setup.feed, setup.from_real(image))])[0])
        except (InputError, ValueError, RuntimeError) as err:
            print(f"{key}: {name} skipped ({err})")
            skipped.append(name)
            continue
        (own if belongs(name) == key else other).append((name, score))
    scores = np.concatenate([test_scores, [s for _, s in other]])
    labels = np.concatenate([np.zeros(len(test_scores)), np.ones(len(other))])
    return {"workflow": key, "bundle": setup.bundle.name, "machine": started_on, "layer": layer, "threshold": round(fit.threshold, 3),
            "fitted_on": setup.train_text, "n_train": len(train_features),
            "n_threshold": len(held_out or train_features), "n_test": len(test_scores), "n_other": len(other),
            "auroc": round(auc(scores, labels), 4) if len(other) else None,
            "test_flagged": round(float((test_scores > fit.threshold).mean()), 4),
            "other_flagged": round(float(np.mean([s > fit.threshold for _, s in other])), 4) if other else None,
            "own_real": [(n, round(s, 2), bool(s > fit.threshold)) for n, s in own],
            "other_real": [(n, round(s, 2), bool(s > fit.threshold)) for n, s in other], "skipped": skipped}


def write_benchmarks(rows: list[dict]) -> None:
    """The "ood" section of BENCHMARKS.md from the saved rows."""
    table = ["| model | layer | threshold (99th pct) | phantom test flagged | real files of other kinds flagged "
             "| AUROC phantom test vs other kinds | real files of its own kind flagged |", "|---|---|---|---|---|---|---|"]
    fitted = []
    for r in rows:
        own = f"{sum(f for _, _, f in r['own_real'])} of {len(r['own_real'])}" if r["own_real"] else "none in the data"
        table.append(f"| {r['workflow']} ({r.get('bundle', '')}) | `{r['layer']}` | {r['threshold']:.2f} | "
                     f"{100 * r['test_flagged']:.1f} % of {r['n_test']} | {100 * r['other_flagged']:.1f} % of "
                     f"{r['n_other']} | {r['auroc']:.4f} | {own} |")
        skipped = f"; {len(r['skipped'])} real files the analysis refuses before the model (no lung found)" if r.get(
            "skipped") else ""
        fitted.append(f"- {r['workflow']}: {r.get('fitted_on') or 'training phantoms'}{skipped}.")
    machines = "; ".join(f"{', '.join(r['workflow'] for r in rows if r.get('machine') == m)}: {m}"
                         for m in dict.fromkeys(r.get("machine") or machine() for r in rows))
    body = f"""## ood: is the input like the training data?

Feature-space Mahalanobis distance (`nmkit.metrics.ood`): each shipped model's deepest feature map, averaged over
space; a Gaussian (Ledoit-Wolf covariance) fitted on training phantoms; threshold at the {PERCENTILE:g}th
percentile of the distances of the config's validation phantoms, held out of the fit (where the script has them;
else of the training inputs: a Gaussian over a few hundred features fitted on a few dozen studies puts every new
input above its training distances). An input's distance is the largest over its frames / knees / passes. Stored
beside the bundle as `<bundle>.ood.pt` with the hash of the weights it belongs to; every prediction carries
`ood_distance`, `ood_threshold`, `in_domain` and `domain_notes`. Phantom test inputs (never trained on; test seeds
from benchmarks/sets.py) against every real file in ../shared/data of another kind, fed to the model as `--force`
would. rds: the lung classifier (its P(RDS) is the number reported), its input made as the analysis makes it, from
the shipped segmenter's lungs; the segmenter has no fit. Target: AUROC >= 0.99 for inputs of another modality.

{chr(10).join(table)}

Fitted on:
{chr(10).join(fitted)}

Real files of the model's own kind and their distances are in benchmarks/results/ood.json.
Command: `PYTHONPATH=src python benchmarks/ood.py --install`. Machine: {machines}.
"""
    write_section("ood", body)
    print(body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--install", action="store_true", help="Write <bundle>.ood.pt beside each shipped bundle.")
    parser.add_argument("--only", nargs="*", default=list(SETUPS), help="Models to check (none: rewrite the "
                                                                         "section from the saved rows).")
    args = parser.parse_args()
    saved = ROOT / "benchmarks" / "results" / "ood.json"
    if not args.only:
        write_benchmarks(json.loads(saved.read_text()))
    for key in args.only:  # saved after each model, so a long run keeps what it finished
        fresh = run(key, args.install)
        previous = {r["workflow"]: r for r in json.loads(saved.read_text())} if saved.is_file() else {}
        rows = [fresh if k == key else previous[k] for k in SETUPS if k == key or k in previous]
        saved.parent.mkdir(parents=True, exist_ok=True)
        saved.write_text(json.dumps(rows, indent=1))
        write_benchmarks(rows)


if __name__ == "__main__":
    main()
