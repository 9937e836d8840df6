"""pet benchmark: phantom rate, fast-config training time, pix2pix vs CycleGAN vs both baselines on one test set.

    .venv/bin/python benchmarks/pet.py                                   # synth, train both fast configs, evaluate
    .venv/bin/python benchmarks/pet.py --pix2pix runs/pet-pix2pix-fast/model.pt --cyclegan runs/pet-cyclegan-fast/model.pt

Both fast configs make the same phantom patients (40) in memory with seed 0; they are also written to
benchmarks/results/pet-data, so `evaluate` sees the patient-level split the models were trained on and
scores its test patients only. Writes the `pet` section of BENCHMARKS.md and benchmarks/results/pet.json.

The lesion floor scales each test lesion's early SUVmax by its true kinetic ratio (delayed / early SUV of the
lesion tissue, known only in phantoms): the SUVmax error that noise and partial volume leave even then.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from common import machine, write_section  # noqa: E402

from nmkit.engine import load_config, train  # noqa: E402
from nmkit.phantoms.fdg import FDGSpec, generate_fdg_patients, write_fdg_set  # noqa: E402
from nmkit.workflows.pet.data import folder_patients  # noqa: E402
from nmkit.workflows.pet.evaluate import evaluate_folder  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def phantom_rate(n: int = 3) -> float:
    start = time.perf_counter()
    generate_fdg_patients(FDGSpec(), n, seed=1)
    return n / (time.perf_counter() - start)


def lesion_floor(data: Path, test: list[str]) -> float:
    errors = []
    for p in folder_patients(data):
        for lesion in p.lesions if p.name in test else []:
            inside = p.labels == lesion["label"]
            delayed = float(p.delayed[inside].max())
            scaled = float(p.early[inside].max()) * lesion["true_suv_delayed"] / lesion["true_suv_early"]
            errors.append(abs(scaled - delayed) / delayed)
    return float(np.median(errors))


def trained(name: str, given: str | None) -> tuple[Path, float | None]:
    if given:
        return Path(given), None
    start = time.perf_counter()
    bundle = train(load_config(ROOT / "configs" / f"pet-{name}-fast.yaml"), ROOT / "runs" / f"pet-{name}-fast")
    return bundle, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pix2pix")
    parser.add_argument("--cyclegan")
    parser.add_argument("--fid-weights")
    args = parser.parse_args()
    config = load_config(ROOT / "configs" / "pet-pix2pix-fast.yaml")
    phantom = dict(config["data"]["phantom"])
    spec = dataclasses.replace(FDGSpec(), **{k: v for k, v in phantom.items() if k != "n"})
    data = RESULTS / "pet-data"
    if data.exists():
        shutil.rmtree(data)
    write_fdg_set(data, spec, int(phantom["n"]), seed=int(config["seed"]))
    pix2pix, pix2pix_s = trained("pix2pix", args.pix2pix)
    cyclegan, cyclegan_s = trained("cyclegan", args.cyclegan)
    result = evaluate_folder(data, [pix2pix, cyclegan], RESULTS / "pet", args.fid_weights)
    result |= {"phantom_patients_per_s": phantom_rate(), "train_s": {"pix2pix": pix2pix_s, "cyclegan": cyclegan_s},
               "lesion_suvmax_error_floor": lesion_floor(data, result["test_patients"]), "machine": machine()}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "pet.json").write_text(json.dumps(result, indent=2, default=str))
    rows = "\n".join(
        f"| {m['method']} | {m['psnr']:.2f} | {m['psnr_body']:.2f} | {m['ssim']:.3f} | {m['nrmse']:.3f} | {m['fid']:.3g} | "
        + ("-" if m["lesion_suvmax_error_median"] is None else f"{100 * m['lesion_suvmax_error_median']:.1f} %")
        + " |" for m in result["methods"])
    epochs = {k: load_config(ROOT / "configs" / f"pet-{k}-fast.yaml")["trainer"]["max_epochs"]
              for k in result["train_s"]}
    times = ", ".join(f"{k} {v / 60:.1f} min ({epochs[k]} epochs)" for k, v in result["train_s"].items()
                      if v is not None) or "not measured"
    write_section("pet", f"""## pet: early to delayed FDG PET

`.venv/bin/python benchmarks/pet.py` on {result['machine']}.
Test set: {result['n_test_patients']} phantom patients of the fast configs' patient-level split
({', '.join(result['test_patients'])}); PSNR data range {result['psnr_data_range_suv']:g} SUV; FID extractor:
{result['fid_extractor']}. Training time (fast configs): {times}. Phantom: {result['phantom_patients_per_s']:.2f}
patients/s at 128 x 128 x 176. {result['methods'][0]['n_lesions']} test lesions; the lesion floor (each lesion's early
SUVmax times its true kinetic ratio, known only in phantoms) has a median SUVmax error of
{100 * result['lesion_suvmax_error_floor']:.1f} %.

| method | PSNR dB | PSNR body dB | SSIM | NRMSE | FID | median lesion SUVmax error |
|---|---|---|---|---|---|---|
{rows}
""")


if __name__ == "__main__":
    main()
