"""QC benchmark: phantom rate, fast-config training time, CNN vs ideal observer, `qc check` latency.

    .venv/bin/python benchmarks/qc.py                      # train configs/qc-fast.yaml, then measure
    .venv/bin/python benchmarks/qc.py --model runs/qc-fast/model.pt   # measure an existing model
    .venv/bin/python benchmarks/qc.py --rate-only          # re-measure the phantom rate only, keep the rest

Every AUC, the CNN's accuracy and every CNN - observer AUC difference carry a 95 % bootstrap interval over the test
floods (paired: both score the same floods; defective and normal floods resampled apart); a difference whose
interval crosses zero reads "no difference shown". Training times come from this run, or, for a given model file,
from benchmarks/results/training.json (the run that made that file, by SHA-256).
Writes the `qc` section of BENCHMARKS.md and benchmarks/results/qc.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from common import (add_output_options, auc_interval, command, machine, outputs, train_or_take,  # noqa: E402
                    write_section)  # noqa: E402
from sets import seed  # noqa: E402

from nmkit.io import Image  # noqa: E402
from nmkit.metrics.bootstrap import Interval, bootstrap_interval, verdict  # noqa: E402
from nmkit.models import load_bundle  # noqa: E402
from nmkit.phantoms.flood import FloodSpec, generate_floods  # noqa: E402
from nmkit.workflows.qc.analyse import FloodQC  # noqa: E402
from nmkit.workflows.qc.evaluate import evaluate_floods  # noqa: E402

TEST_SEED = seed("qc", "test", "benchmarks/qc.py")  # the ledger, benchmarks/sets.py


def phantom_rate(n: int = 2000, repeats: int = 7) -> dict[str, float]:
    """Floods/s of ``generate_floods`` over ``repeats`` sets of ``n`` paper floods (all cores): median, min, max.

    A first set of the same size is made and dropped, so the figure is the generator's, not the cost of the
    operating system's first touch of the memory the 2,000 floods fill (on this VM, up to 0.5 ms a flood).
    The wall-clock rate of a shared VM swings by a third from set to set, so the spread is kept, with the
    CPU time one flood costs on one thread (``cpu_ms``): that tells a slow host from a slow generator.
    """
    spec = FloodSpec.paper()
    generate_floods(spec, n, seed=100)  # warm-up (timing seeds: benchmarks/sets.py)
    rates = []
    for r in range(repeats):
        start = time.perf_counter()
        generate_floods(spec, n, seed=101 + r)
        rates.append(n / (time.perf_counter() - start))
    start = time.process_time()
    generate_floods(spec, n, seed=100, workers=1)  # the warm-up's floods again: memory already touched
    cpu_ms = (time.process_time() - start) / n * 1000
    return {"median": statistics.median(rates), "min": min(rates), "max": max(rates), "cpu_ms": cpu_ms}


def rate_rows(rate: dict[str, float]) -> dict[str, float]:
    """The phantom rate as qc.json keeps it (``phantom_floods_per_s`` is the median)."""
    return {"phantom_floods_per_s": rate["median"], "phantom_floods_per_s_range": [rate["min"], rate["max"]],
            "phantom_cpu_ms_per_flood": rate["cpu_ms"]}


def check_latency(model, info, repeats: int = 20) -> float:
    images, _ = generate_floods(dataclasses.replace(FloodSpec(), counts=300.0, shape=(256, 256), fov="circular"), 1, seed=5)
    image = Image(images[0], pixel_spacing=(2.065, 2.065), modality="NM", path=Path("bench.npy"))
    FloodQC(image).analyze(model, info)
    start = time.perf_counter()
    for _ in range(repeats):
        FloodQC(image).analyze(model, info)
    return (time.perf_counter() - start) / repeats * 1000


def level_intervals(records: list[dict], per_flood: dict) -> dict:
    """95 % bootstrap intervals over one level's floods: the CNN's AUC and accuracy, the observer's AUC, and
    CNN - observer AUC on all floods and on each alpha's defects against all normal floods (paired)."""
    labels, cnn, observer = per_flood["label"], per_flood["cnn"], per_flood["observer"]
    correct = ((cnn >= 0.5) == (labels == 1)).astype(float)
    alphas = np.array([r.get("alpha") if y == 1 else None for r, y in zip(records, labels)], dtype=object)
    by_alpha = {}
    for alpha in sorted({a for a in alphas if a is not None}):
        subset = (alphas == alpha) | (labels == 0)
        by_alpha[f"{alpha:g}"] = None if (alphas == alpha).sum() < 2 else auc_interval(  # too few (smoke runs)
            labels[subset], cnn[subset], observer[subset]).as_dict()
    return {"cnn_auc": auc_interval(labels, cnn).as_dict(), "observer_auc": auc_interval(labels, observer).as_dict(),
            "cnn_minus_observer_auc": auc_interval(labels, cnn, observer).as_dict(),
            "accuracy": bootstrap_interval(lambda idx: float(correct[idx].mean()), len(correct)).as_dict(),
            "cnn_minus_observer_auc_by_alpha": by_alpha}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=str(ROOT / "configs" / "qc-fast.yaml"))
    parser.add_argument("--model", help="evaluate this bundle instead of training the config")
    parser.add_argument("--n-test", type=int, default=2000)
    parser.add_argument("--counts", type=float, nargs="+", default=[98.0, 392.0, 1568.0])
    parser.add_argument("--rate-only", action="store_true",
                        help="re-measure the phantom rate only; keep the other figures of benchmarks/results/qc.json")
    add_output_options(parser)
    args = parser.parse_args()
    torch.set_num_threads(max(torch.get_num_threads(), 1))
    out, benchmarks = outputs(args)
    if args.smoke:
        args.n_test, args.counts = 16, [98.0]
    if args.rate_only:
        rows = json.loads((out / "qc.json").read_text())
        rows["phantom_rate_machine"] = machine()
        rows |= rate_rows(phantom_rate())
        (out / "qc.json").write_text(json.dumps(rows, indent=2))
        write_section("qc", render(rows), benchmarks)
        print(render(rows))
        return

    rate = phantom_rate(n=20, repeats=2) if args.smoke else phantom_rate()
    rows = {"machine": machine(), **rate_rows(rate), "command": command("qc.py"),
            "args": {"config": shown_path(args.config), "model": args.model, "n_test": args.n_test, "counts": args.counts}}
    bundle, rows["training"] = train_or_take(Path(args.config), args.model, out, rows["machine"])
    model, info = load_bundle(bundle)
    info["model_path"] = str(bundle)
    rows["model"] = str(bundle)
    rows["model_config"] = (info.get("config") or {}).get("source")
    rows["levels"] = []
    for counts in args.counts:
        spec = dataclasses.replace(FloodSpec.paper(), counts=counts)
        images, records = generate_floods(spec, args.n_test, seed=TEST_SEED)
        result = evaluate_floods(images, records, model, info, per_flood=True)
        rows["levels"].append({"counts": counts, **{k: result[k] for k in (
            "accuracy", "sensitivity", "specificity", "auc", "observer_auc", "observer_accuracy", "by_alpha")},
            "intervals": level_intervals(records, result["per_flood"])})
    rows["check_ms"] = check_latency(model, info, repeats=1 if args.smoke else 20)
    out.mkdir(parents=True, exist_ok=True)
    (out / "qc.json").write_text(json.dumps(rows, indent=2))
    write_section("qc", render(rows), benchmarks)
    print(render(rows))


