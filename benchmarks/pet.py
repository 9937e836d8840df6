"""pet benchmark: phantom rate, fast-config training time, pix2pix vs CycleGAN vs both baselines on one test set.

    .venv/bin/python benchmarks/pet.py                                   # synth, train both fast configs, evaluate
    .venv/bin/python benchmarks/pet.py --pix2pix runs/pet-pix2pix-fast/model.pt --cyclegan runs/pet-cyclegan-fast/model.pt
    .venv/bin/python benchmarks/pet.py --install     # ... and ship the pix2pix generator as the package default

Both fast configs make the same phantom patients (40) in memory with seed 0; they are also written to
benchmarks/results/pet-data, so `evaluate` sees the patient-level split the models were trained on and
scores its test patients only. Writes the `pet` section of BENCHMARKS.md and benchmarks/results/pet.json.

The six test patients hold only about a dozen lesions, so lesion errors are also measured on an independent
set of phantom patients (seed INDEPENDENT_SEED, never trained on or chosen on). The lesion floor scales each
lesion's early SUVmax by its true kinetic ratio (delayed / early SUV of the lesion tissue, known only in
phantoms): the SUVmax error that noise and partial volume leave even then. With --install the pix2pix
generator and its MODEL_CARD.md go to src/nmkit/workflows/pet/default_model/.
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

from common import install_models, machine, write_section  # noqa: E402

from nmkit.engine import load_config, train  # noqa: E402
from nmkit.phantoms.fdg import TISSUES, FDGSpec, generate_fdg_patients, write_fdg_set  # noqa: E402
from nmkit.models import load_bundle  # noqa: E402
from nmkit.workflows.pet.analyse import predict_volume  # noqa: E402
from nmkit.workflows.pet.data import (PatientPair, folder_patients, phantom_pair, phantom_spec,  # noqa: E402
                                     split_patients)
from nmkit.workflows.pet.evaluate import evaluate_folder, lesion_errors, patient_metrics  # noqa: E402
from nmkit.workflows.pet.task import identity_baseline, linear_baseline  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
TARGET = ROOT / "src" / "nmkit" / "workflows" / "pet" / "default_model"
INDEPENDENT_SEED = 515151
INDEPENDENT_PATIENTS = 30


def phantom_rate(n: int = 3) -> float:
    start = time.perf_counter()
    generate_fdg_patients(FDGSpec(), n, seed=1)
    return n / (time.perf_counter() - start)


def lesion_maxima(patients: list[PatientPair]) -> np.ndarray:
    """Per lesion (rows): early SUVmax, delayed SUVmax and the true kinetic ratio (delayed / early lesion SUV)."""
    rows = []
    for p in patients:
        for lesion in p.lesions:
            inside = p.labels == lesion["label"]
            rows.append((float(p.early[inside].max()), float(p.delayed[inside].max()),
                         lesion["true_suv_delayed"] / lesion["true_suv_early"]))
    return np.array(rows).reshape(-1, 3)


def scaled_error(patients: list[PatientPair], ratio: float | None = None) -> float:
    """Median SUVmax error of each lesion's early SUVmax times ``ratio`` (None: its own true kinetic ratio)."""
    early, delayed, kinetic = lesion_maxima(patients).T
    return float(np.median(np.abs(early * (kinetic if ratio is None else ratio) - delayed) / delayed))


def population_ratio(patients: list[PatientPair]) -> float:
    """The median delayed / early SUVmax ratio of these (training) patients' lesions."""
    early, delayed, _ = lesion_maxima(patients).T
    return float(np.median(delayed / early))


def truth_patients(spec: FDGSpec, seed: int, indices: list[int]) -> list[tuple[PatientPair, np.ndarray]]:
    """Patients ``indices`` of the phantom set made with ``seed``, each with its noise-free delayed volume."""
    pairs = []
    for i in indices:
        patient = generate_fdg_patients(spec, 1, seed, start=i, noise_free=True)[0]
        pairs.append((phantom_pair(i, patient, spec), patient.delayed_noise_free))
    return pairs


