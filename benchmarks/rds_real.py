"""rds lung segmenter on real radiographs: Dice per real image with a manual mask, before and after, with the
phantom figures that must hold, and the masks it draws on real paediatric and adult radiographs without masks.

    python benchmarks/rds_real.py                                  # before: the segmenter shipped at BEFORE_COMMIT;
                                                                   # after: the shipped default
    python benchmarks/rds_real.py --after runs/rds-seg-real/model.pt --install   # ... then ship it as the default

Roles of the data (issue 16): the Montgomery radiographs (../shared/data/cxr/montgomery, with manual lung masks)
are evaluation only: never trained on, nothing chosen on them; this script is the one place that reads them.
Validation (where the segmenter's recipe was chosen): held-out realistic phantoms (seed VALIDATION_SEED), the
phantom validation split, and the Kermany and RG1_UNCI radiographs by eye (their overlays are written here).
The phantom test set is the one benchmarks/rds.py uses (200 phantoms, 256 px, seed 888888).

Writes the `rds-real` section of BENCHMARKS.md, benchmarks/results/rds_real.json and the overlays in
benchmarks/results/rds_real/; with --install also src/nmkit/workflows/rds/default_model/rds-seg-default.pt and
the segmenter lines of its MODEL_CARD.md.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from common import machine, write_section  # noqa: E402

from nmkit.metrics.segmentation import dice  # noqa: E402
from nmkit.models import load_bundle  # noqa: E402
from nmkit.phantoms.chest import ChestSpec, generate_chest_xray, to_png8, write_chest_set  # noqa: E402
from nmkit.report.figures import contour_figure  # noqa: E402
from nmkit.workflows.rds.evaluate import default_model_paths, evaluate_folder  # noqa: E402
from nmkit.workflows.rds.postprocess import segment_lungs  # noqa: E402
from nmkit.workflows.rds.prepare import read_radiograph  # noqa: E402

BEFORE_COMMIT = "c6e0888"
"""The last commit whose shipped segmenter was the phantom-only one (configs/rds-seg-fast.yaml)."""
SEGMENTER = "src/nmkit/workflows/rds/default_model/rds-seg-default.pt"
DATA = ROOT.parent / "shared" / "data" / "cxr"
PHANTOM_TEST_SEED, PHANTOM_TEST_N = 888_888, 200
VALIDATION_SEED, VALIDATION_N = 4243, 100
OUT = ROOT / "benchmarks" / "results"


def before_bundle(tmp: Path) -> Path:
    """The segmenter shipped at :data:`BEFORE_COMMIT`, read from git."""
    path = tmp / "before.pt"
    path.write_bytes(subprocess.run(["git", "show", f"{BEFORE_COMMIT}:{SEGMENTER}"], cwd=ROOT, check=True,
                                    capture_output=True).stdout)
    return path


def unlabelled_radiographs() -> dict[str, Path]:
    """Real radiographs without masks, looked at by eye: two paediatric (Kermany) and RG1_UNCI (adult CR)."""
    files = {p.stem: p for p in sorted((DATA / "kermany").glob("*.jpeg"))}
    try:
        from pydicom.data import get_testdata_file

        files["RG1_UNCI"] = Path(get_testdata_file("RG1_UNCI.dcm"))
    except Exception:  # noqa: BLE001  (pydicom-data absent)
        pass
    return files


def realistic_validation_dice(model) -> float:
    """Mean Dice on held-out realistic phantoms (256 px, adult and neonatal): the validation set."""
    spec = ChestSpec(shape=(256, 256), style="realistic")
    scores = []
    for i in range(VALIDATION_N):
        xray = generate_chest_xray(spec, VALIDATION_SEED, i)
        mask, _ = segment_lungs(model, to_png8(xray.pixels).astype(np.float32) / 255.0)
        scores.append(float(dice(mask, xray.lung_mask)[0]))
    return float(np.mean(scores))


def mean_ci(values: list[float]) -> tuple[float, float]:
    """Mean and the half-width of its 95 % t interval (n < 30: t quantiles from a table)."""
    t95 = {1: 12.71, 2: 4.30, 3: 3.18, 4: 2.78, 5: 2.57}
    n = len(values)
    half = t95.get(n - 1, 1.96) * float(np.std(values, ddof=1)) / math.sqrt(n) if n > 1 else float("nan")
    return float(np.mean(values)), half


def measure(name: str, bundle: Path, phantom_test: Path, figures: Path) -> dict:
    model = load_bundle(bundle)[0].eval()
    result: dict = {"bundle": str(bundle)}
    phantom = evaluate_folder(phantom_test, [bundle, default_model_paths()[1]])  # with the shipped lung classifier
    result["phantom_test"] = {k: phantom[k] for k in ("miou", "dice", "accuracy", "sensitivity", "specificity", "auc",
                                                      "shortcut_drop_lungs")}
    result["realistic_validation_dice"] = realistic_validation_dice(model)
    result["montgomery"] = {}
    for image in sorted((DATA / "montgomery").glob("*.jpg")):
        grey = read_radiograph(image)
        truth = read_radiograph(image.with_name(f"{image.stem}-mask.png")) > 127
        mask, _ = segment_lungs(model, grey.astype(np.float32) / 255.0)
        result["montgomery"][image.name] = float(dice(mask, truth)[0])
    result["unlabelled"] = {}
    for stem, path in unlabelled_radiographs().items():
        grey = read_radiograph(path)
        mask, done = segment_lungs(model, grey.astype(np.float32) / 255.0)
        figure = contour_figure(grey, {f"lungs ({name})": mask}, figures / f"{stem}.{name}.png",
                                f"{stem} ({grey.shape[0]} x {grey.shape[1]}): {name}", image_label="grey (8-bit)")
        result["unlabelled"][stem] = {"lung_fraction": float(mask.mean()), "rotation_tta": done["rotation_tta"],
                                      "figure": str(figure.relative_to(ROOT))}
    return result


def render(rows: dict, command: str) -> str:
    before, after = rows["before"], rows["after"]
    names = list(after["montgomery"])
    lines = ["## rds: the lung segmenter on real radiographs", "",
             f"Command: `{command}`. Machine: {rows['machine']}.", "",
             f"Before: the segmenter shipped at commit {BEFORE_COMMIT} (phantoms only, `configs/rds-seg-fast.yaml`). "
             "After: `configs/rds-seg-real.yaml` (that segmenter fine-tuned on simple and realistic phantoms with "
             "strong augmentation). Montgomery radiographs (adult PA, 512 px, manual lung masks; Jaeger 2014): "
             "evaluation only, read by this script alone, nothing trained or chosen on them. Median filter and "
             "rotation TTA on, as `nmkit rds predict`.", "",
             "| segmenter | " + " | ".join(f"Dice {n}" for n in names) + " | mean Dice (95 % CI) | phantom test mIoU |"
             " phantom test Dice | realistic-phantom validation Dice |",
             "|---|" + "---|" * (len(names) + 4)]
    for label, r in (("before", before), ("after", after)):
        mean, half = mean_ci(list(r["montgomery"].values()))
        lines.append(f"| {label} | " + " | ".join(f"{r['montgomery'][n]:.3f}" for n in names)
                     + f" | {mean:.3f} (+/- {half:.3f}) | {r['phantom_test']['miou']:.3f} | "
                       f"{r['phantom_test']['dice']:.3f} | {r['realistic_validation_dice']:.3f} |")
    diffs = [after["montgomery"][n] - before["montgomery"][n] for n in names]
    mean, half = mean_ci(diffs)
    lines += ["", f"Change in Dice, after minus before, per Montgomery image: {mean:+.3f} (95 % CI +/- {half:.3f}, "
              f"n = {len(diffs)}; with two images the interval is wide). Targets: Dice >= 0.90 on real radiographs "
              "with manual masks; phantom mIoU >= 0.95 on the phantom test set (200 phantoms, 256 px, seed "
              f"{PHANTOM_TEST_SEED}).", "",
              "Real radiographs without masks (looked at, not scored): lung share of the image and the overlays.", "",
              "| radiograph | before: lung share | after: lung share | overlays |", "|---|---|---|---|"]
    for stem in after["unlabelled"]:
        b, a = before["unlabelled"][stem], after["unlabelled"][stem]
        lines.append(f"| {stem} | {b['lung_fraction']:.3f} | {a['lung_fraction']:.3f} | "
                     f"[before]({b['figure']}), [after]({a['figure']}) |")
    return "\n".join(lines)


def install(bundle: Path, rows: dict) -> None:
    """Ship the segmenter as the rds default and rewrite its lines of the model card."""
    target = default_model_paths()[0]
    if Path(bundle).resolve() != target.resolve():
        shutil.copyfile(bundle, target)
    card_path = target.parent / "MODEL_CARD.md"
    card = card_path.read_text()
    after = rows["after"]
    montgomery = ", ".join(f"{k} {v:.3f}" for k, v in after["montgomery"].items())
    line = (f"- `{target.name}`: `rds-unet-small` at 128 px, `configs/rds-seg-real.yaml`: the phantom segmenter of\n"
            "  `configs/rds-seg-fast.yaml` fine-tuned on simple and realistic phantoms (adult and neonatal bodies, ribs,\n"
            "  clavicles, vessels, scatter, collimation, tilt, burned-in markers) with strong intensity and geometric\n"
            f"  augmentation. Real adult radiographs (Montgomery, evaluation only): Dice {montgomery}\n"
            "  (`python benchmarks/rds_real.py --install` measured it and put it here, after `benchmarks/rds.py`).\n")
    card = re.sub(r"- `rds-seg-default\.pt`:.*?\n(?=- `)", lambda _: line, card, count=1, flags=re.S)
    t = after["phantom_test"]
    card = re.sub(r"- Lungs: mIoU .*?\n", lambda _: f"- Lungs: mIoU {t['miou']:.3f}, Dice {t['dice']:.3f} (median "
                  "filter, rotation TTA and island removal on).\n", card, count=1)
    card = re.sub(r"- RDS through the pipeline \(predicted lungs\):.*?\n(?=- )", lambda _: (
        f"- RDS through the pipeline (predicted lungs): accuracy {t['accuracy']:.3f}, sensitivity "
        f"{t['sensitivity']:.3f},\n  specificity {t['specificity']:.3f}, AUC {t['auc']:.3f}.\n"), card, count=1,
        flags=re.S)
    card_path.write_text(card)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--after", type=Path, help="segmenter bundle to measure (default: the shipped one)")
    parser.add_argument("--install", action="store_true", help="ship --after as the default segmenter")
    args = parser.parse_args()
    after = args.after or default_model_paths()[0]
    figures = OUT / "rds_real"
    figures.mkdir(parents=True, exist_ok=True)
    rows: dict = {"machine": machine()}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        phantom_test = write_chest_set(tmp / "test", ChestSpec(shape=(256, 256)), PHANTOM_TEST_N, PHANTOM_TEST_SEED)
        rows["before"] = measure("before", before_bundle(tmp), phantom_test, figures)
        rows["after"] = measure("after", after, phantom_test, figures)
    rows["after"]["bundle"] = str(args.after or SEGMENTER)
    rows["before"]["bundle"] = f"{BEFORE_COMMIT}:{SEGMENTER}"
    command = " ".join(["python benchmarks/rds_real.py", *(["--after", str(args.after)] if args.after else []),
                        *(["--install"] if args.install else [])])
    (OUT / "rds_real.json").write_text(json.dumps(rows, indent=2))
    text = render(rows, command)
    write_section("rds-real", text)
    if args.install:
        install(after, rows)
    print(text)


if __name__ == "__main__":
    main()