def shown_path(path: str) -> str:
    return str(Path(path).relative_to(ROOT)) if Path(path).is_relative_to(ROOT) else path


def ci(d: dict | None, fmt: str = ".4f") -> str:
    """``0.8643 (0.8489 to 0.8790)``: an estimate and its 95 % interval."""
    return "-" if d is None else f"{d['estimate']:{fmt}} ({d['low']:{fmt}} to {d['high']:{fmt}})"


def versus_observer(d: dict | None) -> str:
    if d is None:
        return "too few defects for an interval"
    said = verdict(Interval(**d))
    return {"better": "CNN better", "worse": "observer better"}.get(said, said)


def render(rows: dict) -> str:
    args = argparse.Namespace(**rows["args"])
    training = rows["training"]
    differences = [lv["intervals"]["cnn_minus_observer_auc"] for lv in rows["levels"]] + [
        d for lv in rows["levels"] for d in lv["intervals"]["cnn_minus_observer_auc_by_alpha"].values() if d]
    tally = {v: sum(versus_observer(d) == v for d in differences)
             for v in ("CNN better", "observer better", "no difference shown")}
    lines = ["## qc: flood uniformity", "", f"Command: `{rows['command']}` (test sets: {args.n_test} floods of the "
             f"study's grid at each count level, seed {TEST_SEED} (benchmarks/sets.py), never used in training or "
             f"to choose anything).", f"Machine: {rows['machine']}.", "",
             f"- Model: `{shown_path(rows['model'])}`" + (f", trained by `configs/{rows['model_config']}`"
                                                         if rows.get("model_config") else ""),
             f"- Phantom rate (paper grid 238x175, `generate_floods`, a thread per core, median of 7 sets of 2000 after a warm-up "
             f"set): **{rows['phantom_floods_per_s']:.0f} floods/s**" + (
                 f" (range {rows['phantom_floods_per_s_range'][0]:.0f}-{rows['phantom_floods_per_s_range'][1]:.0f}; "
                 f"{rows['phantom_cpu_ms_per_flood']:.2f} ms of CPU a flood on one thread)"
                 if rows.get("phantom_floods_per_s_range") else "") + (
                 f" (re-measured with `--rate-only`; {rows['phantom_rate_machine'].split('; ', 1)[1].split(' (')[0]})"
                 if rows.get("phantom_rate_machine") else ""),
             f"- Training time of the config: **{training['seconds'] / 60:.1f} min** (`{training['made_by']}` on "
             f"{training['machine']})" if training else "- Training time: not recorded for this model file",
             f"- `qc check` latency after model load (256x256 flood, NEMA + CNN + map): **{rows['check_ms']:.0f} ms**", "",
             "Each figure with its 95 % bootstrap interval over the level's floods (2,000 resamples, seed 0; AUCs "
             "resample defective and normal floods apart; CNN - observer is paired, both scoring the same floods); "
             "an interval that crosses zero reads \"no difference shown\".", "",
             "| counts/px | CNN AUC | observer AUC | CNN - observer AUC | verdict | CNN accuracy | observer accuracy* "
             "| CNN sensitivity | CNN specificity |", "|---|---|---|---|---|---|---|---|---|"]
    for lv in rows["levels"]:
        iv = lv["intervals"]
        lines.append(f"| {lv['counts']:g} | {ci(iv['cnn_auc'])} | {ci(iv['observer_auc'])} | "
                     f"{ci(iv['cnn_minus_observer_auc'], '+.4f')} | {versus_observer(iv['cnn_minus_observer_auc'])} | "
                     f"{ci(iv['accuracy'])} | {lv['observer_accuracy']:.4f} | {lv['sensitivity']:.4f} | "
                     f"{lv['specificity']:.4f} |")
    lines += ["", "Per alpha (defects of that alpha against all normal floods):", "",
              "| counts/px | alpha | CNN AUC | observer AUC | CNN - observer AUC | verdict | CNN sensitivity | "
              "observer sensitivity* |", "|---|---|---|---|---|---|---|---|"]
    for lv in rows["levels"]:
        for a in lv["by_alpha"]:
            d = lv["intervals"]["cnn_minus_observer_auc_by_alpha"][f"{a['alpha']:g}"]
            lines.append(f"| {lv['counts']:g} | {a['alpha']:g} | {a['cnn_auc']:.4f} | {a['observer_auc']:.4f} | "
                         f"{ci(d, '+.4f')} | {versus_observer(d)} | {a['cnn_sensitivity']:.3f} | "
                         f"{a['observer_sensitivity']:.3f} |")
    lines += ["", f"CNN against the ideal observer, AUC over the {len(differences)} rows above: "
              + ", ".join(f"{k} {v}" for k, v in tally.items()) + ".",
              "*The observer's accuracy and sensitivity are at its best threshold on the test set itself (an upper "
              "bound), so they carry no verdict."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
