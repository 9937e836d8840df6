"""Calibration of the shipped classifiers (qc, bonescan, rds lung classifier) by temperature scaling, and the
coverage of the gbp EF interval. Writes the "calibration" section of BENCHMARKS.md.

Temperature: fitted on each model's own validation split, rebuilt exactly from its training config (same
phantoms, same seed, same split), joined for bonescan and rds by a fresh validation set drawn as in training from
the ledger's validation seed (their own splits are classified all right, where the likelihood has no finite
optimum); ECE (with its 95 % bootstrap interval) and reliability measured on a test set from the ledger's test
seed, never used for training or fitting. ``--install`` writes the temperature into the shipped bundles
(``info["temperature"]``). Seeds: benchmarks/sets.py.

    PYTHONPATH=src python benchmarks/calibration.py [--install] [--skip-ef]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine, write_section  # noqa: E402
from sets import seed  # noqa: E402

from nmkit.atomic import atomic_path  # noqa: E402
from nmkit.engine import load_config  # noqa: E402
from nmkit.metrics.calibration import (  # noqa: E402
    expected_calibration_error,
    fit_temperature,
    negative_log_likelihood,
    recorded_logits,
    reliability_bins,
    set_temperature,
    succession_temperature,
)
from nmkit.metrics.bootstrap import bootstrap_interval  # noqa: E402
from nmkit.models import load_bundle  # noqa: E402
from nmkit.report.figures import reliability_figure  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "calibration"
USER = "benchmarks/calibration.py"
TEST_SEEDS = {key: seed(key, "test", USER) for key in ("qc", "bonescan", "rds")}
VALIDATION_SEEDS = {key: seed(key, "validation", USER) for key in ("bonescan", "rds")}
N_EXTRA = {"bonescan": 200, "rds": 400}  # scans / radiographs of the extra validation set and of the test set
MODELS = {"qc": (ROOT / "src/nmkit/workflows/qc/default_model/qc-default.pt", ROOT / "configs/qc-default.yaml"),
          "bonescan": (ROOT / "src/nmkit/workflows/bonescan/default_model/bonescan-default.pt",
                       ROOT / "configs/bonescan-fast.yaml"),
          "rds": (ROOT / "src/nmkit/workflows/rds/default_model/rds-cls-default.pt", ROOT / "configs/rds-cls-fast.yaml")}


def qc_sets(config: dict) -> dict[str, tuple]:
    """(images, labels) of the validation split (seed and permutation as FloodDataModule) and a fresh test set."""
    from nmkit.workflows.qc.data import make_phantom_set

    data, seed = config["data"], int(config["seed"])
    images, records = make_phantom_set(data["phantom"], seed)
    order = np.random.default_rng(seed).permutation(len(records))
    val = order[:int(round(len(records) * float(data.get("val_fraction", 0.3))))]
    labels = np.array([r["label"] for r in records])
    val_set = (images[val], labels[val])
    del images
    test_images, test_records = make_phantom_set(data["phantom"] | {"n": 600}, TEST_SEEDS["qc"])
    return {"val": val_set, "test": (test_images, np.array([r["label"] for r in test_records]))}


def qc_logits(model, images: np.ndarray) -> np.ndarray:
    from nmkit.workflows.qc.analyse import defect_probabilities

    with recorded_logits(model) as out:
        defect_probabilities(model, images)
    return torch.cat(out).double().numpy()


def bonescan_sets(config: dict) -> dict[str, tuple]:
    """Knees: the config's validation patients and those of fresh validation scans; test scans (a unit of the
    bootstrap is a scan: both its knees)."""
    from nmkit.workflows.bonescan.data import load_knee_data, patient_split, phantom_knees, spec_from_config

    data, config_seed = config["data"], int(config["seed"])
    inputs, grades, scans = load_knee_data(data, config_seed)
    _, val = patient_split(scans, float(data.get("val_fraction", 0.2)), config_seed)
    spec = spec_from_config(data["phantom"])
    extra_inputs, extra_grades, _ = phantom_knees(spec, N_EXTRA["bonescan"], VALIDATION_SEEDS["bonescan"])
    test_inputs, test_grades, test_scans = phantom_knees(spec, N_EXTRA["bonescan"], TEST_SEEDS["bonescan"])
    return {"val": (np.concatenate([inputs[val], extra_inputs]), np.concatenate([grades[val], extra_grades])),
            "n_val_own": len(val), "test": (test_inputs, test_grades), "test_units": test_scans}


def bonescan_logits(model, inputs: np.ndarray) -> np.ndarray:
    from nmkit.workflows.bonescan.analyse import grade_probabilities

    with recorded_logits(model) as out:
        grade_probabilities(model, np.ascontiguousarray(inputs, dtype=np.float32))
    return torch.cat(out).double().numpy()


def rds_sets(config: dict) -> dict[str, tuple]:
    """The lung classifier's inputs as in training (true lungs widened by the margin): the validation group of
    the training phantom set and fresh validation phantoms drawn as in training; test phantoms drawn so too."""
    from nmkit.workflows.rds.data import build_set, classifier_input

    data = config["data"]

    def inputs(part) -> tuple[np.ndarray, np.ndarray]:
        masked = classifier_input(part.images, part.masks, data.get("input", "lungs"), int(data.get("lung_margin", 0)))
        return masked.astype(np.float32), part.rds.astype(np.int64)

    def fresh(seed_of: dict) -> tuple[np.ndarray, np.ndarray]:
        return inputs(build_set(data | {"phantom": data["phantom"] | {"n": N_EXTRA["rds"]}}, seed_of["rds"]))

    own, extra = inputs(build_set(data, int(config["seed"])).subset("val")), fresh(VALIDATION_SEEDS)
    return {"val": (np.concatenate([own[0], extra[0]]), np.concatenate([own[1], extra[1]])), "n_val_own": len(own[1]),
            "test": fresh(TEST_SEEDS)}


@torch.no_grad()
def rds_logits(model, inputs: np.ndarray) -> np.ndarray:
    model.eval()
    return torch.cat([model(torch.from_numpy(inputs[i:i + 64])[:, None])
                      for i in range(0, len(inputs), 64)]).double().numpy()


SETS = {"qc": (qc_sets, qc_logits), "bonescan": (bonescan_sets, bonescan_logits), "rds": (rds_sets, rds_logits)}


def calibrate(key: str, install: bool) -> dict:
    started_on = machine()
    bundle, config_path = MODELS[key]
    make_sets, logits_of = SETS[key]
    model, info = load_bundle(bundle)
    set_temperature(model, 1.0)  # the raw logits, whatever the bundle holds
    sets = make_sets(load_config(config_path))
    val_logits, val_labels = logits_of(model, sets["val"][0]), sets["val"][1]
    test_logits, test_labels = logits_of(model, sets["test"][0]), sets["test"][1]
    fitted = fit_temperature(val_logits, val_labels)
    method = "validation NLL" if fitted is not None else "rule of succession (validation all right)"
    temperature = fitted if fitted is not None else succession_temperature(val_logits)
    softmax = lambda z, t: torch.from_numpy(z / t).softmax(dim=1).numpy()  # noqa: E731
    before, after = softmax(test_logits, 1.0), softmax(test_logits, temperature)
    units = sets.get("test_units", np.arange(len(test_labels)))
    n_own = sets.get("n_val_own", len(val_labels))
    row = {"workflow": key, "bundle": bundle.name, "machine": started_on, "n_val": int(len(val_labels)), "n_val_own": int(n_own),
           "validation_seed": VALIDATION_SEEDS.get(key), "n_test": int(len(test_labels)), "test_seed": TEST_SEEDS[key],
           "temperature": round(temperature, 4), "fitted": True, "method": method,
           "val_nll_before": round(negative_log_likelihood(val_logits, val_labels), 4),
           "val_nll_after": round(negative_log_likelihood(val_logits, val_labels, temperature), 4),
           "val_accuracy": round(float((val_logits.argmax(1) == val_labels).mean()), 4),
           "test_ece_before": ece_interval(before, test_labels, units),
           "test_ece_after": ece_interval(after, test_labels, units),
           "test_accuracy": round(float((after.argmax(1) == test_labels).mean()), 4),
           "reliability_after": reliability_bins(after, test_labels)}
    RESULTS.mkdir(parents=True, exist_ok=True)
    reliability_figure({"before (T = 1)": reliability_bins(before, test_labels),
                        f"after (T = {temperature:.2f})": row["reliability_after"]},
                       RESULTS / f"{key}_reliability.png", f"{key}: reliability on the test set (n = {len(test_labels)})")
    if install:
        blob = torch.load(bundle, map_location="cpu", weights_only=True)
        blob["info"]["temperature"] = temperature
        blob["info"]["calibration"] = {k: v for k, v in row.items() if k != "reliability_after"} | {
            "fitted_on": fitted_on(row), "made_with": "python benchmarks/calibration.py --install"}
        with atomic_path(bundle) as tmp:
            torch.save(blob, tmp)
    return row


def ece_interval(probabilities: np.ndarray, labels: np.ndarray, units: np.ndarray) -> dict:
    """Test ECE and its 95 % bootstrap interval, resampling whole units (a bonescan scan: both its knees)."""
    groups = [np.flatnonzero(units == u) for u in np.unique(units)]
    found = bootstrap_interval(lambda idx: expected_calibration_error(
        probabilities[np.concatenate([groups[i] for i in idx])], labels[np.concatenate([groups[i] for i in idx])]),
        len(groups), resamples=1000)
    return {"estimate": round(found.estimate, 4), "low": round(found.low, 4), "high": round(found.high, 4)}


def fitted_on(row: dict) -> str:
    extra = (f" and {row['n_val'] - row['n_val_own']} of fresh validation phantoms (seed {row['validation_seed']})"
             if row.get("validation_seed") is not None else "")
    return f"{row['n_val_own']} of the training config's validation split{extra}"


EF_LEVEL = 0.95
EF_VAL_SEED, EF_VAL_N = seed("gbp", "validation", USER), 60  # phantoms the interval's scale is fitted on
EF_TEST_SEED, EF_TEST_N = seed("gbp", "test", USER), 80  # benchmarks/gbp.py's test studies


def _ef_runs(model, info, seed: int, n: int) -> list[tuple[float, float, float]]:
    """(EF, SD of the perturbed EFs, true EF) of ``n`` phantom studies of set ``seed``."""
    from nmkit.io import Image
    from nmkit.phantoms.gated import GatedSpec, generate_gated_studies
    from nmkit.workflows.gbp.analyse import GatedEF

    out = []
    for start in range(0, n, 10):
        for i, study in enumerate(generate_gated_studies(GatedSpec(), min(10, n - start), seed, start=start)):
            image = Image(study.frames, (study.pixel_mm, study.pixel_mm), "NM", {"gated": True},
                          Path(f"study_{start + i}.npy"))
            analysis = GatedEF(image).analyze(model, info)
            out.append((analysis.results_data().ef, float(np.std(analysis.ef_spread)), study.true_ef))
    return out


MIN_SPREADS = (0.5, 1.0, 2.0, 4.0, 1000.0)  # floors of the perturbation SD tried; 1000: one width for all


def conformal_scale(val: np.ndarray, min_spread: float) -> float:
    """The split-conformal factor: the ceil((n + 1) level)-th smallest |EF - true| / max(SD, floor) of ``val``."""
    scores = np.abs(val[:, 0] - val[:, 2]) / np.maximum(val[:, 1], min_spread)
    rank = min(len(scores), int(np.ceil((len(scores) + 1) * EF_LEVEL)))
    return float(np.sort(scores)[rank - 1])


def ef_coverage(install: bool) -> dict:
    """Choose the SD floor (narrowest median interval) and fit the split-conformal scale on validation phantoms;
    measure the coverage on test phantoms. Per-study (EF, SD, true EF) go to ef_studies.json."""
    from nmkit.metrics.bootstrap import bootstrap_interval
    from nmkit.workflows.gbp.analyse import default_model_path, load_gbp_model

    started_on = machine()
    model, info = load_gbp_model()
    info = {k: v for k, v in info.items() if k != "ef_interval"}
    val = np.array(_ef_runs(model, info, EF_VAL_SEED, EF_VAL_N))
    widths = {floor: float(np.median(2 * conformal_scale(val, floor) * np.maximum(val[:, 1], floor)))
              for floor in MIN_SPREADS}
    min_spread = min(widths, key=widths.get)
    scale = conformal_scale(val, min_spread)
    test = np.array(_ef_runs(model, info, EF_TEST_SEED, EF_TEST_N))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "ef_studies.json").write_text(json.dumps({"columns": ["ef", "perturbed_sd", "true_ef"],
                                                         "validation": val.round(4).tolist(),
                                                         "test": test.round(4).tolist()}))
    half = scale * np.maximum(test[:, 1], min_spread)
    inside = (np.abs(test[:, 0] - test[:, 2]) <= half).astype(np.float64)
    coverage = bootstrap_interval(lambda idx: float(inside[idx].mean()), len(inside))
    if install:
        bundle = default_model_path()
        blob = torch.load(bundle, map_location="cpu", weights_only=True)
        blob["info"]["ef_interval"] = {"level": EF_LEVEL, "scale": round(scale, 4), "min_spread": min_spread,
                                       "fitted_on": f"{EF_VAL_N} validation phantoms, seed {EF_VAL_SEED}",
                                       "made_with": "python benchmarks/calibration.py --install"}
        with atomic_path(bundle) as tmp:
            torch.save(blob, tmp)
    return {"machine": started_on, "n_val": len(val), "n": len(test), "nominal": EF_LEVEL,
            "sd_error_correlation": round(float(np.corrcoef(val[:, 1], np.abs(val[:, 0] - val[:, 2]))[0, 1]), 2), "scale": round(scale, 4),
            "min_spread": min_spread, "val_median_widths": {str(k): round(v, 2) for k, v in widths.items()},
            "coverage": round(coverage.estimate, 4), "coverage_ci95": [round(coverage.low, 4), round(coverage.high, 4)],
            "median_width": round(float(np.median(2 * half)), 2),
            "mean_abs_error": round(float(np.mean(np.abs(test[:, 0] - test[:, 2]))), 2)}


def shown_temperature(row: dict) -> str:
    if not row.get("fitted", True):
        return "1 (not fitted: the validation split is all right)"
    return f"{row['temperature']:.3f}" + (" (rule of succession)" if "succession" in row.get("method", "") else "")


def shown_ece(value: dict | float) -> str:
    """``0.0123 (0.0080-0.0190)``; a row saved before the intervals has the estimate only."""
    if isinstance(value, dict):
        return f"{value['estimate']:.4f} ({value['low']:.4f}-{value['high']:.4f})"
    return f"{value:.4f}"


def shown_validation(row: dict) -> str:
    if row.get("validation_seed") is None:
        return str(row["n_val"])
    return f"{row['n_val_own']} + {row['n_val'] - row['n_val_own']} (seed {row['validation_seed']})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--install", action="store_true", help="Write each temperature into the shipped bundle.")
    parser.add_argument("--skip-ef", action="store_true", help="Only the classifiers.")
    parser.add_argument("--only", nargs="*", default=list(MODELS), help="Classifiers to calibrate (none: keep the "
                                                                        "saved rows).")
    args = parser.parse_args()
    fresh = {key: calibrate(key, args.install) for key in args.only}
    ef = None if args.skip_ef else ef_coverage(args.install)
    saved = RESULTS / "calibration.json"  # read only now, so runs of different parts side by side all count
    previous = json.loads(saved.read_text()) if saved.is_file() else {"classifiers": [], "ef_interval": None}
    rows = [fresh.get(key) or next((r for r in previous["classifiers"] if r["workflow"] == key), None) for key in MODELS]
    rows = [r for r in rows if r]
    ef = ef or previous["ef_interval"]
    RESULTS.mkdir(parents=True, exist_ok=True)
    saved.write_text(json.dumps({"classifiers": rows, "ef_interval": ef}, indent=1))
    lines = ["| classifier | validation n: own split + fresh | T | val NLL before / after | test n (seed) "
             "| test ECE before (95 % CI) | test ECE after (95 % CI) | test accuracy | reliability |",
             "|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['workflow']} ({r['bundle']}) | {shown_validation(r)} | {shown_temperature(r)} | "
              f"{r['val_nll_before']:.4f} / {r['val_nll_after']:.4f} | {r['n_test']} ({r.get('test_seed', TEST_SEEDS['qc'])})"
              f" | {shown_ece(r['test_ece_before'])} | {shown_ece(r['test_ece_after'])} | {r['test_accuracy']:.4f} | "
              f"benchmarks/results/calibration/{r['workflow']}_reliability.png |" for r in rows]
    ef_text = "" if ef is None else (
        f"\n**EF interval (gbp).** `nmkit gbp ef` reports EF with a {100 * ef['nominal']:.0f} % interval: EF +- "
        f"k x max(SD, floor), SD the spread of the EF over ROI boundary perturbations (ED and ES ROIs each eroded, "
        f"kept, dilated by 1 px), k the split-conformal factor ({ef['scale']:.2f}) fitted on {ef['n_val']} validation "
        f"phantoms (seed {EF_VAL_SEED}); the floor ({ef.get('min_spread', 0.5):g} EF points; 1000 means one width for "
        f"every study) chosen there from {', '.join(f'{m:g}' for m in MIN_SPREADS)} as the narrowest median interval "
        f"(validation median widths {ef.get('val_median_widths', {})}); both stored in the gbp bundle's "
        f"`info[\"ef_interval\"]`. "
        f"On {ef['n']} test phantoms (seed {EF_TEST_SEED}): coverage {100 * ef['coverage']:.1f} % "
        f"(95 % bootstrap CI {100 * ef['coverage_ci95'][0]:.1f}-{100 * ef['coverage_ci95'][1]:.1f} %) against the nominal "
        f"{100 * ef['nominal']:.0f} % (target: within 5 points); median width {ef['median_width']:.1f} EF points; "
        f"mean |EF error| {ef['mean_abs_error']:.2f} points. The perturbation SD hardly tracks the error (its "
        f"correlation with |EF error| on validation: {ef.get('sd_error_correlation', 'n/a')}), so k and the floor do "
        f"most of the work: an interval that covers, not one that says which study is harder.\n")
    runs = [(r["workflow"], r.get("machine")) for r in rows] + ([("EF interval", ef.get("machine"))] if ef else [])
    machines = "; ".join(f"{', '.join(k for k, m in runs if m == each)}: {each}"
                         for each in dict.fromkeys(m or machine() for _, m in runs))
    body = f"""## calibration: temperature scaling and the EF interval

