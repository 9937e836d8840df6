"""Fine-tuning a shipped model on 20 own-data items vs training from scratch on the same 20 (issue 15's target),
for bonescan, through the own-data path end to end (dataset.csv, `train` with model.init, own-data evaluate).

"Another hospital": phantom scans from a different generator seed at a tenth of the counts (noisier), written as
NM DICOM of another camera (512 x 128 at 4.52 mm, resampled back to 2.26 mm by nmkit). Each repetition draws 20
such scans (16 train, 4 val by nmkit's seeded patient-level split), trains the same config twice, once from the
shipped `bonescan-default` (model.init) and once from random weights, and scores both on the same 100 test scans
of that hospital (never trained on, never used to choose anything). The shipped model without fine-tuning is
scored too. The difference is paired per repetition; its 95 % interval is a t interval over the repetitions.

    .venv/bin/python benchmarks/finetune.py                  # 5 repetitions, about 10 min on 2 busy cores
    .venv/bin/python benchmarks/finetune.py --reps 2 --test 20   # a quick smoke run

Writes the `finetune` section of BENCHMARKS.md and benchmarks/results/finetune.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
from scipy import ndimage, stats

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from common import machine, write_section  # noqa: E402

from nmkit.engine.config import DEFAULTS, merge  # noqa: E402
from nmkit.engine.train import train  # noqa: E402
from nmkit.io.dicom_write import write_nm_dicom  # noqa: E402
from nmkit.phantoms.bone import BoneSpec, generate_bone_scan  # noqa: E402
from nmkit.workflows.bonescan.evaluate import evaluate_own_data  # noqa: E402

HOSPITAL = dataclasses.replace(BoneSpec(), counts_range=(0.15e6, 0.4e6))  # a tenth of the study's counts
FINE_TUNING_LR = 0.0002  # a tenth of the scratch lr: the usual rule, fixed before any run
TRAIN_SEED, TEST_SEED = 424_242, 525_252  # neither is a seed the shipped model was trained on (seed 0)
CONFIG = {"workflow": "bonescan", "seed": 0, "model": {"name": "bonescan-compact", "width": 16},
          "data": {"batch_size": 16, "val_fraction": 0.2, "class_weights": "auto", "augment": True},
          "optim": {"name": "adam", "lr": 0.002, "weight_decay": 0.0001, "scheduler": "cosine"},
          "trainer": {"max_epochs": 30, "progress_bar": False}}


def hospital_folder(root: Path, seed: int, first: int, n: int, split: str | None = None) -> Path:
    """``n`` hospital scans as 512 x 128 NM DICOM files with dataset.csv (blank grade = not graded)."""
    (root / "scans").mkdir(parents=True)
    lines = ["scan,right_grade,left_grade,patient_id" + (",split" if split else "")]
    for i in range(first, first + n):
        scan = generate_bone_scan(HOSPITAL, seed, i)
        views = np.stack([ndimage.zoom(v, 0.5, order=1) * 4 for v in scan.views])
        write_nm_dicom(root / "scans" / f"s{i}.dcm", views, (4.52, 4.52), patient_id=f"H{seed}-{i}")
        grades = ",".join("" if g < 0 else str(g) for g in scan.grades)
        lines.append(f"scans/s{i}.dcm,{grades},H{seed}-{i}" + (f",{split}" if split else ""))
    (root / "dataset.csv").write_text("\n".join(lines) + "\n")
    return root


def interval(values: list[float]) -> tuple[float, float, float]:
    mean = statistics.fmean(values)
    if len(values) < 2:
        return mean, float("nan"), float("nan")
    half = stats.t.ppf(0.975, len(values) - 1) * statistics.stdev(values) / len(values) ** 0.5
    return mean, mean - half, mean + half


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--test", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args()
    command = "benchmarks/finetune.py " + " ".join(sys.argv[1:])
    where = machine()
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        test = hospital_folder(tmp / "test", TEST_SEED, 0, args.test, split="test")
        shipped = evaluate_own_data(test, "bonescan-default")
        for rep in range(args.reps):
            data = hospital_folder(tmp / f"train{rep}", TRAIN_SEED, rep * args.items, args.items)
            row = {"rep": rep}
            for label, init in (("fine-tuned", "bonescan-default"), ("scratch", None)):
                config = merge(DEFAULTS, CONFIG)
                config["data"]["root"] = str(data)
                config["trainer"]["max_epochs"] = args.epochs
                if init:
                    config["model"]["init"] = init
                    config["optim"]["lr"] = FINE_TUNING_LR
                bundle = train(config, tmp / f"run{rep}-{label}", log=lambda _: None)
                scored = evaluate_own_data(test, bundle)
                row[label] = {k: scored[k] for k in ("accuracy", "qwk", "macro_f1", "n_knees")}
                print(rep, label, row[label], flush=True)
            runs.append(row)
    summary = {"command": command, "machine": where, "items": args.items, "test_scans": args.test,
               "epochs": args.epochs, "shipped_without_fine_tuning": {k: shipped[k] for k in
                                                                     ("accuracy", "qwk", "macro_f1", "n_knees")},
               "runs": runs}
    for metric in ("accuracy", "qwk"):
        for label in ("fine-tuned", "scratch"):
            summary[f"{label}_{metric}"] = interval([r[label][metric] for r in runs])
        summary[f"difference_{metric}"] = interval([r["fine-tuned"][metric] - r["scratch"][metric] for r in runs])
    (ROOT / "benchmarks" / "results").mkdir(exist_ok=True)
    (ROOT / "benchmarks" / "results" / "finetune.json").write_text(json.dumps(summary, indent=2))

    def fmt(key: str) -> str:
        mean, lo, hi = summary[key]
        return f"{mean:.3f} (95 % CI {lo:.3f} to {hi:.3f})"

    body = f"""## finetune: a shipped model fine-tuned on {args.items} own-data items vs trained from scratch (bonescan)

Command: `.venv/bin/python {command}` on {where}.
"Another hospital": phantom scans at a tenth of the study's counts (seed {TRAIN_SEED} for training, {TEST_SEED}
for testing), written as 512 x 128 NM DICOM at 4.52 mm, read through dataset.csv. Each of {args.reps} repetitions
draws {args.items} new scans ({args.items - round(args.items * 0.2)} train, {round(args.items * 0.2)} val),
trains `bonescan-compact` for {args.epochs} epochs from `bonescan-default` (`model.init`, lr {FINE_TUNING_LR:g}, a tenth
of scratch's, fixed beforehand) and from scratch (lr {CONFIG['optim']['lr']:g}), otherwise the same config, and grades the same {args.test} test scans ({shipped['n_knees']} graded knees) with
`nmkit bonescan evaluate`. Intervals: t over the repetitions (the difference is paired).

| model | accuracy | QWK |
|---|---|---|
| shipped `bonescan-default`, not fine-tuned | {shipped['accuracy']:.3f} | {shipped['qwk']} |
| fine-tuned on {args.items} | {fmt('fine-tuned_accuracy')} | {fmt('fine-tuned_qwk')} |
| from scratch on {args.items} | {fmt('scratch_accuracy')} | {fmt('scratch_qwk')} |
| difference (fine-tuned - scratch) | {fmt('difference_accuracy')} | {fmt('difference_qwk')} |

The shipped model was trained on the same generator at full counts; its row without fine-tuning shows how far this
hospital is from that. These are phantoms, not a real hospital's scans; with few repetitions the t intervals are
wide (and can pass 1).
"""
    write_section("finetune", body)
    print(body)


if __name__ == "__main__":
    main()
