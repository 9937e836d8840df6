"""bonescan benchmark: phantom rate, knee localisation (anatomy vs the plan's heuristic), the real NM1 scan,
grading of unseen phantom scans by the given model and the plan's SimpleCNN, predict latency, the model card.

    .venv/bin/python benchmarks/bonescan.py                  # train configs/bonescan-fast.yaml, then measure
    .venv/bin/python benchmarks/bonescan.py --model src/nmkit/workflows/bonescan/default_model/bonescan-default.pt
    .venv/bin/python benchmarks/bonescan.py --model M.pt --simplecnn runs/bonescan-simplecnn-fast/model.pt
    .venv/bin/python benchmarks/bonescan.py --install        # ... and ship the model as the package default
    .venv/bin/python benchmarks/bonescan.py --smoke --out /tmp/x --model M.pt    # a tiny run

Targets carry 95 % bootstrap intervals over the test scans (a scan's two knees stay together). Training times come
from this run or, for a given model file, from benchmarks/results/training.json (by SHA-256). Writes the `bonescan`
section of BENCHMARKS.md and benchmarks/results/bonescan.json; the model card when the model is the shipped one
or with --install.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from common import (add_output_options, command, install_models, is_shipped, machine, outputs,  # noqa: E402
                    train_or_take, write_section)
from sets import seed  # noqa: E402

import numpy as np  # noqa: E402

from nmkit.io import load_image  # noqa: E402
from nmkit.metrics.agreement import cohen_kappa  # noqa: E402
from nmkit.metrics.bootstrap import Interval, bootstrap_interval  # noqa: E402
from nmkit.io.matlab import read_bone_mat  # noqa: E402
from nmkit.phantoms.bone import BoneSpec, generate_bone_scan, read_bone_manifest, write_bone_set  # noqa: E402
from nmkit.workflows.bonescan.analyse import KneeDJD, load_bonescan_model  # noqa: E402
from nmkit.workflows.bonescan.data import NUM_GRADES  # noqa: E402
from nmkit.workflows.bonescan.evaluate import evaluate_folder  # noqa: E402
from nmkit.workflows.bonescan.knees import find_knees  # noqa: E402

TEST_SEED = seed("bonescan", "test", "benchmarks/bonescan.py")  # the ledger, benchmarks/sets.py
TARGETS = {"localisation": 0.98, "qwk": 0.90, "accuracy": 0.85}
CONFIG = ROOT / "configs" / "bonescan-fast.yaml"
TARGET = ROOT / "src" / "nmkit" / "workflows" / "bonescan" / "default_model"


def phantom_rate(n: int = 10) -> float:
    start = time.perf_counter()
    for i in range(n):
        generate_bone_scan(BoneSpec(), 1, i)
    return n / (time.perf_counter() - start)


def real_scan_knees() -> list[dict] | None:
    try:
        from pydicom.data import get_testdata_file
    except ImportError:
        return None
    path = get_testdata_file("JPEG-LL.dcm")
    return [k.as_dict() for k in find_knees(load_image(path).array[0], source=path)] if path else None


def knee_columns(data: Path) -> dict[str, float]:
    """Mean true knee columns of the test scans and the plan heuristic's crop centres (the same on every scan)."""
    records = read_bone_manifest(data / "manifest.csv")
    plan = find_knees(read_bone_mat(data / records[0]["path"]).anterior, "plan")
    return {"true_right": float(np.mean([r["right_knee_col"] for r in records])),
            "true_left": float(np.mean([r["left_knee_col"] for r in records])),
            "plan_right": float(plan[0].col), "plan_left": float(plan[1].col)}


