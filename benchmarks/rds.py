"""rds benchmark: phantom rate, fast-config training, lung mIoU/Dice with and without the study's post-processing,
RDS accuracy through the two-stage pipeline, and the device shortcut test, on phantoms never trained on.

    .venv/bin/python benchmarks/rds.py                                   # train the four fast configs, measure
    .venv/bin/python benchmarks/rds.py --model seg.pt --model cls.pt --model whole.pt   # measure existing models
    .venv/bin/python benchmarks/rds.py --max-epochs 1 --n-train 30 --n-test 20          # a smoke run (minutes)
    .venv/bin/python benchmarks/rds.py --install     # ... and ship the segmenter and lung classifier as defaults
    .venv/bin/python benchmarks/rds.py --smoke --out /tmp/x --model seg.pt --model cls.pt   # a tiny run

Rotation TTA only runs on images whose lungs look small, so it is also measured on a test set whose every
radiograph is turned by +/-90 degrees (seed ROTATED_SEED), where the study used it. Targets and the TTA effect
carry 95 % bootstrap intervals over the test images (paired where the same images are compared).

Writes the `rds` section of BENCHMARKS.md and benchmarks/results/rds.json; with --install (or when the given
segmenter is the shipped one) also src/nmkit/workflows/rds/default_model/{rds-seg-default.pt,rds-cls-default.pt,
MODEL_CARD.md}.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from common import add_output_options, command, install_models, is_shipped, machine, outputs, write_section  # noqa: E402
from sets import seed  # noqa: E402

from nmkit.engine import load_config, train  # noqa: E402
from nmkit.engine.config import merge  # noqa: E402
from nmkit.metrics.bootstrap import Interval, bootstrap_interval, paired_difference, verdict  # noqa: E402
from nmkit.phantoms.chest import ChestSpec, generate_chest_xray, write_chest_set  # noqa: E402
from nmkit.workflows.rds.evaluate import (DEFAULT_MODELS, default_model_paths, evaluate_folder,  # noqa: E402
                                          load_rds_models)
from nmkit.workflows.rds.postprocess import PostProcess, segment_lungs  # noqa: E402

TEST_SEED = seed("rds", "test", "benchmarks/rds.py")  # the ledger, benchmarks/sets.py
ROTATED_SEED = seed("rds", "test", "benchmarks/rds.py:rotated")  # rotated radiographs: where rotation TTA acts
CONFIGS = ("rds-seg-fast", "rds-cls-fast", "rds-whole-fast", "rds-joint-fast")  # joint starts from seg + cls
POSTS = {"none": PostProcess(median=False, tta=False), "median": PostProcess(median=True, tta=False),
         "median + rotation TTA": PostProcess(median=True, tta=True)}
STUDY_MIOU = {"none": 0.834, "median": 0.847, "median + rotation TTA": 0.913}  # published, not measured here
STUDY = ("the study's own radiographs, published in \"Neonatal Respiratory Distress Syndrome Diagnosis Method Based on "
         "X-ray Images Using Semantic Segmentation\"")
ROTATED_POSTS = ("median", "median + rotation TTA")


def phantom_rate(n: int = 20) -> float:
    start = time.perf_counter()
    for i in range(n):
        generate_chest_xray(ChestSpec(), 101, i)  # a timing seed (benchmarks/sets.py)
    return n / (time.perf_counter() - start)


def predict_ms(models, size: int, repeats: int = 5) -> float:
    image = np.random.default_rng(0).random((size, size)).astype(np.float32)
    model = models["segmenter"][0]
    segment_lungs(model, image)
    start = time.perf_counter()
    for _ in range(repeats):
        segment_lungs(model, image)
    return (time.perf_counter() - start) / repeats * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", help="an existing bundle (repeat for each role)")
    parser.add_argument("--n-test", type=int, default=200)
    parser.add_argument("--n-train", type=int, help="override data.phantom.n of the configs")
    parser.add_argument("--max-epochs", type=int, help="override trainer.max_epochs of the configs")
    parser.add_argument("--n-rotated", type=int, default=50, help="radiographs of the rotated test set")
    parser.add_argument("--install", action="store_true", help="ship the segmenter and lung classifier as defaults")
    add_output_options(parser)
    args = parser.parse_args()
    out, benchmarks = outputs(args)
    if args.smoke:
        args.n_test, args.n_rotated = 4, 2

    rows: dict = {"machine": machine(), "command": command("rds.py"), "train_seconds": {},
                  "phantom_images_per_s": None if args.smoke else phantom_rate()}
    bundles = [Path(p) for p in args.model or []]
    if not bundles:
        for name in CONFIGS:
            config = load_config(ROOT / "configs" / f"{name}.yaml")
            if args.n_train:
                config = merge(config, {"data": {"phantom": {"n": args.n_train}}})
            if "init_bundles" in config:  # the joint model starts from the bundles trained just before
                config["init_bundles"] = {k: str(ROOT / v) for k, v in config["init_bundles"].items()}
            start = time.perf_counter()
            bundles.append(train(config, ROOT / "runs" / name, max_epochs=args.max_epochs))
            rows["train_seconds"][name] = time.perf_counter() - start
    size = 64 if args.smoke else ChestSpec().shape[0] // 2
    models = load_rds_models(bundles)
    roles = {role: Path(info["model_path"]) for role, (_, info) in models.items()}
    with tempfile.TemporaryDirectory() as tmp:
        test_set = write_chest_set(Path(tmp) / "test", ChestSpec(shape=(size, size)), args.n_test, TEST_SEED)
        rows["by_postprocess"] = {name: evaluate_folder(test_set, bundles, post, per_image=True)
                                  for name, post in POSTS.items()}
        if "lungs" in roles:  # the same classifier on the true lung masks: what predicted masks cost
            rows["true_masks"] = evaluate_folder(test_set, [roles["lungs"]])
        rotated = write_chest_set(Path(tmp) / "rotated", ChestSpec(shape=(size, size), rotated_rate=1.0),
                                  args.n_rotated, ROTATED_SEED)
        rows["rotated"] = {name: evaluate_folder(rotated, [roles["segmenter"]], POSTS[name], per_image=True)
                           for name in ROTATED_POSTS}
    rows["intervals"] = intervals(rows)
    rows["predict_ms"] = None if args.smoke else predict_ms(models, size)
    rows["n_parameters"] = {role: sum(p.numel() for p in model.parameters()) for role, (model, _) in models.items()}
    rows |= {"n_test": args.n_test, "size": size, "models": [str(b) for b in bundles]}
    out.mkdir(parents=True, exist_ok=True)
    (out / "rds.json").write_text(json.dumps(rows, indent=2, default=str))
    text = render(rows, args)
    write_section("rds", text, benchmarks)
    if args.install or (is_shipped(roles["segmenter"], default_model_paths()[0].parent) and not args.out):
        install_models(default_model_paths()[0].parent,
                       {name: roles[role] for role, name in zip(("segmenter", "lungs"), DEFAULT_MODELS)},
                       card(models, rows))
    print(text)


def intervals(rows: dict) -> dict[str, dict]:
    """95 % bootstrap intervals over the test images: lung mIoU, the lung classifier's accuracy and shortcut drop
    (all post-processing on), and the rotated set's mIoU gain from rotation TTA (paired)."""
    full = rows["by_postprocess"]["median + rotation TTA"]["per_image"]
    miou, score, label = (np.array(full[k], dtype=float) for k in ("miou", "lung_score", "label"))
    correct = (score >= 0.5) == label
    out = {"miou": bootstrap_interval(lambda i: float(miou[i].mean()), len(miou)).as_dict(),
           "accuracy": bootstrap_interval(lambda i: float(correct[i].mean()), len(correct)).as_dict()}
    if full["has_device"] is not None:
        agree = np.array(full["has_device"]) == label
        out["shortcut_drop_lungs"] = bootstrap_interval(
            lambda i: float(correct[i][agree[i]].mean() - correct[i].mean()) if agree[i].any() else 0.0,
            len(correct)).as_dict()
    turned = [np.array(rows["rotated"][name]["per_image"]["miou"]) for name in ROTATED_POSTS]
    out["rotated_tta_gain"] = paired_difference(turned[1], turned[0]).as_dict()
    return out


