"""The first nmkit model trained on real patients: paediatric pneumonia on PneumoniaMNIST through the own-data path.

    python benchmarks/pneumoniamnist.py                  # write the folder, train 3 seeds, join, measure on val
    python benchmarks/pneumoniamnist.py --install        # ... and ship it as the model `rds-pneumoniamnist`
    python benchmarks/pneumoniamnist.py --members 1 --max-epochs 1     # a smoke run
    python benchmarks/pneumoniamnist.py --out DIR --reuse --install      # join members already trained in DIR

Data: ../shared/data/cxr/pneumoniamnist/pneumoniamnist_trainval.npz, real paediatric chest radiographs (age 1-5,
Guangzhou Women and Children's Medical Center) at 28 x 28: MedMNIST v2 (Yang et al., Sci Data 2023) from Kermany
et al., Cell 2018; CC BY 4.0. The script writes it as an own-data folder (images/*.png and dataset.csv with
columns image, pneumonia, split; official train and val splits) under --out (default: a temporary folder, never
the repository), trains configs/rds-pneumoniamnist.yaml on it with seeds 0..members-1 (default 2) (`nmkit train CONFIG
--data DIR` does the same for one), joins the members into one averaged ensemble and fits its temperature and
threshold on the official val split (nmkit.workflows.rds.calibrate). Everything is chosen on val, so the val
figures are optimistic; the official test split (624 images, known to differ) is not here and is unmeasured:
score it with `nmkit rds evaluate --data DIR --model rds-pneumoniamnist --json` on a folder of this layout.

Writes the `rds-pneumoniamnist` section of BENCHMARKS.md and benchmarks/results/pneumoniamnist.json; with
--install also src/nmkit/workflows/rds/default_model/rds-pneumoniamnist.pt and MODEL_CARD-rds-pneumoniamnist.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image as PILImage

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from common import machine, write_section  # noqa: E402

from nmkit.atomic import atomic_dir  # noqa: E402
from nmkit.engine import load_config, train  # noqa: E402
from nmkit.metrics.classification import binary_report  # noqa: E402
from nmkit.models import load_bundle, shipped_model  # noqa: E402
from nmkit.workflows.rds.calibrate import (ensemble, expected_calibration_error, logits_of,  # noqa: E402
                                           probabilities)
from nmkit.workflows.rds.data import own_data_set  # noqa: E402

NPZ = ROOT.parent / "shared" / "data" / "cxr" / "pneumoniamnist" / "pneumoniamnist_trainval.npz"
CONFIG = ROOT / "configs" / "rds-pneumoniamnist.yaml"
NAME = "rds-pneumoniamnist"
CARD = f"MODEL_CARD-{NAME}.md"
PUBLISHED = {"ResNet-18 (28)": (0.944, 0.854), "AutoKeras": (0.947, 0.878), "Google AutoML Vision": (0.991, 0.946)}
"""MedMNIST v2 test AUC / accuracy at 28 px (Yang et al. 2023)."""


def write_folder(npz: Path, out: Path) -> Path:
    """The npz's train and val images as ``images/<split>_<i>.png`` and ``dataset.csv`` (image, pneumonia, split)."""
    arrays = np.load(npz)
    with atomic_dir(out) as tmp:
        (tmp / "images").mkdir()
        with (tmp / "dataset.csv").open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["image", "pneumonia", "split"])
            for split in ("train", "val"):
                for i, (image, label) in enumerate(zip(arrays[f"{split}_images"], arrays[f"{split}_labels"][:, 0])):
                    name = f"images/{split}_{i:05d}.png"
                    PILImage.fromarray(image).save(tmp / name)
                    writer.writerow([name, int(label), split])
    return out


def scores_report(scores: np.ndarray, labels: np.ndarray, threshold: float) -> dict:
    report = binary_report(scores, labels, threshold)
    return {"accuracy": report.accuracy, "auc": report.auc, "sensitivity": report.sensitivity,
            "specificity": report.specificity, "ece": expected_calibration_error(scores, labels),
            "threshold": threshold}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, help="work folder (own-data folder and runs); default: a temporary one")
    parser.add_argument("--members", type=int, default=2, help="ensemble members (seeds 0..members-1)")
    parser.add_argument("--max-epochs", type=int, help="override trainer.max_epochs")
    parser.add_argument("--reuse", action="store_true", help="keep members already trained in --out (run-K/model.pt)")
    parser.add_argument("--install", action="store_true", help=f"ship the ensemble as the model `{NAME}`")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        work = args.out or Path(scratch)
        rows = run(work, args)
    print(render(rows, args))