def scores(patients: list[PatientPair], predictions: list[np.ndarray]) -> dict[str, float]:
    """Mean PSNR in the body and SSIM; median lesion SUVmax error, its bias and the retention-index error."""
    metrics = [patient_metrics(p, pred) for p, pred in zip(patients, predictions)]
    errors = [e for p, pred in zip(patients, predictions) for e in lesion_errors(p, pred)]
    return {"psnr_body": float(np.mean([m["psnr_body"] for m in metrics])),
            "ssim": float(np.mean([m["ssim"] for m in metrics])),
            **{f"{key}_median": float(np.median([e[key] for e in errors]))
               for key in ("suvmax_error", "suvmax_bias", "retention_index_error")}}


def tissue_bias(pairs: list[tuple[PatientPair, np.ndarray]], predictions: list[np.ndarray]) -> dict[str, float]:
    """Per tissue, the mean over patients of the relative error of its mean SUV against the noise-free delayed."""
    errors: dict[str, list[float]] = {name: [] for name in TISSUES}
    for (p, truth), pred in zip(pairs, predictions):
        for name, code in TISSUES.items():
            inside = p.labels == code
            if inside.any():
                errors[name].append(pred[inside].mean() / truth[inside].mean() - 1)
    return {name: float(np.mean(values)) for name, values in errors.items()}


def noise_free_reference(spec: FDGSpec, seed: int, names: list[str]) -> dict[str, float]:
    """PSNR, SSIM, NRMSE and lesion SUVmax error of the noise-free delayed volumes of the test patients ``names``
    (patient_00005: index 5 of the set made with ``seed``) against their noisy ones: a perfect predictor."""
    pairs = truth_patients(spec, seed, [int(name.split("_")[-1]) for name in names])
    metrics = [patient_metrics(p, truth) for p, truth in pairs]
    lesions = [e["suvmax_error"] for p, truth in pairs for e in lesion_errors(p, truth)]
    return {k: float(np.mean([m[k] for m in metrics])) for k in metrics[0]} | {
        "lesion_suvmax_error_median": float(np.median(lesions))}


def independent_check(spec: FDGSpec, bundles: dict[str, Path], coefficients: list[float], ratio: float
                      ) -> dict[str, object]:
    """On INDEPENDENT_PATIENTS standard phantom patients (0-5 lesions) on the grid of ``spec`` (the configs'),
    never trained on or chosen on: every method's PSNR in the body, SSIM, lesion errors and tissue mean
    SUV bias, the same but the bias for the noise-free delayed volume, the lesion floor and the population-ratio
    reference (each lesion's early SUVmax times the training lesions' median ``ratio``)."""
    standard = dataclasses.replace(spec, max_lesions=FDGSpec().max_lesions)  # whatever was trained on
    pairs = truth_patients(standard, INDEPENDENT_SEED, list(range(INDEPENDENT_PATIENTS)))
    patients = [p for p, _ in pairs]
    methods = {name: (lambda early, model=load_bundle(path)[0]: predict_volume(model, early))
               for name, path in bundles.items()}
    methods |= {"identity": identity_baseline, "linear": lambda early: linear_baseline(early, tuple(coefficients))}
    rows = {}
    for name, predict in methods.items():
        predictions = [predict(p.early) for p in patients]
        rows[name] = scores(patients, predictions) | {"tissue_bias": tissue_bias(pairs, predictions)}
    rows["noise-free delayed"] = scores(patients, [truth for _, truth in pairs])
    return {"seed": INDEPENDENT_SEED, "patients": INDEPENDENT_PATIENTS,
            "lesions": sum(len(p.lesions) for p in patients), "floor": scaled_error(patients), "population_ratio": scaled_error(patients, ratio), "methods": rows}


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
    parser.add_argument("--install", action="store_true", help="ship the pix2pix generator as the package default")
    args = parser.parse_args()
    started_on = machine()
    config = load_config(ROOT / "configs" / "pet-pix2pix-fast.yaml")
    phantom = dict(config["data"]["phantom"])
    spec = phantom_spec(phantom)
    data = RESULTS / "pet-data"
    if data.exists():
        shutil.rmtree(data)
    write_fdg_set(data, spec, int(phantom["n"]), seed=int(config["seed"]))
    pix2pix, pix2pix_s = trained("pix2pix", args.pix2pix)
    cyclegan, cyclegan_s = trained("cyclegan", args.cyclegan)
    result = evaluate_folder(data, [pix2pix, cyclegan], RESULTS / "pet", args.fid_weights)
    patients = folder_patients(data)
    test = [p for p in patients if p.name in result["test_patients"]]
    train_part = split_patients(len(patients), int(config["seed"]), tuple(config["data"]["split"]))["train"]
    ratio = population_ratio([patients[i] for i in train_part])
    result |= {"phantom_patients_per_s": phantom_rate(), "train_s": {"pix2pix": pix2pix_s, "cyclegan": cyclegan_s},
               "lesion_suvmax_error_floor": scaled_error(test), "population_ratio": ratio,
               "lesion_suvmax_error_population_ratio": scaled_error(test, ratio), "machine": started_on,
               "noise_free": noise_free_reference(spec, int(config["seed"]), result["test_patients"]),
               "independent": independent_check(spec, {"pix2pix": pix2pix, "cyclegan": cyclegan},
                                                result["linear_coefficients"], ratio)}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "pet.json").write_text(json.dumps(result, indent=2, default=str))
    text = render(result)
    write_section("pet", text)
    if args.install:
        install_models(TARGET, {"pet-default.pt": pix2pix}, card(pix2pix, result))
    print(text)


def percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f} %"


def signed(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:+.1f} %"


def render(result: dict) -> str:
    check = result["independent"]
    truth = result["noise_free"]
    test_rows = "\n".join(
        f"| {m['method']} | {m['psnr']:.2f} | {m['psnr_body']:.2f} | {m['ssim']:.4f} | {m['nrmse']:.3f} | {m['fid']:.3g} | "
        f"{percent(m['lesion_suvmax_error_median'])} |" for m in result["methods"])
    test_rows += (f"\n| *noise-free delayed* | {truth['psnr']:.2f} | {truth['psnr_body']:.2f} | {truth['ssim']:.4f} | "
                  f"{truth['nrmse']:.3f} | - | {percent(truth['lesion_suvmax_error_median'])} |")
    methods = by_method(result)
    independent_rows = "\n".join(
        f"| {name if name in methods else '*' + name + '*'} | {m['psnr_body']:.2f} | {m['ssim']:.4f} | "
        f"{percent(m['suvmax_error_median'])} | {signed(m['suvmax_bias_median'])} | "
        f"{percent(m['retention_index_error_median'])} |" for name, m in check["methods"].items())
    tissues = list(TISSUES)
    bias_rows = "\n".join(f"| {name} | " + " | ".join(signed(m["tissue_bias"][t]) for t in tissues) + " |"
                           for name, m in check["methods"].items() if "tissue_bias" in m)
    epochs = {k: load_config(ROOT / "configs" / f"pet-{k}-fast.yaml")["trainer"]["max_epochs"]
              for k in result["train_s"]}
    times = ", ".join(f"{k} {v / 60:.1f} min ({epochs[k]} epochs)" for k, v in result["train_s"].items()
                      if v is not None) or "not measured"
    return f"""## pet: early to delayed FDG PET

`.venv/bin/python benchmarks/pet.py` on {result['machine']}.
PSNR data range {result['psnr_data_range_suv']:g} SUV; FID extractor: {result['fid_extractor']}. Training time (fast
configs): {times}. Phantom: {result['phantom_patients_per_s']:.2f} patients/s at 128 x 128 x 176.

*noise-free delayed* is the phantom's delayed volume before its Poisson noise (blurred and post-filtered), scored
against the noisy delayed scans like the methods: what a perfect predictor would score, since nothing can predict
the delayed scan's own noise.

Test set: the {result['n_test_patients']} phantom patients of the fast configs' patient-level split
({', '.join(result['test_patients'])}), {result['methods'][0]['n_lesions']} lesions.

| method | PSNR dB | PSNR body dB | SSIM | NRMSE | FID | lesion SUVmax error |
|---|---|---|---|---|---|---|
{test_rows}

Independent set: {check['patients']} standard phantom patients (seed {check['seed']}, 0-5 lesions, {check['lesions']} lesions), never
trained on and never used to choose a config.

| method | PSNR body dB | SSIM | lesion SUVmax error | lesion SUVmax bias | retention-index error |
|---|---|---|---|---|---|
{independent_rows}

Mean SUV of each tissue (its label-map voxels) against the noise-free delayed volume's, relative, averaged over
the independent patients:

| method | {' | '.join(t.replace('_', ' ') for t in tissues)} |
|---|{'---|' * len(tissues)}
{bias_rows}

Lesion errors are medians of |predicted - delayed| / delayed SUVmax; the bias is the median of the signed
error (below 0: lesion uptake predicted too low); the retention-index error is absolute (RI = SUVmax delayed /
SUVmax early - 1). Two more lesion references, early-only predictors that are told where each lesion is:
- the floor, each lesion's early SUVmax times its own true kinetic ratio (known only in phantoms): median SUVmax
  error {percent(result['lesion_suvmax_error_floor'])} on the test lesions, {percent(check['floor'])} on the independent ones. That is what the
  noise of the two scans alone leaves;
- the population ratio, each lesion's early SUVmax times the training lesions' median delayed / early SUVmax
  ratio ({result['population_ratio']:.3f}): {percent(result['lesion_suvmax_error_population_ratio'])} on the test lesions, {percent(check['population_ratio'])} on the independent ones. One early
  scan cannot show how much a lesion will retain, so an early-only predictor can hardly beat this.

{targets(result)}
"""


