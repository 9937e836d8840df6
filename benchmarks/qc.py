"""QC benchmark: phantom rate, fast-config training time, CNN vs ideal observer, `qc check` latency.

    .venv/bin/python benchmarks/qc.py                      # train configs/qc-fast.yaml, then measure
    .venv/bin/python benchmarks/qc.py --model runs/qc-fast/model.pt   # measure an existing model
    .venv/bin/python benchmarks/qc.py --rate-only          # re-measure the phantom rate only, keep the rest

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

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from common import add_output_options, machine, outputs, write_section  # noqa: E402
from sets import seed  # noqa: E402

from nmkit.engine import load_config, train  # noqa: E402
from nmkit.io import Image  # noqa: E402
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
        args = argparse.Namespace(**rows["args"])
        write_section("qc", render(rows, args), benchmarks)
        print(render(rows, args))
        return

    rate = phantom_rate(n=20, repeats=2) if args.smoke else phantom_rate()
    rows = {"machine": machine(), **rate_rows(rate),
            "args": {"config": args.config, "model": args.model, "n_test": args.n_test, "counts": args.counts}}
    if args.model:
        bundle, train_s = Path(args.model), None
    else:
        config = load_config(args.config)
        start = time.perf_counter()
        bundle = train(config, ROOT / "runs" / Path(args.config).stem)
        train_s = time.perf_counter() - start
    rows["train_seconds"] = train_s
    model, info = load_bundle(bundle)
    info["model_path"] = str(bundle)
    rows["model"] = str(bundle)
    rows["levels"] = []
    for counts in args.counts:
        spec = dataclasses.replace(FloodSpec.paper(), counts=counts)
        images, records = generate_floods(spec, args.n_test, seed=TEST_SEED)
        result = evaluate_floods(images, records, model, info)
        rows["levels"].append({"counts": counts, **{k: result[k] for k in (
            "accuracy", "sensitivity", "specificity", "auc", "observer_auc", "observer_accuracy", "by_alpha")}})
    rows["check_ms"] = check_latency(model, info, repeats=1 if args.smoke else 20)
    out.mkdir(parents=True, exist_ok=True)
    (out / "qc.json").write_text(json.dumps(rows, indent=2))
    write_section("qc", render(rows, args), benchmarks)
    print(render(rows, args))


def render(rows: dict, args) -> str:
    cmd = "python benchmarks/qc.py" + (f" --model {args.model}" if args.model else f" --config {Path(args.config).relative_to(ROOT)}")
    if [float(c) for c in args.counts] != [98.0, 392.0, 1568.0]:
        cmd += " --counts " + " ".join(f"{c:g}" for c in args.counts)
    lines = ["## qc: flood uniformity", "", f"Command: `{cmd}` (test sets: {args.n_test} floods of the study's grid, "
             f"seed {TEST_SEED}, never used in training).", f"Machine: {rows['machine']}.", "",
             f"- Phantom rate (paper grid 238x175, `generate_floods`, a thread per core, median of 7 sets of 2000 after a warm-up "
             f"set): **{rows['phantom_floods_per_s']:.0f} floods/s**" + (
                 f" (range {rows['phantom_floods_per_s_range'][0]:.0f}-{rows['phantom_floods_per_s_range'][1]:.0f}; "
                 f"{rows['phantom_cpu_ms_per_flood']:.2f} ms of CPU a flood on one thread)"
                 if rows.get("phantom_floods_per_s_range") else "") + (
                 f" (re-measured with `--rate-only`; {rows['phantom_rate_machine'].split('; ', 1)[1].split(' (')[0]})"
                 if rows.get("phantom_rate_machine") else ""),
             f"- Training time of the config: **{rows['train_seconds'] / 60:.1f} min**" if rows["train_seconds"] else
             "- Training: not run (existing model)",
             f"- `qc check` latency after model load (256x256 flood, NEMA + CNN + map): **{rows['check_ms']:.0f} ms**", "",
             "| counts/px | CNN AUC | observer AUC | CNN accuracy | observer accuracy* | CNN sensitivity | CNN specificity |",
             "|---|---|---|---|---|---|---|"]
    for lv in rows["levels"]:
        lines.append(f"| {lv['counts']:g} | {lv['auc']:.4f} | {lv['observer_auc']:.4f} | {lv['accuracy']:.4f} | "
                     f"{lv['observer_accuracy']:.4f} | {lv['sensitivity']:.4f} | {lv['specificity']:.4f} |")
    lines += ["", "Per alpha (defects of that alpha against all normal floods):", "",
              "| counts/px | alpha | CNN AUC | observer AUC | CNN sensitivity | observer sensitivity |", "|---|---|---|---|---|---|"]
    for lv in rows["levels"]:
        for a in lv["by_alpha"]:
            lines.append(f"| {lv['counts']:g} | {a['alpha']:g} | {a['cnn_auc']:.4f} | {a['observer_auc']:.4f} | "
                         f"{a['cnn_sensitivity']:.3f} | {a['observer_sensitivity']:.3f} |")
    lines += ["", "*Observer accuracy is at its best threshold on the test set itself (an upper bound)."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