def run(work: Path, args) -> dict:
    folder = write_folder(NPZ, work / "pneumoniamnist")
    rows: dict = {"machine": machine(), "members": [], "train_seconds": 0.0, "reused": []}
    bundles = []
    start = time.perf_counter()
    for seed in range(args.members):
        if args.reuse and (work / f"run-{seed}" / "model.pt").is_file():
            bundles.append(work / f"run-{seed}" / "model.pt")
            rows["reused"].append(seed)
            continue
        config = load_config(CONFIG)
        config["data"]["root"] = str(folder)
        config["seed"] = seed
        bundles.append(train(config, work / f"run-{seed}", max_epochs=args.max_epochs))
    rows["train_seconds"] = time.perf_counter() - start
    rows["train_seconds"] += sum(_run_seconds(work / f"run-{seed}") for seed in rows["reused"])
    config = load_config(CONFIG)
    data = config["data"] | {"root": str(folder)}
    val = own_data_set(data, int(data["size"]), int(config["seed"]), needs_masks=False).subset("val")
    for bundle in bundles:
        member = logits_of(load_bundle(bundle)[0], val.images)
        rows["members"].append(scores_report(probabilities(member), val.rds, 0.5))
    joined, calibration = ensemble(bundles, val.images, val.rds, work / f"{NAME}.pt")
    model, info = load_bundle(joined)
    scores = probabilities(logits_of(model, val.images))
    rows |= {"calibration": calibration, "n_val": int(len(val.rds)), "val_positives": int(val.rds.sum()),
             "ensemble_val": scores_report(scores, val.rds, calibration["threshold"]),
             "ensemble_val_at_0.5": scores_report(scores, val.rds, 0.5),
             "n_parameters": sum(p.numel() for p in model.parameters()),
             "config": {k: v for k, v in info["config"].items() if k != "source"},
             "bundle_bytes": joined.stat().st_size}
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / "pneumoniamnist.json").write_text(json.dumps(rows, indent=2, default=str))
    write_section(NAME, render(rows, args))
    if args.install:
        target = shipped_model("nmkit.workflows.rds", f"{NAME}.pt")
        shutil.copyfile(joined, target)
        (target.parent / CARD).write_text(card(rows))
    return rows


def _run_seconds(run: Path) -> float:
    """Wall time of a finished run: from its config.yaml to its model.pt."""
    return (run / "model.pt").stat().st_mtime - (run / "config.yaml").stat().st_mtime


def _command(args) -> str:
    options = [f"--members {args.members}"] + ([f"--max-epochs {args.max_epochs}"] if args.max_epochs else [])
    return " ".join(["python benchmarks/pneumoniamnist.py", *options, *(["--install"] if args.install else [])])


def render(rows: dict, args) -> str:
    e, half = rows["ensemble_val"], rows["ensemble_val_at_0.5"]
    c = rows["calibration"]
    lines = [f"## rds: `{NAME}`, paediatric pneumonia at 28 px (real patients)", "",
             f"Command: `{_command(args)}`. Machine: {rows['machine']}.", "",
             "PneumoniaMNIST (Yang et al. 2023, from Kermany et al. 2018; CC BY 4.0) written as an own-data folder "
             f"and trained with `configs/rds-pneumoniamnist.yaml` ({len(rows['members'])} seeds, "
             f"{rows['train_seconds'] / 60:.1f} min in all), joined into one ensemble, temperature "
             f"{c['temperature']:.2f} and threshold {c['threshold']:.3f} fitted on the official val split "
             f"({rows['n_val']} images, {rows['val_positives']} pneumonia). **Every figure here is on val, which "
             "chose the epochs, the temperature and the threshold: optimistic.** The official test split is not "
             "here; it is unmeasured (targets there: AUC >= 0.96, accuracy >= 0.90).", "",
             "| model (val) | accuracy | AUC | sensitivity | specificity | ECE | threshold |",
             "|---|---|---|---|---|---|---|"]
    for i, m in enumerate(rows["members"]):
        lines.append(f"| member seed {i} (uncalibrated) | {m['accuracy']:.3f} | {m['auc']:.4f} | "
                     f"{m['sensitivity']:.3f} | {m['specificity']:.3f} | {m['ece']:.3f} | 0.5 |")
    lines += [f"| ensemble, calibrated, at 0.5 | {half['accuracy']:.3f} | {half['auc']:.4f} | "
              f"{half['sensitivity']:.3f} | {half['specificity']:.3f} | {half['ece']:.3f} | 0.5 |",
              f"| **ensemble, calibrated, at its threshold (shipped)** | {e['accuracy']:.3f} | {e['auc']:.4f} | "
              f"{e['sensitivity']:.3f} | {e['specificity']:.3f} | {e['ece']:.3f} | {e['threshold']:.3f} |", "",
              f"ECE on val before temperature scaling {c['val_ece_before']:.3f}, after {c['val_ece_after']:.3f}. "
              "Published test figures at 28 px (MedMNIST v2; AUC / accuracy): "
              + ", ".join(f"{k} {a:.3f} / {b:.3f}" for k, (a, b) in PUBLISHED.items()) + "."]
    return "\n".join(lines)


