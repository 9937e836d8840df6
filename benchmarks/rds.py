"""rds benchmark: phantom rate, fast-config training, lung mIoU/Dice with and without the study's post-processing,
RDS accuracy through the two-stage pipeline, and the device shortcut test, on phantoms never trained on.

    .venv/bin/python benchmarks/rds.py                                   # train the four fast configs, measure
    .venv/bin/python benchmarks/rds.py --model seg.pt --model cls.pt --model whole.pt   # measure existing models
    .venv/bin/python benchmarks/rds.py --max-epochs 1 --n-train 30 --n-test 20          # a smoke run (minutes)

Writes the `rds` section of BENCHMARKS.md and benchmarks/results/rds.json.
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

from common import machine, write_section  # noqa: E402

from nmkit.engine import load_config, train  # noqa: E402
from nmkit.engine.config import merge  # noqa: E402
from nmkit.phantoms.chest import ChestSpec, generate_chest_xray, write_chest_set  # noqa: E402
from nmkit.workflows.rds.evaluate import evaluate_folder, load_rds_models  # noqa: E402
from nmkit.workflows.rds.postprocess import PostProcess, segment_lungs  # noqa: E402

TEST_SEED = 888_888  # never used for training (training sets use seeds < 1000)
CONFIGS = ("rds-seg-fast", "rds-cls-fast", "rds-whole-fast", "rds-joint-fast")  # joint starts from seg + cls
POSTS = {"none": PostProcess(median=False, tta=False), "median": PostProcess(median=True, tta=False),
         "median + rotation TTA": PostProcess(median=True, tta=True)}
STUDY_MIOU = {"none": 0.834, "median": 0.847, "median + rotation TTA": 0.913}


def phantom_rate(n: int = 20) -> float:
    start = time.perf_counter()
    for i in range(n):
        generate_chest_xray(ChestSpec(), 1, i)
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
    args = parser.parse_args()

    rows: dict = {"machine": machine(), "phantom_images_per_s": phantom_rate(), "train_seconds": {}}
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
    size = ChestSpec().shape[0] // 2
    with tempfile.TemporaryDirectory() as tmp:
        test_set = write_chest_set(Path(tmp) / "test", ChestSpec(shape=(size, size)), args.n_test, TEST_SEED)
        rows["by_postprocess"] = {name: evaluate_folder(test_set, bundles, post) for name, post in POSTS.items()}
    rows["predict_ms"] = predict_ms(load_rds_models(bundles), size)
    rows |= {"n_test": args.n_test, "size": size, "models": [str(b) for b in bundles]}
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / "rds.json").write_text(json.dumps(rows, indent=2, default=str))
    text = render(rows, args)
    write_section("rds", text)
    print(text)


def _f(value) -> str:
    return "-" if value is None else f"{value:.3f}"


def render(rows: dict, args) -> str:
    full = rows["by_postprocess"]["median + rotation TTA"]
    options = [f"--model {m}" for m in args.model or []] + [f"--n-test {args.n_test}"]
    options += [f"--n-train {args.n_train}"] if args.n_train else []
    options += [f"--max-epochs {args.max_epochs}"] if args.max_epochs else []
    cmd = " ".join(["python benchmarks/rds.py", *options])
    lines = ["## rds: neonatal RDS on chest X-ray", "",
             f"Command: `{cmd}` (test set: {rows['n_test']} phantom radiographs, {rows['size']} px, "
             f"seed {TEST_SEED}, devices untied from RDS, never used in training; classifiers trained with devices "
             "tied to RDS).",
             f"Machine: {rows['machine']}.", "",
             f"- Phantom rate (512 px): **{rows['phantom_images_per_s']:.1f} images/s**",
             *(f"- Training `{k}`: {v / 60:.1f} min" for k, v in rows["train_seconds"].items()),
             f"- Lung segmentation with post-processing, one {rows['size']} px image: {rows['predict_ms']:.0f} ms", "",
             "| post-processing | lung mIoU | Dice | study mIoU |", "|---|---|---|---|"]
    for name, r in rows["by_postprocess"].items():
        lines.append(f"| {name} | {_f(r['miou'])} | {_f(r['dice'])} | {STUDY_MIOU[name]} |")
    lines += ["", "| RDS classifier | accuracy | sensitivity | specificity | AUC | shortcut drop |",
              "|---|---|---|---|---|---|",
              f"| lungs (predicted masks) | {_f(full['accuracy'])} | {_f(full['sensitivity'])} | "
              f"{_f(full['specificity'])} | {_f(full['auc'])} | {_f(full['shortcut_drop_lungs'])} |",
              f"| whole image | {_f(full['whole_image_accuracy'])} | | | | "
              f"{_f(full['shortcut_drop_whole_image'])} |",
              f"| joint (segmenter + classifier fine-tuned together) | {_f(full['joint_accuracy'])} | | | "
              f"{_f(full['joint_auc'])} | {_f(full['shortcut_drop_joint'])} |", "",
              "Shortcut drop: accuracy on the test images whose device presence agrees with RDS (as in training) minus "
              "accuracy on the whole untied test set. Targets: mIoU >= 0.95, accuracy >= 0.95, lung drop <= 0.02."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
