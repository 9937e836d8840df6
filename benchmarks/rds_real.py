"""rds lung segmenter on real radiographs: Dice per real image with a manual mask, before and after, with the
phantom figures that must hold, and the masks it draws on real paediatric and adult radiographs without masks.

    python benchmarks/rds_real.py                                  # before: shipped at BEFORE_COMMIT; previous: at
                                                                   # PREVIOUS_COMMIT; after: the shipped default
    python benchmarks/rds_real.py --after runs/rds-seg-varied/model.pt --install   # ... then ship it as the default
    python benchmarks/rds_real.py --validate runs/a/model.pt runs/b/model.pt   # validation figures only, to choose

Roles of the data (issue 16): the Montgomery radiographs (../shared/data/cxr/montgomery, with manual lung masks)
are evaluation only: never trained on, nothing chosen on them; this script is the one place that reads them.
Validation (where the segmenter's recipe was chosen; ``--validate`` prints it alone, reading no real radiograph):
held-out realistic and varied-style phantoms (:data:`VALIDATION_SETS`), simple phantoms of the ledger's validation
seed (the phantom test mIoU must hold), the phantom validation split, and the Kermany and RG1_UNCI radiographs by eye
(their overlays are written here).
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
import textwrap
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from common import machine, write_section  # noqa: E402

from nmkit.metrics.segmentation import dice, mean_iou  # noqa: E402
from nmkit.models import load_bundle  # noqa: E402
from nmkit.phantoms.chest import ChestSpec, generate_chest_xray, to_png8, write_chest_set  # noqa: E402
from nmkit.report.figures import contour_figure  # noqa: E402
from nmkit.workflows.rds.evaluate import default_model_paths, evaluate_folder  # noqa: E402
from nmkit.workflows.rds.postprocess import segment_lungs  # noqa: E402
from nmkit.workflows.rds.prepare import read_radiograph  # noqa: E402

BEFORE_COMMIT = "c6e0888"
"""The last commit whose shipped segmenter was the phantom-only one (configs/rds-seg-fast.yaml)."""
PREVIOUS_COMMIT = "4d56c61"
"""The last commit whose shipped segmenter was that of configs/rds-seg-varied-simple.yaml (the varied-style try; the
first, configs/rds-seg-real.yaml, was shipped at af6f070)."""
SEGMENTER = "src/nmkit/workflows/rds/default_model/rds-seg-default.pt"
DATA = ROOT.parent / "shared" / "data" / "cxr"
PHANTOM_TEST_SEED, PHANTOM_TEST_N = 888_888, 200
REAL_DICE_TARGET, PHANTOM_MIOU_TARGET = 0.90, 0.95
"""Issue 16's targets: lung Dice on each real radiograph with a manual mask; mIoU on the phantom test set."""
VALIDATION_N = 100
VALIDATION_SETS = {"realistic": 4243, "varied": 4244, "dense": 4245, "simple": 4242}
"""Validation phantoms (256 px, :data:`VALIDATION_N` each) per style and their seeds (benchmarks/sets.py)."""
OUT = ROOT / "benchmarks" / "results"
RECIPES = {
    "rds-seg-real.yaml": "the segmenter of `configs/rds-seg-fast.yaml` fine-tuned on simple and realistic phantoms "
                         "(adult and neonatal bodies, ribs, clavicles, vessels, scatter, collimation, tilt, burned-in "
                         "markers) with strong intensity and geometric augmentation",
    "rds-seg-varied.yaml": "the segmenter of `configs/rds-seg-real.yaml` (that of `configs/rds-seg-fast.yaml` "
                           "fine-tuned on simple and realistic phantoms) fine-tuned further on more simple phantoms, "
                           "realistic ones and the varied style (less lung contrast, softer lung edges, denser soft "
                           "tissue over bases and apices, air and arms beside smaller bodies), with strong intensity "
                           "and geometric augmentation",
    "rds-seg-varied-simple.yaml": "the segmenter of `configs/rds-seg-varied.yaml` (the rds-seg-real segmenter "
                                  "fine-tuned on simple, realistic and varied-style phantoms) trained 8 epochs more "
                                  "on twice the simple phantoms and more varied ones, with strong intensity and "
                                  "geometric augmentation",
    "rds-seg-dense.yaml": "the segmenter of `configs/rds-seg-varied-simple.yaml` fine-tuned 8 epochs on dense-style "
                          "phantoms (the varied bodies with local opacities inside the lungs and thick hilar vessel "
                          "trunks, through a milder display curve) beside simple, realistic and varied ones, with "
                          "strong intensity and geometric augmentation",
    "rds-seg-dense2.yaml": "the segmenter of `configs/rds-seg-dense.yaml` (the shipped varied-style segmenter "
                           "fine-tuned on dense-style phantoms: the varied bodies with local opacities inside the lungs "
                           "and thick hilar vessel trunks) trained 8 epochs more on twice its dense phantoms beside the "
                           "same simple, realistic and varied ones, with strong intensity and geometric augmentation",
    "rds-seg-dense3.yaml": "the segmenter of `configs/rds-seg-dense.yaml` (the shipped varied-style segmenter "
                           "fine-tuned on dense-style phantoms: the varied bodies with local opacities inside the lungs "
                           "and thick hilar vessel trunks) trained twice 8 epochs more (`rds-seg-dense2.yaml`, "
                           "`rds-seg-dense3.yaml`) on two and three times its dense phantoms beside the same simple, "
                           "realistic and varied ones, with strong intensity and geometric augmentation",
    "rds-seg-dense4.yaml": "the segmenter of `configs/rds-seg-dense.yaml` (the shipped varied-style segmenter "
                           "fine-tuned on dense-style phantoms: the varied bodies with local opacities inside the lungs "
                           "and thick hilar vessel trunks) trained three times 8 epochs more (`rds-seg-dense2.yaml` to "
                           "`rds-seg-dense4.yaml`) on two, three and four times its dense phantoms beside the same "
                           "simple, realistic and varied ones, with strong intensity and geometric augmentation"}
