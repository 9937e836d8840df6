"""Build the QC model shipped in the package, and its model card, from configs/qc-default.yaml.

    .venv/bin/python benchmarks/qc_default_model.py                 # train, then evaluate and install
    .venv/bin/python benchmarks/qc_default_model.py --run runs/qc-default   # use a finished run
    .venv/bin/python benchmarks/qc_default_model.py --smoke --out /tmp/x --model M.pt   # a tiny run, nothing installed

Copies RUN/model.pt to src/nmkit/workflows/qc/default_model/qc-default.pt and writes MODEL_CARD.md
beside it with metrics on phantom test sets that training never saw.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from common import add_output_options, machine  # noqa: E402
from sets import seed  # noqa: E402

from nmkit.engine import load_config, train  # noqa: E402
from nmkit.models import load_bundle  # noqa: E402
from nmkit.phantoms.flood import FloodSpec, generate_floods  # noqa: E402
from nmkit.workflows.qc.evaluate import evaluate_floods  # noqa: E402

TARGET = ROOT / "src" / "nmkit" / "workflows" / "qc" / "default_model"
CONFIG = ROOT / "configs" / "qc-default.yaml"
TEST_SEED = seed("qc", "test", "benchmarks/qc_default_model.py")  # the ledger, benchmarks/sets.py
ALL_DEFECTS = ("cold_disc", "hot_spot", "pmt_failure", "crack")
TEST_SETS = [  # (name, spec, n)
    ("study grid, 98 counts/px, cold discs", FloodSpec.paper(), 1000),
    ("study grid, 392 counts/px, cold discs", dataclasses.replace(FloodSpec.paper(), counts=392.0), 1000),
    ("circular FOV, 300 counts/px, all defect types", dataclasses.replace(FloodSpec(), counts=300.0, fov="circular",
                                                                          defect_types=ALL_DEFECTS), 600),
    ("octagonal FOV, 800 counts/px, all defect types", dataclasses.replace(FloodSpec(), counts=800.0, fov="octagonal",
                                                                           defect_types=ALL_DEFECTS), 600),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, help="a finished run folder of configs/qc-default.yaml")
    parser.add_argument("--model", type=Path, help="score this bundle (with --out: nothing is installed)")
    add_output_options(parser)
    args = parser.parse_args()
    if args.smoke and not (args.out and args.model):
        raise SystemExit("--smoke scores a given --model into --out")
    run = args.run or ROOT / "runs" / "qc-default"
    if not (args.run or args.model):
        train(load_config(CONFIG), run)
    bundle = args.model or run / "model.pt"
    model, info = load_bundle(bundle)
    rows = []
    for name, spec, n in TEST_SETS:
        n = 8 if args.smoke else n
        images, records = generate_floods(spec, n, seed=TEST_SEED)
        r = evaluate_floods(images, records, model, info)
        rows.append({"test set": name, "n": n, **{k: r[k] for k in ("accuracy", "sensitivity", "specificity", "auc",
                                                                   "observer_auc")}})
    target = args.out or TARGET
    target.mkdir(parents=True, exist_ok=True)
    if not (target / "qc-default.pt").exists() or not (target / "qc-default.pt").samefile(bundle):
        shutil.copyfile(bundle, target / "qc-default.pt")
    (target / "MODEL_CARD.md").write_text(card(info, rows, target))
    print(json.dumps(rows, indent=2))


def real_flood_line() -> str:
    """The shipped model on the real IAEA NMQC flood, when ../shared/data is present."""
    flood = ROOT.parent / "shared" / "data" / "flood" / "UNIFORMIDAD_1.dcm"
    if not flood.is_file():
        return "not measured (../shared/data absent)."
    from nmkit.workflows.qc.analyse import FloodQC, load_qc_model

    r = FloodQC(flood).analyze(*load_qc_model(TARGET / "qc-default.pt")).results_data()
    return (f"`UNIFORMIDAD_1.dcm` (IAEA NMQC, MEDISO intrinsic flood, 256x256, UFOV IU {r.ufov_iu:.2f} %): "
            f"defect probability {r.defect_probability:.3f}, verdict {r.verdict}.")


def card(info: dict, rows: list[dict], target: Path = TARGET) -> str:
    cfg = info["config"]
    real = real_flood_line()
    n_params = sum(v.numel() for v in load_bundle(target / "qc-default.pt")[0].state_dict().values())
    table = ["| test set | n | accuracy | sensitivity | specificity | AUC | ideal-observer AUC (cold discs) |",
             "|---|---|---|---|---|---|---|"]
    table += [f"| {r['test set']} | {r['n']} | {r['accuracy']:.3f} | {r['sensitivity']:.3f} | {r['specificity']:.3f} | "
              f"{r['auc']:.3f} | {r['observer_auc']:.3f} |" for r in rows]
    val = info.get("final_metrics", {})
    return f"""# qc-default: the QC model shipped with nmkit

**Trained on phantoms, not patients.** It flags local defects in gamma-camera floods (cold regions, hot
spots, PMT failures, crystal cracks); it does not replace NEMA NU 1 uniformity or a physicist's review.

- Architecture: `{cfg['model']['name']}` ({', '.join(f'{k}={v}' for k, v in cfg['model'].items() if k != 'name')}),
  {n_params:,} parameters. Input: raw flood counts, any size; the model converts them to noise z-scores
  (sigma measured from neighbouring pixels) about the field mean inside the field of view it finds itself,
  less a 3-pixel edge rim, so any count level, stored gain and FOV shape works.
- Output: softmax probability of "defect"; `nmkit qc check` calls >= 0.5 a fail.
- Trained with: `nmkit train configs/qc-default.yaml --out runs/qc-default`, then
  `python benchmarks/qc_default_model.py --run runs/qc-default` (this card). Seed {cfg['seed']},
  {cfg['trainer']['max_epochs']} epochs, {cfg['optim']['name']} lr {cfg['optim']['lr']}.
- Data: {cfg['data']['phantom']['n']} phantom floods from `nmkit.phantoms.flood` ({'x'.join(map(str, cfg['data']['phantom'].get('shape', (175, 238))))} px,
  PMT pattern, gradient and edge packing, Poisson noise), counts/px {cfg['data']['phantom']['counts']}, FOV
  {cfg['data']['phantom'].get('fov')}, defects {cfg['data']['phantom']['defect_types']} in half of them;
  {int(cfg['data']['val_fraction'] * 100)} % held out for validation.
- Validation at the end of training: {', '.join(f'{k} {v:.4f}' for k, v in sorted(val.items()) if k.startswith('val'))}.

## Test sets (phantoms, seed {TEST_SEED}, never used in training)

{chr(10).join(table)}

Real flood: {real}

The ideal-observer column is the scanning matched filter for cold discs (`nmkit.workflows.qc.observer`);
for other defect types it is only a reference.

## Limits

- Real floods differ from phantoms (energy window, collimator, spatial non-linearity, afterglow); check
  the model on your own camera's known-good floods before relying on it, and retrain with your own data.
- Floods with far more than Poisson noise (e.g. heavily processed images) look defective to a Poisson model.
- Machine that made this card: {machine()}.
"""


if __name__ == "__main__":
    main()