def intervals(result: dict) -> dict[str, dict]:
    """95 % bootstrap intervals over the test scans of the localisation rate, knee accuracy and QWK."""
    localised = np.array(result["per_scan"]["localised"], dtype=float)
    knees = result["per_knee"]
    scan, true, predicted = (np.array(knees[k]) for k in ("scan", "true", "predicted"))
    by_scan = [np.flatnonzero(scan == i) for i in range(len(localised))]

    def knees_of(idx: np.ndarray) -> np.ndarray:
        return np.concatenate([by_scan[i] for i in idx])

    def accuracy(idx: np.ndarray) -> float:
        k = knees_of(idx)
        return float(np.mean(true[k] == predicted[k]))

    def qwk(idx: np.ndarray) -> float:  # undefined when a resample holds one grade only: then 1 if all agree, else 0
        k = knees_of(idx)
        kappa = cohen_kappa(true[k], predicted[k], NUM_GRADES, weights="quadratic")
        return kappa if np.isfinite(kappa) else float(np.all(true[k] == predicted[k]))

    n = len(localised)
    return {"localisation": bootstrap_interval(lambda idx: float(localised[idx].mean()), n).as_dict(),
            "accuracy": bootstrap_interval(accuracy, n).as_dict(),
            "qwk": bootstrap_interval(qwk, n, resamples=500).as_dict()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=200, help="unseen phantom test scans")
    parser.add_argument("--model", type=Path, default=None, help="model bundle (default: train configs/bonescan-fast.yaml)")
    parser.add_argument("--simplecnn", type=Path, default=None, help="a trained bonescan-simplecnn-* bundle")
    parser.add_argument("--install", action="store_true", help="ship the model as the package default")
    add_output_options(parser)
    args = parser.parse_args()
    out, benchmarks = outputs(args)
    n = 4 if args.smoke else args.n

    started_on = machine()
    bundle, training = train_or_take(CONFIG, args.model, out, started_on)
    results: dict = {"machine": started_on, "command": command("bonescan.py"), "n_test_scans": n,
                     "phantom_scans_per_s": None if args.smoke else round(phantom_rate(), 1),
                     "real_nm1_knees": real_scan_knees(), "model_file": str(bundle), "training": training}
    models = {"model": bundle, "plan SimpleCNN": args.simplecnn} if args.simplecnn else {"model": bundle}
    with tempfile.TemporaryDirectory() as tmp:
        data = write_bone_set(Path(tmp) / "test", BoneSpec(), n, TEST_SEED)
        results["knee_columns"] = knee_columns(data)
        for label, path in models.items():
            model, info = load_bonescan_model(path)
            start = time.perf_counter()
            result = evaluate_folder(data, model=model, info=info, per_item=True)
            result["seconds"] = round(time.perf_counter() - start, 1)
            result["model_name"] = info["model_name"]
            result["intervals"] = intervals(result)
            results[label] = result
        model, info = load_bonescan_model(bundle)
        scan = data / "scans" / "scan_00000.mat"
        KneeDJD(scan).analyze(model, info)
        start = time.perf_counter()
        for _ in range(5):
            KneeDJD(scan).analyze(model, info)
        results["predict_latency_s"] = round((time.perf_counter() - start) / 5, 3)

    out.mkdir(parents=True, exist_ok=True)
    (out / "bonescan.json").write_text(json.dumps(results, indent=2))
    body = render(results, models)
    write_section("bonescan", body, benchmarks)
    if args.install or (is_shipped(bundle, TARGET) and not args.out):
        install_models(TARGET, {"bonescan-default.pt": bundle}, card(info, results))
    print(body)


def verdict(d: dict, target: float) -> str:
    """met: the whole interval reaches the target; not shown: only the estimate does; else missed."""
    i = Interval(**d)
    return "met" if i.low >= target else "not shown (its interval crosses)" if i.estimate >= target else "missed"


def render(results: dict, models: dict) -> str:
    main_result = results["model"]
    iv = main_result["intervals"]
    rows = [f"| {label}: {r['model_name']} | {r['accuracy']:.3f} | {r['qwk'] if r['qwk'] is None else round(r['qwk'], 3)} | "
            f"{r['macro_f1']:.3f} | {r['n_knees']} |" for label, r in ((k, results[k]) for k in models)]
    real = results["real_nm1_knees"]
    cols = results["knee_columns"]
    rate = results["phantom_scans_per_s"]
    training = results["training"]
    return f"""## bonescan: knee DJD grade on whole-body bone scans

Command: `{results['command']}` on {results['machine']}.
Test set: {results['n_test_scans']} unseen phantom scans (seed {TEST_SEED}, benchmarks/sets.py); knees graded 0-4, code -1 knees
excluded. Intervals: 95 % bootstrap over the scans (2,000 resamples, QWK 500; a scan's knees stay together).

{'' if rate is None else f'- Phantom generation: {rate} scans/s.{chr(10)}'}- Training: {'not recorded for this model file (trained before the benchmark recorded times)' if training is None else
             f"{training['seconds'] / 60:.1f} min on {training['machine']}"}.
- Knee centres within 10 px (both knees of a scan): anatomy {Interval(**iv['localisation']).text('.1f', 100, ' %')}
  (target >= {100 * TARGETS['localisation']:.0f} %: {verdict(iv['localisation'], TARGETS['localisation'])}), the plan's heuristic
  {100 * main_result['knee_localisation_plan_within_10px']:.1f} % (its crop centres sit at columns {cols['plan_right']:.0f} and
  {cols['plan_left']:.0f}, while the test scans' knees lie at columns {cols['true_right']:.1f} and {cols['true_left']:.1f} on average, so its crops
  hold the knees off-centre); mean error {main_result['mean_knee_error_px']} px.
- Real NM1 scan (pydicom-data JPEG-LL.dcm): {'not installed' if real is None else
  ', '.join(f"{k['side']} knee at row {k['row']}, col {k['col']}" for k in real)}.
- Predict latency (load, find knees, grade both): {results['predict_latency_s']} s per scan.

| model | accuracy | QWK | macro-F1 | knees |
|---|---|---|---|---|
{chr(10).join(rows)}

Targets on the phantom test set: QWK >= {TARGETS['qwk']}: {verdict(iv['qwk'], TARGETS['qwk'])} ({Interval(**iv['qwk']).text('.3f')});
accuracy >= {TARGETS['accuracy']}: {verdict(iv['accuracy'], TARGETS['accuracy'])} ({Interval(**iv['accuracy']).text('.3f')}).
"""