def card(rows: dict) -> str:
    e, c, cfg = rows["ensemble_val"], rows["calibration"], rows["config"]
    return f"""# `{NAME}`: paediatric pneumonia at 28 px, a real-data benchmark model, not an RDS model

The first nmkit model trained on real patients. It answers P(pneumonia) for a paediatric chest radiograph
shrunk to 28 x 28 pixels. It is a benchmark of nmkit's own-data path, **not an RDS model and not a diagnosis**.

- Use: `nmkit rds evaluate --data DIR --model {NAME} [--json]` on an own-data folder (dataset.csv with columns
  image and pneumonia; only the test rows are scored, all rows without a split column).
- Model: an ensemble of {len(rows['members'])} `{cfg['model']['name']}` classifiers (width {cfg['model'].get('width', 16)}, \
{rows['n_parameters']:,} parameters in all, random initialisation),
  whole image at {cfg['data']['size']} px, `configs/rds-pneumoniamnist.yaml` with seeds 0..{len(rows['members']) - 1}: \
{cfg['trainer']['max_epochs']} epochs, {cfg['optim']['name']} lr
  {cfg['optim']['lr']}, batch {cfg['data']['batch_size']}, augmentation `{cfg['data']['augment']}` (affine, gamma, contrast, blur or sharpening,
  noise, horizontal flips). Logits averaged, then divided by the temperature {c['temperature']:.3f}; called
  positive at P >= {c['threshold']:.3f} (Youden's J), both fitted on the official val split.
- Made with: `python benchmarks/pneumoniamnist.py --install` ({rows['train_seconds'] / 60:.1f} min of training on \
the machine below).

## Data, attribution, licence

PneumoniaMNIST from MedMNIST v2 (Yang J. et al., "MedMNIST v2 - A large-scale lightweight benchmark for 2D and 3D
biomedical image classification", Scientific Data 10, 41, 2023), made from the chest radiographs of Kermany D. S.
et al., "Identifying medical diagnoses and treatable diseases by image-based deep learning", Cell 172(5),
1122-1131, 2018 (children aged 1-5, Guangzhou Women and Children's Medical Center). Licence: CC BY 4.0.
Trained on the official train split ({4682} images), chosen and calibrated on the official val split.

## Metrics on the official val split ({rows['n_val']} images, {rows['val_positives']} pneumonia)

Val chose the checkpoint of each member, the temperature and the threshold, so these figures are optimistic.

- accuracy {e['accuracy']:.3f}, AUC {e['auc']:.4f}, sensitivity {e['sensitivity']:.3f}, specificity \
{e['specificity']:.3f}, ECE {e['ece']:.3f} (15 bins; {c['val_ece_before']:.3f} before temperature scaling).

The official test split (624 images) is not in this repository and was never measured here; it is known to differ
from train and val. Targets there: AUC >= 0.96, accuracy >= 0.90. Published test figures at 28 px: ResNet-18
0.944 / 0.854, AutoKeras 0.947 / 0.878, Google AutoML Vision 0.991 / 0.946 (AUC / accuracy).

## Limits

- 28 px images: fine detail is gone; a full-size radiograph is shrunk to 28 px before it is scored.
- One hospital, one age range (1-5 years): other hospitals, neonates and adults were never seen.
- Machine that made this card: {rows['machine']}.
"""


if __name__ == "__main__":
    main()
