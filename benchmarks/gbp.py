"""gbp benchmark: phantom rate, fast-config training time, Dice/IoU and EF agreement on unseen studies, latency.

    .venv/bin/python benchmarks/gbp.py                       # train configs/gbp-fast.yaml, then measure
    .venv/bin/python benchmarks/gbp.py --model runs/gbp-fast/model.pt   # measure an existing model
    .venv/bin/python benchmarks/gbp.py --install            # ... and ship the model as the package default

Writes the `gbp` section of BENCHMARKS.md and benchmarks/results/gbp.json; with --install also
src/nmkit/workflows/gbp/default_model/{gbp-default.pt,MODEL_CARD.md}.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from common import machine, write_section  # noqa: E402

from nmkit.engine import load_config, train  # noqa: E402
from nmkit.io import Image  # noqa: E402
from nmkit.models import load_bundle  # noqa: E402
from nmkit.phantoms.gated import GatedSpec, generate_gated_studies  # noqa: E402
from nmkit.workflows.gbp.analyse import GatedEF  # noqa: E402
from nmkit.workflows.gbp.evaluate import LabelledStudy, evaluate_studies  # noqa: E402

TEST_SEED = 777_777  # never used for training (training sets use seeds < 1000)
TARGET = ROOT / "src" / "nmkit" / "workflows" / "gbp" / "default_model"


def as_image(study, name: str) -> Image:
    return Image(study.frames, (study.pixel_mm, study.pixel_mm), "NM", {"gated": True}, Path(name))


def test_studies(n: int):
    """Unseen phantom studies, made in chunks so memory stays small."""
    for start in range(0, n, 10):
        for i, s in enumerate(generate_gated_studies(GatedSpec(), min(10, n - start), TEST_SEED, start=start)):
            yield LabelledStudy(as_image(s, f"test_{start + i:04d}"), s.lv_masks, s.true_ef, s.ed_frame, s.es_frame)


def phantom_rate(n: int = 40) -> float:
    start = time.perf_counter()
    generate_gated_studies(GatedSpec(), n, seed=1)
    return n / (time.perf_counter() - start)


def ef_latency(model, info, repeats: int = 5) -> float:
    image = as_image(generate_gated_studies(GatedSpec(), 1, seed=3)[0], "latency")
    GatedEF(image).analyze(model, info)
    start = time.perf_counter()
    for _ in range(repeats):
        GatedEF(image).analyze(model, info)
    return (time.perf_counter() - start) / repeats * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=str(ROOT / "configs" / "gbp-fast.yaml"))
    parser.add_argument("--model", help="evaluate this bundle instead of training the config")
    parser.add_argument("--n-test", type=int, default=100)
    parser.add_argument("--install", action="store_true", help="ship the model as the package default")
    args = parser.parse_args()

    rows = {"machine": machine(), "phantom_studies_per_s": phantom_rate()}
    if args.model:
        bundle, train_s = Path(args.model), None
    else:
        start = time.perf_counter()
        bundle = train(load_config(args.config), ROOT / "runs" / Path(args.config).stem)
        train_s = time.perf_counter() - start
    rows |= {"train_seconds": train_s, "model": str(bundle)}
    model, info = load_bundle(bundle)
    info["model_path"] = str(bundle)
    out = ROOT / "benchmarks" / "results"
    result = evaluate_studies(test_studies(args.n_test), model, info, out / "gbp")
    crescent = evaluate_studies(test_studies(args.n_test), model, info, None, background="crescent")
    rows |= {"evaluation": result, "crescent": {k: crescent[k] for k in (
        "ef_bias", "ef_mae", "ef_loa_low", "ef_loa_high", "reference_ef_bias", "reference_ef_mae")},
        "ef_ms": ef_latency(model, info), "n_parameters": sum(p.numel() for p in model.parameters())}
    out.mkdir(exist_ok=True)
    (out / "gbp.json").write_text(json.dumps(rows, indent=2, default=str))
    text = render(rows, args)
    write_section("gbp", text)
    if args.install:
        TARGET.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(bundle, TARGET / "gbp-default.pt")
        (TARGET / "MODEL_CARD.md").write_text(card(info, rows))
    print(text)


def render(rows: dict, args) -> str:
    r, c = rows["evaluation"], rows["crescent"]
    cmd = "python benchmarks/gbp.py" + (f" --model {args.model}" if args.model else
                                        f" --config {Path(args.config).relative_to(ROOT)}")
    train_line = (f"- Training time of the config: **{rows['train_seconds'] / 60:.1f} min**" if rows["train_seconds"]
                  else "- Training: not run (existing model)")
    lines = [
        "## gbp: gated blood pool LVEF", "",
        f"Command: `{cmd}` (test set: {r['n']} phantom studies of 24 frames, 256x256, seed {TEST_SEED}, "
        "never used in training; EF by the study's method on model ROIs of every frame, ED from the ECG gating, "
        "ES from the LV curve).", f"Machine: {rows['machine']}.", "",
        f"- Phantom rate (24x256x256 studies, `generate_gated_studies`): **{rows['phantom_studies_per_s']:.1f} "
        "studies/s**", train_line,
        f"- Model: {rows['n_parameters']:,} parameters; `gbp ef` latency after model load (24 frames, 256x256, "
        f"segmentation + EF): **{rows['ef_ms']:.0f} ms**", "",
        "| metric | ED | ES | study (ED / ES) |", "|---|---|---|---|",
        f"| Dice | {r['dice_ed']:.4f} +/- {r['dice_ed_sd']:.4f} | {r['dice_es']:.4f} +/- {r['dice_es_sd']:.4f} "
        "| 0.9465 / 0.9016 |",
        f"| IoU | {r['iou_ed']:.4f} | {r['iou_es']:.4f} | |",
        f"| pixel accuracy | {r['pixel_accuracy_ed']:.4f} | {r['pixel_accuracy_es']:.4f} | |", "",
        "| EF against the true EF (points) | bias | MAE | 95 % limits |", "|---|---|---|---|",
        f"| model ROIs, study background | {r['ef_bias']:+.2f} | {r['ef_mae']:.2f} | {r['ef_loa_low']:+.2f} to "
        f"{r['ef_loa_high']:+.2f} |",
        f"| true ROIs, study background (the method's own error) | {r['reference_ef_bias']:+.2f} | "
        f"{r['reference_ef_mae']:.2f} | |",
        f"| model ROIs, guideline crescent background | {c['ef_bias']:+.2f} | {c['ef_mae']:.2f} | "
        f"{c['ef_loa_low']:+.2f} to {c['ef_loa_high']:+.2f} |",
        f"| true ROIs, guideline crescent background | {c['reference_ef_bias']:+.2f} | {c['reference_ef_mae']:.2f} | |",
        f"| classical baseline (phase + threshold ROIs), study background | | {r['baseline_ef_mae']:.2f} | "
        f"({r['baseline_failures']} failures) |", "",
        f"Model vs true-ROI EF, Wilcoxon signed-rank p = {r['model_vs_reference_wilcoxon_p']:.3g}; ES frame found "
        f"exactly in {100 * r['es_frame_agreement']:.0f} % of studies.", "",
        "The study's Table 1 on this test set (ROI size in pixels of the 256x256 matrix, ROI counts, EF):", "",
        "| " + " | ".join(r["table1"][0]) + " |", "|" + "---|" * len(r["table1"][0])]
    lines += ["| " + " | ".join(str(v) for v in row.values()) + " |" for row in r["table1"]]
    return "\n".join(lines)


def card(info: dict, rows: dict) -> str:
    cfg, r = info["config"], rows["evaluation"]
    return f"""# gbp-default: the LV segmentation model shipped with nmkit