"""What each segmenter config is, by the config file name its bundle records."""


def recipe(bundle: Path) -> tuple[str, str]:
    """The config file name a segmenter bundle records and what that recipe is."""
    source = Path(str(load_bundle(bundle)[1]["config"].get("source", ""))).name
    return source, RECIPES.get(source, "a segmenter trained by that config")


def shipped_bundle(tmp: Path, commit: str) -> Path:
    """The segmenter shipped at ``commit``, read from git."""
    path = tmp / f"{commit}.pt"
    path.write_bytes(subprocess.run(["git", "show", f"{commit}:{SEGMENTER}"], cwd=ROOT, check=True,
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


def validation(model) -> dict[str, float]:
    """Mean lung Dice on held-out phantoms of each style of :data:`VALIDATION_SETS` (256 px; realistic, varied and
    dense: adult and neonatal) and mean IoU (lung and background) on the simple ones: the validation figures."""
    result = {}
    for style, seed in VALIDATION_SETS.items():
        spec = ChestSpec(shape=(256, 256), style=style)
        dices, mious = [], []
        for i in range(VALIDATION_N):
            xray = generate_chest_xray(spec, seed, i)
            mask, _ = segment_lungs(model, to_png8(xray.pixels).astype(np.float32) / 255.0)
            dices.append(float(dice(mask, xray.lung_mask)[0]))
            mious.append(float(mean_iou(mask.astype(np.int64), xray.lung_mask.astype(np.int64), 2)[0]))
        result[f"{style}_dice"] = float(np.mean(dices))
        if style == "simple":
            result["simple_miou"] = float(np.mean(mious))
    return result


def mean_ci(values: list[float]) -> tuple[float, float]:
    """Mean and the half-width of its 95 % t interval (n < 30: t quantiles from a table)."""
    t95 = {1: 12.71, 2: 4.30, 3: 3.18, 4: 2.78, 5: 2.57}
    n = len(values)
    half = t95.get(n - 1, 1.96) * float(np.std(values, ddof=1)) / math.sqrt(n) if n > 1 else float("nan")
    return float(np.mean(values)), half


def measure(name: str, bundle: Path, phantom_test: Path, figures: Path) -> dict:
    model = load_bundle(bundle)[0].eval()
    result: dict = {"bundle": str(bundle)}
    result["config"], result["recipe"] = recipe(bundle)
    phantom = evaluate_folder(phantom_test, [bundle, default_model_paths()[1]])  # with the shipped lung classifier
    result["phantom_test"] = {k: phantom[k] for k in ("miou", "dice", "accuracy", "sensitivity", "specificity", "auc",
                                                      "shortcut_drop_lungs")}
    result["validation"] = validation(model)
    result["montgomery"] = {}
    for image in sorted((DATA / "montgomery").glob("*.jpg")):
        grey = read_radiograph(image)
        truth = read_radiograph(image.with_name(f"{image.stem}-mask.png")) > 127
        mask, _ = segment_lungs(model, grey.astype(np.float32) / 255.0)
        result["montgomery"][image.name] = float(dice(mask, truth)[0])
    result["unlabelled"] = draw_unlabelled(model, figures, name)
    return result


def draw_unlabelled(model, folder: Path, name: str) -> dict:
    """The lungs ``model`` draws on each unlabelled real radiograph, as overlays ``folder/<radiograph>.<name>.png``
    and the lung share of each image."""
    folder.mkdir(parents=True, exist_ok=True)
    shown = {}
    for stem, path in unlabelled_radiographs().items():
        grey = read_radiograph(path)
        mask, done = segment_lungs(model, grey.astype(np.float32) / 255.0)
        figure = contour_figure(grey, {f"lungs ({name})": mask}, folder / f"{stem}.{name}.png",
                                f"{stem} ({grey.shape[0]} x {grey.shape[1]}): {name}", image_label="grey (8-bit)")
        shown[stem] = {"lung_fraction": float(mask.mean()), "rotation_tta": done["rotation_tta"],
                       "figure": str(figure.relative_to(ROOT)) if figure.is_relative_to(ROOT) else str(figure)}
    return shown


def render(rows: dict, command: str) -> str:
    before, previous, after = rows["before"], rows["previous"], rows["after"]
    names = list(after["montgomery"])
    lines = ["## rds: the lung segmenter on real radiographs", "",
             f"Command: `{command}`. Machine: {rows['machine']}.", "",
             f"Before: the segmenter shipped at commit {BEFORE_COMMIT} (phantoms only, `configs/rds-seg-fast.yaml`). "
             f"Previous: the one shipped at commit {PREVIOUS_COMMIT} (`configs/{previous['config']}`). "
             f"After: `configs/{after['config']}` ({after['recipe']}). Montgomery radiographs (adult PA, 512 px, "
             "manual lung masks; Jaeger 2014): "
             "evaluation only, read by this script alone, nothing trained or chosen on them. Median filter, rotation "
             "TTA, island dropping and hole filling on, as `nmkit rds predict`.", "",
             "| segmenter | " + " | ".join(f"Dice {n}" for n in names) + " | mean Dice (95 % CI) | phantom test mIoU |"
             " phantom test Dice | validation Dice: realistic / varied / dense phantoms |"
             " validation mIoU: simple phantoms |",
             "|---|" + "---|" * (len(names) + 5)]
    for label, r in (("before", before), ("previous", previous), ("after", after)):
        mean, half = mean_ci(list(r["montgomery"].values()))
        lines.append(f"| {label} | " + " | ".join(f"{r['montgomery'][n]:.3f}" for n in names)
                     + f" | {mean:.3f} (+/- {half:.3f}) | {r['phantom_test']['miou']:.3f} | "
                       f"{r['phantom_test']['dice']:.3f} | {r['validation']['realistic_dice']:.3f} / "
                       f"{r['validation']['varied_dice']:.3f} / {r['validation']['dense_dice']:.3f} | "
                       f"{r['validation']['simple_miou']:.3f} |")
    lines.append("")
    for label, r in (("before", before), ("previous", previous)):
        diffs = [after["montgomery"][n] - r["montgomery"][n] for n in names]
        mean, half = mean_ci(diffs)
        lines.append(f"Change in Dice, after minus {label}, per Montgomery image: {mean:+.3f} (95 % CI +/- {half:.3f}, "
                     f"n = {len(diffs)}; with two images the interval is wide).")
    lowest, miou = min(after["montgomery"].values()), after["phantom_test"]["miou"]
    lines += [f"Targets: Dice >= {REAL_DICE_TARGET:.2f} on each real radiograph with a manual mask "
              f"({'met' if lowest >= REAL_DICE_TARGET else 'missed'}: lowest {lowest:.3f}); phantom mIoU >= "
              f"{PHANTOM_MIOU_TARGET:.2f} on the phantom test set (200 phantoms, 256 px, seed {PHANTOM_TEST_SEED}; "
              f"{'met' if miou >= PHANTOM_MIOU_TARGET else 'missed'}: {miou:.3f}).", "",
              "Real radiographs without masks (looked at, not scored): lung share of the image and the overlays.", "",
              "| radiograph | lung share: before / previous / after | overlays |", "|---|---|---|"]
    for stem in after["unlabelled"]:
        shown = {label: rows[label]["unlabelled"][stem] for label in ("before", "previous", "after")}
        lines.append(f"| {stem} | " + " / ".join(f"{r['lung_fraction']:.3f}" for r in shown.values()) + " | "
                     + ", ".join(f"[{label}]({r['figure']})" for label, r in shown.items()) + " |")
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
    missed = [f"Dice >= {REAL_DICE_TARGET:.2f} on each real radiograph"] * any(
        v < REAL_DICE_TARGET for v in after["montgomery"].values())
    missed += [f"phantom test mIoU >= {PHANTOM_MIOU_TARGET:.2f} (here {after['phantom_test']['miou']:.3f})"] * (
        after["phantom_test"]["miou"] < PHANTOM_MIOU_TARGET)
    targets = f"Missed: {' and '.join(missed)}." if missed else "Both targets (Dice >= 0.90, mIoU >= 0.95) met."
    body = textwrap.fill(f"`rds-unet-small` at 128 px, `configs/{after['config']}`: {after['recipe']}. Real adult "
                         f"radiographs (Montgomery, evaluation only): Dice {montgomery} "
                         "(`python benchmarks/rds_real.py --install` measured it and put it here, after "
                         f"`benchmarks/rds.py`). {targets}", 112,
                         initial_indent=f"- `{target.name}`: ", subsequent_indent="  ")
    line = body + "\n"
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
    parser.add_argument("--validate", type=Path, nargs="+", metavar="BUNDLE",
                        help="only print the validation figures of these segmenters (no Montgomery radiograph is read)")
    parser.add_argument("--overlays", type=Path, metavar="DIR",
                        help="with --validate: also draw each segmenter's lungs on the unlabelled real radiographs "
                             "(Kermany, RG1_UNCI) in DIR/<run folder name>.<radiograph>.png, to look at")
    args = parser.parse_args()
    if args.validate:
        for bundle in args.validate:
            model = load_bundle(bundle)[0].eval()
            figures = validation(model)
            print(bundle, " ".join(f"{k} {v:.4f}" for k, v in figures.items()), flush=True)
            if args.overlays:
                draw_unlabelled(model, args.overlays, bundle.resolve().parent.name)
        return
    after = args.after or default_model_paths()[0]
    figures = OUT / "rds_real"
    rows: dict = {"machine": machine()}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        phantom_test = write_chest_set(tmp / "test", ChestSpec(shape=(256, 256)), PHANTOM_TEST_N, PHANTOM_TEST_SEED)
        for label, commit in (("before", BEFORE_COMMIT), ("previous", PREVIOUS_COMMIT)):
            rows[label] = measure(label, shipped_bundle(tmp, commit), phantom_test, figures)
            rows[label]["bundle"] = f"{commit}:{SEGMENTER}"
        rows["after"] = measure("after", after, phantom_test, figures)
    rows["after"]["bundle"] = str(args.after or SEGMENTER)
    command = " ".join(["python benchmarks/rds_real.py", *(["--after", str(args.after)] if args.after else []),
                        *(["--install"] if args.install else [])])
    rows["command"] = command
    (OUT / "rds_real.json").write_text(json.dumps(rows, indent=2))
    text = render(rows, command)
    write_section("rds-real", text)
    if args.install:
        install(after, rows)
    print(text)


if __name__ == "__main__":
    main()