def by_method(result: dict) -> dict[str, dict]:
    return {m["method"]: m for m in result["methods"]}


def targets(result: dict) -> str:
    """The issue's targets, each with its measured figure."""
    by = by_method(result)
    p2p, cyc, ident = by["pix2pix"], by["cyclegan"], by["identity"]
    independent = result["independent"]["methods"]
    lesion = independent["pix2pix"]["suvmax_error_median"]
    reference = result["independent"]["population_ratio"]
    slowest = max((v for v in result["train_s"].values() if v is not None), default=None)

    def mark(ok: bool) -> str:
        return "met" if ok else "missed"

    lines = ["Targets:",
             f"- pix2pix beats CycleGAN on PSNR: {mark(p2p['psnr'] > cyc['psnr'])} ({p2p['psnr']:.2f} vs {cyc['psnr']:.2f} dB); "
             f"on SSIM: {mark(p2p['ssim'] > cyc['ssim'])} ({p2p['ssim']:.4f} vs {cyc['ssim']:.4f}; copying the early scan: "
             f"{ident['ssim']:.4f}; on the independent set {independent['pix2pix']['ssim']:.4f} vs "
             f"{independent['cyclegan']['ssim']:.4f}, {mark(independent['pix2pix']['ssim'] > independent['cyclegan']['ssim'])}).",
             f"- pix2pix beats the identity by >= 3 dB PSNR in the body: {mark(p2p['psnr_body'] - ident['psnr_body'] >= 3)} "
             f"({p2p['psnr_body'] - ident['psnr_body']:+.1f} dB).",
             f"- Median lesion SUVmax error <= 10 %: {mark(lesion <= 0.10)} ({percent(lesion)} on the independent lesions). "
             f"The floor and the population ratio above show that no early-only predictor gets there on these phantoms; "
             f"the restated target, within 5 points of the population ratio ({percent(reference + 0.05)}), is "
             f"{mark(lesion <= reference + 0.05)}.",
             "- Fast configs train in <= 30 min: " + ("not measured" if slowest is None else
                                                       f"{mark(slowest <= 1800)} (slowest {slowest / 60:.1f} min).")]
    return "\n".join(lines)


def lesion_limit(check: dict) -> str:
    """The card's line on lesions: how far the generator's lesion uptake is from the delayed scan's."""
    lesions = check["methods"]
    if lesions["pix2pix"]["suvmax_error_median"] >= lesions["identity"]["suvmax_error_median"]:
        return ("- It has not learnt that lesions gain uptake between the scans: it predicts about their early SUV or "
                "less,\n  so its lesion SUVmax is further from the delayed scan than the early scan's own.")
    return (f"- Lesion uptake is predicted too low (median bias {signed(lesions['pix2pix']['suvmax_bias_median'])}); "
            f"scaling each lesion's early SUVmax by\n  the training lesions' median ratio, which needs the lesions "
            f"found first, errs by {percent(check['population_ratio'])}.")