Temperature scaling (Guo et al. 2017) of each shipped classifier: T fitted by NLL on validation data only: the
model's own validation split (rebuilt from its training config: same phantoms, seed and split), for bonescan and
rds joined by a fresh validation set drawn as in training from the ledger's validation seed (benchmarks/sets.py):
a temperature fitted by NLL needs examples the model gets wrong, and their own splits hold few (bonescan's none:
there the likelihood has no finite optimum, it keeps falling as T -> 0). Where even the joined set is all right (bonescan:
the grader is never wrong on these phantoms, yet its mean confidence is below 0.9), T is set so the mean
validation confidence is (n + 1) / (n + 2), Laplace's rule-of-succession estimate of an accuracy seen as n of n
(`nmkit.metrics.calibration.succession_temperature`): as sure as the validation set shows, no surer; what this
means on real scans, where the grader can be wrong, no phantom says. ECE (15 bins, top label) with its 95 % bootstrap
interval (1000 resamples of test units; a bonescan unit is a scan, both its knees) on a test set drawn as in
training, never trained on nor fitted on (qc: 600 floods, seed {TEST_SEEDS['qc']}; bonescan: the knees of
{N_EXTRA['bonescan']} scans, seed {TEST_SEEDS['bonescan']}; rds: {N_EXTRA['rds']} radiographs, seed
{TEST_SEEDS['rds']}, lung-masked with the true lungs as in training). Target: test ECE <= 0.05. T is stored in
each bundle (`info["temperature"]`) and applied on loading, so every probability nmkit prints is the calibrated
one; accuracy does not change.

{chr(10).join(lines)}
{ef_text}
Command: `PYTHONPATH=src python benchmarks/calibration.py --install` (qc's row here: `--only qc --skip-ef`, the
same temperature as the one installed). Machine: {machines}.
"""
    write_section("calibration", body)
    print(body)


if __name__ == "__main__":
    main()