**Trained on phantoms, not patients.** It outlines the left ventricle on every frame of an ECG-gated
blood-pool (MUGA) study in the LAO view, for the EF computation of `nmkit gbp ef`; check its ROIs on the
overlay before reporting an EF.

- Architecture: `{cfg['model']['name']}` ({', '.join(f'{k}={v}' for k, v in cfg['model'].items() if k != 'name') or
  'defaults'}), {rows['n_parameters']:,} parameters, random initialisation. Input: raw counts of one frame, any
  size (scaled by the frame's 99.5th percentile, run at 128 px, logits resampled back).
- Trained with: `python benchmarks/gbp.py --install` (= `nmkit train configs/gbp-fast.yaml` then this card), seed
  {cfg['seed']}, {cfg['trainer']['max_epochs']} epochs, {cfg['optim']['name']} lr {cfg['optim']['lr']}.
- Data: {cfg['data']['phantom']['n']} phantom studies from `nmkit.phantoms.gated` (24 frames, 64x64 acquired,
  256x256 resampled; EF 15-80 %, 200-400 kcounts/frame, heart size, position and rotation varied), the study's
  4 frames per study (ED, ED+2, ES, ES+2), 60/20/20 split by study, the study's augmentation; true LV masks.

## Test set ({r['n']} phantom studies, seed {TEST_SEED}, never used in training)

- Dice ED {r['dice_ed']:.4f} +/- {r['dice_ed_sd']:.4f}, ES {r['dice_es']:.4f} +/- {r['dice_es_sd']:.4f};
  IoU ED {r['iou_ed']:.4f}, ES {r['iou_es']:.4f}.
- EF against the true EF (study's background): bias {r['ef_bias']:+.2f}, MAE {r['ef_mae']:.2f}, 95 % limits
  {r['ef_loa_low']:+.2f} to {r['ef_loa_high']:+.2f} points (true ROIs with the same method: bias
  {r['reference_ef_bias']:+.2f}, MAE {r['reference_ef_mae']:.2f}).

## Limits

- Phantoms are ellipsoids with uniform activity: real hearts, with hypertrophy, dilated atria, pericardial
  effusion or a different view angle, can fool it. Review every ROI.
- The background method, not the ROI, sets much of the EF error: see BENCHMARKS.md.
- Machine that made this card: {rows['machine']}.
"""


if __name__ == "__main__":
    main()