def tissue_limit(bias: dict[str, float]) -> str:
    """The card's line on organ uptake: the tissues whose mean SUV is furthest off."""
    worst = sorted(bias, key=lambda t: -abs(bias[t]))[:3]
    return ("- Organ uptake is not exact: mean SUV " + ", ".join(f"{t.replace('_', ' ')} {signed(bias[t])}" for t in worst)
            + "\n  against the noise-free delayed phantoms (BENCHMARKS.md has every tissue).")


def card(bundle: Path, result: dict) -> str:
    model, info = load_bundle(bundle)
    cfg = info["config"]
    phantom = cfg["data"]["phantom"]
    main = result["methods"][0]
    identity = next(m for m in result["methods"] if m["method"] == "identity")
    check = result["independent"]
    lesions = check["methods"]
    return f"""# pet-default: the early-to-delayed FDG PET generator shipped with nmkit

**Trained on phantoms, not patients.** From an early 18F-FDG PET volume in SUVbw (7-21 min after injection) it
predicts the delayed one (42-63 min), axial slice by axial slice. It is a research tool: it has never seen a
patient, and a predicted delayed scan is not a measured one.

- Architecture: pix2pix, `{cfg['model']['name']}` ({', '.join(f'{k}={v}' for k, v in cfg['model'].items() if k != 'name')}),
  {sum(p.numel() for p in model.parameters()):,} parameters, random initialisation, 70 x 70 PatchGAN
  (base {cfg['gan']['discriminator']['base']}), L1 weight {cfg['gan']['lambda_l1']:g}, focal weight {cfg['gan'].get('focal_weight', 0):g}, lesion weight
  {cfg['gan'].get('lesion_weight', 0):g} (an L1 term over the lesion voxels of the training phantoms' label maps). Input and output: SUV / 10.
- Trained with: `python benchmarks/pet.py --install` (= `nmkit train configs/pet-pix2pix-fast.yaml`, then the
  benchmark and this card), seed {cfg['seed']}, {cfg['trainer']['max_epochs']} epochs, Adam lr {cfg['optim']['lr']}.
- Data: {phantom['n']} FDG kinetic phantom patients (`nmkit.phantoms.fdg`: two-tissue compartment kinetics,
  0-{phantom.get('max_lesions', 5)} lesions of 8-30 mm each, PET blur and clinical noise) of {phantom['size']} x {phantom['size']} x {phantom['slices']}
  voxels of {phantom['pixel_mm']} x {phantom['pixel_mm']} x {phantom['slice_mm']} mm, split 70/15/15 by patient.

## Test ({result['n_test_patients']} phantom patients of the split, never trained on)

- PSNR {main['psnr']:.2f} dB (whole slices), {main['psnr_body']:.2f} dB in the body (copying the early scan:
  {identity['psnr_body']:.2f} dB); SSIM {main['ssim']:.3f}; NRMSE {main['nrmse']:.3f}. The phantoms' noise-free delayed volume,
  a perfect prediction, scores {result['noise_free']['psnr_body']:.2f} dB in the body and SSIM {result['noise_free']['ssim']:.3f}.
- Lesions ({check['lesions']} in {check['patients']} independent phantom patients): median SUVmax error
  {percent(lesions['pix2pix']['suvmax_error_median'])} against the measured delayed scan (copying the early scan:
  {percent(lesions['identity']['suvmax_error_median'])}; the floor that noise leaves: {percent(check['floor'])}).

## Limits

{lesion_limit(check)}
{tissue_limit(lesions['pix2pix']['tissue_bias'])}
- Phantom anatomy and kinetics only: real tumours, inflammation, brown fat, bowel and urinary activity will
  differ. Never read a lesion's uptake change off a predicted scan.
- Trained at {phantom['pixel_mm']} mm pixels: volumes on a much finer or coarser grid are outside its training.
- Machine that made this card: {result['machine']}.
"""


if __name__ == "__main__":
    main()