def card(info: dict, results: dict) -> str:
    cfg, r = info.get("config") or {}, results["model"]
    training = results["training"]
    model = cfg.get("model", {})
    phantom = cfg.get("data", {}).get("phantom", {})
    return f"""# bonescan-default: the knee DJD grader shipped with nmkit

**Trained on phantoms, not patients.** It grades periarticular knee uptake on whole-body Tc-99m bone
scans in five grades (normal, minimal, mild, moderate, severe DJD). Phantom knee uptake is drawn with
clearly separated grades, so its near-perfect phantom scores say nothing about accuracy on patients;
validate on your own graded studies, and retrain on them, before any use.

- Architecture: `{info['model_name']}` ({', '.join(f'{k}={v}' for k, v in model.items() if k != 'name')}), {info.get('n_parameters') or sum(p.numel() for p in load_bonescan_model(results['model_file'])[0].parameters()):,} parameters. Input: a
  128 x 128 anterior-view knee crop divided by the mean counts of the body (the left knee mirrored, medial side on
  the image right), from `nmkit.workflows.bonescan.data.knee_inputs`.
- Output: softmax probabilities of the 5 grades; the grade is the most probable one.
- Trained with: `nmkit train configs/bonescan-fast.yaml` (what `python benchmarks/bonescan.py --install` runs), seed
  {cfg.get('seed')}, {cfg.get('trainer', {}).get('max_epochs')} epochs, {cfg.get('optim', {}).get('name')} lr {cfg.get('optim', {}).get('lr')}; training time: {'not recorded for this model file' if training is None else f"{training['seconds'] / 60:.1f} min on {training['machine']}"}.
- Data: {phantom.get('n')} phantom scans from `nmkit.phantoms.bone` (seed {cfg.get('seed')}; 1450-1950 mm patients, build, position
  and 1.5-4 M counts varied; distractors: injection site, fracture, metastases, bladder), knees cropped where the
  anatomical knee finder puts them; patient-level split, {100 * cfg.get('data', {}).get('val_fraction', 0.2):.0f} % of patients for validation.
- Validation at the end of training: {', '.join(f'{k} {v:.3f}' for k, v in sorted((info.get('final_metrics') or {}).items())
                                         if k.startswith('val')) or 'not recorded in the bundle'}.

## Test set ({r['n_scans']} phantom scans, seed {TEST_SEED}, never used in training or for a choice)

`{results['command']}` (95 % bootstrap intervals over the scans)

| knees | accuracy | QWK | macro-F1 | knee centres within 10 px (scans) |
|---|---|---|---|---|
| {r['n_knees']} | {Interval(**r['intervals']['accuracy']).text('.3f')} | {Interval(**r['intervals']['qwk']).text('.3f')} | {r['macro_f1']:.3f} | {Interval(**r['intervals']['localisation']).text('.1f', 100, ' %')} (mean error {r['mean_knee_error_px']} px) |

## Limits

- Real scans differ from phantoms (collimator, scatter, patient positioning, other disease near the
  knee, prostheses); the model has never seen a patient.
- Input assumes the study's grid, about 2.3 mm pixels (1024 x 256 whole-body views).
- Machine that made this card: {results['machine']}.
"""


if __name__ == "__main__":
    main()