def _ci(d: dict, fmt: str = ".3f") -> str:
    return Interval(**d).text(fmt)


def _target(d: dict, limit: float, at_least: bool = True) -> str:
    """met: the interval lies on the target's side; not shown: only the estimate does; else missed."""
    i = Interval(**d)
    if (i.low >= limit) if at_least else (i.high <= limit):
        return "met"
    return "not shown (its interval crosses)" if ((i.estimate >= limit) if at_least else (i.estimate <= limit)) else "missed"


def _f(value) -> str:
    return "-" if value is None else f"{value:.3f}"


def render(rows: dict, args) -> str:
    full = rows["by_postprocess"]["median + rotation TTA"]
    iv = rows["intervals"]
    rate = rows["phantom_images_per_s"]
    lines = ["## rds: neonatal RDS on chest X-ray", "",
             f"Command: `{rows['command']}` (test set: {rows['n_test']} phantom radiographs, {rows['size']} px, "
             f"seed {TEST_SEED}, devices untied from RDS, never used in training or for a choice (benchmarks/sets.py); "
             "classifiers trained with devices tied to RDS).",
             f"Machine: {rows['machine']}.", "",
             *([] if rate is None else [f"- Phantom rate (512 px): **{rate:.1f} images/s**"]),
             *(f"- Training `{k}`: {v / 60:.1f} min" for k, v in rows["train_seconds"].items()),
             *([] if rows['predict_ms'] is None else
               [f"- Lung segmentation with post-processing, one {rows['size']} px image: {rows['predict_ms']:.0f} ms"]), "",
             f"| post-processing | lung mIoU | Dice | rotation TTA ran on | *published mIoU ({STUDY}; not measured "
             "here)* |", "|---|---|---|---|---|"]
    for name, r in rows["by_postprocess"].items():
        lines.append(f"| {name} | {_f(r['miou'])} | {_f(r['dice'])} | "
                     f"{r['rotation_tta_images'] if r['rotation_tta'] else '-'} of {r['n']} | *{STUDY_MIOU[name]}* |")
    turned = rows["rotated"]
    lines += ["", f"Rotation TTA runs only where the predicted lungs are small, and on this test set it ran on "
              f"{full['rotation_tta_images']} of {full['n']} images, so the last row measures the median filter. "
              f"Where it acts: {turned[ROTATED_POSTS[0]]['n']} phantom radiographs turned by +/-90 degrees (seed "
              f"{ROTATED_SEED}, the case the study used it for):", "",
              "| rotated test set | lung mIoU | Dice | rotation TTA ran on |", "|---|---|---|---|"]
    for name in ROTATED_POSTS:
        r = turned[name]
        lines.append(f"| {name} | {_f(r['miou'])} | {_f(r['dice'])} | "
                     f"{r['rotation_tta_images'] if r['rotation_tta'] else '-'} of {r['n']} |")
    gain = Interval(**iv["rotated_tta_gain"])
    said = {"better": "TTA helps", "worse": "TTA hurts"}.get(verdict(gain), verdict(gain))
    lines += ["", f"mIoU with TTA minus without on the rotated set (paired): {gain.text('+.3f')}: {said}.", "",
              "| RDS classifier | accuracy | sensitivity | specificity | AUC | shortcut drop |",
              "|---|---|---|---|---|---|",
              f"| lungs (predicted masks) | {_ci(iv['accuracy'])} | {_f(full['sensitivity'])} | "
              f"{_f(full['specificity'])} | {_f(full['auc'])} | "
              f"{_ci(iv['shortcut_drop_lungs'], '+.3f') if 'shortcut_drop_lungs' in iv else '-'} |"]
    if "true_masks" in rows:
        t = rows["true_masks"]
        lines.append(f"| lungs (true masks; reference) | {_f(t['accuracy'])} | {_f(t['sensitivity'])} | "
                     f"{_f(t['specificity'])} | {_f(t['auc'])} | {_f(t['shortcut_drop_lungs'])} |")
    missing = [label for label, key in (("whole image", "whole_image_accuracy"), ("joint", "joint_accuracy"))
               if full[key] is None]
    if full["whole_image_accuracy"] is not None:
        lines.append(f"| whole image | {_f(full['whole_image_accuracy'])} | | | | "
                     f"{_f(full['shortcut_drop_whole_image'])} |")
    if full["joint_accuracy"] is not None:
        lines.append(f"| joint (segmenter + classifier fine-tuned together) | {_f(full['joint_accuracy'])} | | | "
                     f"{_f(full['joint_auc'])} | {_f(full['shortcut_drop_joint'])} |")
    lines += ["", "Shortcut drop: accuracy on the test images whose device presence agrees with RDS (as in training) minus "
              "accuracy on the whole untied test set. Intervals: 95 % bootstrap over the test images (2,000 resamples, "
              "seed 0)."
              + (f" Not scored in this run: the {' and '.join(missing)} classifier (no model given; "
                 "`python benchmarks/rds.py` trains all four)." if missing else ""), "",
              f"Targets (met: the whole interval on the target's side): mIoU >= 0.95: {_target(iv['miou'], 0.95)} "
              f"({_ci(iv['miou'])}); accuracy >= 0.95: {_target(iv['accuracy'], 0.95)} ({_ci(iv['accuracy'])}); "
              "lung drop <= 0.02: " + (_target(iv["shortcut_drop_lungs"], 0.02, at_least=False) + " ("
                                       + _ci(iv["shortcut_drop_lungs"], "+.3f") + ")" if "shortcut_drop_lungs" in iv
                                       else "not measured") + "."]
    return "\n".join(lines)


def card(models: dict, rows: dict) -> str:
    r = rows["by_postprocess"]["median + rotation TTA"]
    seg_cfg, cls_cfg = models["segmenter"][1]["config"], models["lungs"][1]["config"]

    def trained(cfg: dict) -> str:
        phantom = cfg["data"]["phantom"]
        sections = "; ".join(
            f"{part['n']} phantoms ({part.get('shape', [256])[0]} px" + (f", {part['style']} style" if part.get("style")
                                                                        else "")
            + (", devices tied to RDS" if part.get("confounded") else "") + ")"
            for part in (phantom if isinstance(phantom, list) else [phantom]))
        start = f", starting from `{cfg['init_weights']}`" if cfg.get("init_weights") else ""
        return (f"{sections}; 3/5 train, 1/5 val by the study's lung-area split; {cfg['trainer']['max_epochs']} "
                f"epochs, {cfg['optim']['name']} lr {cfg['optim']['lr']}, seed {cfg['seed']}{start}")

    def config_name(cfg: dict, default: str) -> str:
        return f"configs/{cfg.get('source') or default}"

    turned, gain = rows["rotated"], Interval(**rows["intervals"]["rotated_tta_gain"])
    return f"""# rds defaults: the lung segmenter and RDS classifier shipped with nmkit

**Trained on phantoms, not patients.** `nmkit rds predict` (and `evaluate`, and the web page) use these two
models when no `--model` is given: the segmenter outlines the lungs of a neonatal chest radiograph (median
filter, rotation TTA when the lungs look small), then the classifier gives P(RDS) from the lung region.
They have never seen a real radiograph: a research and teaching tool, not a diagnosis.

- `{DEFAULT_MODELS[0]}`: `{seg_cfg['model']['name']}` at {seg_cfg['model']['work_size']} px, \
{rows['n_parameters']['segmenter']:,} parameters, random initialisation;
  `{config_name(seg_cfg, "rds-seg-fast.yaml")}`: {trained(seg_cfg)}.
- `{DEFAULT_MODELS[1]}`: `{cls_cfg['model']['name']}` at {cls_cfg['data']['size']} px, \
{rows['n_parameters']['lungs']:,} parameters, random initialisation;
  `{config_name(cls_cfg, "rds-cls-fast.yaml")}`: the image masked by the true lungs widened by \
{cls_cfg['data'].get('lung_margin', 0)} px (the same is done
  with the predicted lungs at inference), the study's flips; {trained(cls_cfg)}.
- Made with: `python benchmarks/rds.py --install` trains the four rds-*-fast configs, measures, then copies the
  segmenter and classifier here and writes this card; a later segmenter or classifier is measured and this card
  rewritten by `python benchmarks/rds.py --model SEGMENTER --model CLASSIFIER`. This card: `{rows['command']}`.
- Input: one grey radiograph, any size, dense = white (DICOM DX/CR windowed, MONOCHROME1 inverted, or PNG).

## Test set ({rows['n_test']} phantom radiographs, {rows['size']} px, seed {TEST_SEED}, devices untied from RDS)

Never used in training or for choosing settings (chosen on the validation split and on other phantoms, seed 4242).

- Lungs: mIoU {_ci(rows['intervals']['miou'])}, Dice {_f(r['dice'])} (median filter on; rotation TTA on, but it ran on
  {r['rotation_tta_images']} of {r['n']} images: it runs only where the predicted lungs look small).
- Rotated radiographs ({turned[ROTATED_POSTS[0]]['n']}, turned by +/-90 degrees, seed {ROTATED_SEED}): mIoU {_f(turned[ROTATED_POSTS[0]]['miou'])} without TTA,
  {_f(turned[ROTATED_POSTS[1]]['miou'])} with it (TTA ran on {turned[ROTATED_POSTS[1]]['rotation_tta_images']}); with minus without {gain.text('+.3f')}.
- RDS through the pipeline (predicted lungs): accuracy {_ci(rows['intervals']['accuracy'])}, sensitivity {_f(r['sensitivity'])},
  specificity {_f(r['specificity'])}, AUC {_f(r['auc'])}.
- Device shortcut: accuracy on the images whose devices agree with RDS minus accuracy on all:
  {_f(r['shortcut_drop_lungs'])}{'' if r['shortcut_drop_whole_image'] is None else f" (whole-image classifier, same training: {_f(r['shortcut_drop_whole_image'])})"}.

## Limits

- Phantom lungs are smooth superellipses with a synthetic ground-glass texture; real RDS, transient tachypnoea,
  pneumonia, meconium aspiration or a poor inspiration can look otherwise. Grade I RDS is where it errs most.
- Check the lung outline it draws before reading the probability.
- Machine that made this card: {rows['machine']}.
"""


if __name__ == "__main__":
    main()
