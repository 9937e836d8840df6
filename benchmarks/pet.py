"""pet benchmark: pix2pix vs CycleGAN vs both baselines and the noise-free reference, on a test set touched once.

    .venv/bin/python benchmarks/pet.py                      # train both fast configs, then score them
    .venv/bin/python benchmarks/pet.py --pix2pix src/nmkit/workflows/pet/default_model/pet-default.pt \\
        --cyclegan runs/pet-cyclegan-fast/model.pt          # score given models (no training)
    .venv/bin/python benchmarks/pet.py --install            # ... and ship the pix2pix generator as the default
    .venv/bin/python benchmarks/pet.py --smoke --out /tmp/x --pix2pix A.pt --cyclegan B.pt   # a tiny run

Sets (benchmarks/sets.py): both fast configs train on the phantom patients of seed 0 (40, split 28/6/6 by
patient); their 6 validation and 6 "test" patients and the 30 patients of seed 515151 were looked at to choose
epochs and options, so they are validation sets and nothing here is reported on them. The test set is
TEST_PATIENTS standard phantom patients (0-5 lesions) of the fresh seed TEST_SEED on the configs' grid, drawn after
every choice was made. The linear baseline and the population ratio are fitted on the training patients.

Every comparison carries a 95 % bootstrap interval over the test patients (paired: the methods share them;
lesion errors resample whole patients); an interval that crosses zero reads "no difference shown".
Training times come from this run, or, for a given model file, from benchmarks/results/training.json (the
run that made that file, by SHA-256). Writes the `pet` section of BENCHMARKS.md and benchmarks/results/pet.json;
with --install the pix2pix generator and its MODEL_CARD.md go to src/nmkit/workflows/pet/default_model/.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from common import (add_output_options, command, install_models, is_shipped, machine, outputs,  # noqa: E402
                    train_or_take, write_section)  # noqa: E402
from sets import seed  # noqa: E402

from nmkit.engine import load_config  # noqa: E402
from nmkit.metrics.bootstrap import RESAMPLES, Interval, bootstrap_interval, paired_difference, verdict  # noqa: E402
from nmkit.metrics.image import fid, fid_extractor  # noqa: E402
from nmkit.models import load_bundle  # noqa: E402
from nmkit.phantoms.fdg import TISSUES, FDGSpec, generate_fdg_patients  # noqa: E402
from nmkit.workflows.pet.analyse import predict_volume  # noqa: E402
from nmkit.workflows.pet.data import PatientPair, phantom_pair, phantom_patients, phantom_spec, split_patients  # noqa: E402
from nmkit.workflows.pet.evaluate import PSNR_RANGE_SUV, comparison_figure, fid_images, lesion_errors, patient_metrics  # noqa: E402
from nmkit.workflows.pet.task import fit_linear_scaling, identity_baseline, linear_baseline  # noqa: E402

TARGET = ROOT / "src" / "nmkit" / "workflows" / "pet" / "default_model"
TEST_SEED = seed("pet", "test", "benchmarks/pet.py")
TEST_PATIENTS = 40
NOISE_FREE = "noise-free delayed"
METRICS = ("psnr", "psnr_body", "ssim", "nrmse")
SHOWN = {"cyclegan": "CycleGAN"}  # method names as the text writes them
SMOKE_RESAMPLES = 200  # a smoke run proves the script runs; its intervals need not be fine
SMOKE_PHANTOM = {"n": 4, "size": 64, "pixel_mm": 10.7, "slices": 32, "slice_mm": 20.0}


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


def scaled_errors(patient: PatientPair, ratio: float | None = None) -> list[float]:
    """Each lesion's SUVmax error when its early SUVmax is scaled by ``ratio`` (None: its own true kinetic ratio)."""
    early, delayed, kinetic = lesion_maxima([patient]).T
    return list(np.abs(early * (kinetic if ratio is None else ratio) - delayed) / delayed)


def population_ratio(patients: list[PatientPair]) -> float:
    """The median delayed / early SUVmax ratio of these (training) patients' lesions."""
    early, delayed, _ = lesion_maxima(patients).T
    return float(np.median(delayed / early))


def tissue_bias(patient: PatientPair, truth: np.ndarray, prediction: np.ndarray) -> dict[str, float]:
    """Per tissue in this patient, the relative error of the prediction's mean SUV against the noise-free delayed."""
    bias = {}
    for name, code in TISSUES.items():
        inside = patient.labels == code
        if inside.any():
            bias[name] = float(prediction[inside].mean() / truth[inside].mean() - 1)
    return bias


def trained(name: str, given: str | None, results: Path, started_on: str) -> tuple[Path, dict | None]:
    return train_or_take(ROOT / "configs" / f"pet-{name}-fast.yaml", given, results, started_on)


def score_test_set(spec: FDGSpec, n: int, methods: dict, ratio: float, figure: Path | None,
                   fid_weights: str | None) -> dict:
    """Every method's per-patient metrics, lesion errors and tissue biases on the test set, patient by patient (so
    memory stays small), FID over all body slices, and the per-patient lesion errors of the two references."""
    names = [*methods, NOISE_FREE]
    per: dict[str, dict] = {name: {"patients": [], "lesions": [], "tissue": []} for name in names}
    slices: dict[str, list] = {name: [] for name in ["real", *names]}
    references: dict[str, list] = {"floor": [], "population_ratio": []}
    for i in range(n):
        patient = generate_fdg_patients(spec, 1, TEST_SEED, start=i, noise_free=True)[0]
        pair, truth = phantom_pair(i, patient, spec), patient.delayed_noise_free
        predictions = {name: predict(pair.early) for name, predict in methods.items()} | {NOISE_FREE: truth}
        if figure is not None and pair.lesions:
            comparison_figure([pair], {k: {"predictions": [v]} for k, v in predictions.items() if k != NOISE_FREE},
                              figure)
            figure = None
        slices["real"].append(fid_images([pair.delayed], [pair]))
        for name, prediction in predictions.items():
            per[name]["patients"].append(patient_metrics(pair, prediction))
            per[name]["lesions"].append([e["suvmax_error"] for e in lesion_errors(pair, prediction)])
            per[name]["tissue"].append(tissue_bias(pair, truth, prediction))
            per[name].setdefault("bias", []).append([e["suvmax_bias"] for e in lesion_errors(pair, prediction)])
            per[name].setdefault("retention", []).append(
                [e["retention_index_error"] for e in lesion_errors(pair, prediction)])
            slices[name].append(fid_images([prediction], [pair]))
        references["floor"].append(scaled_errors(pair))
        references["population_ratio"].append(scaled_errors(pair, ratio))
    extractor, extractor_name = fid_extractor(fid_weights)
    real = np.concatenate(slices["real"])
    for name in names:
        per[name]["fid"] = fid(real, np.concatenate(slices[name]), extractor)
    return {"per": per, "references": references, "fid_extractor": extractor_name}


def pooled_median(per_patient: list[list[float]]):
    """A statistic of patient indices: the median of the values of the drawn patients (lesions pooled)."""
    return lambda idx: float(np.median([v for i in idx for v in per_patient[i]]))


def lesion_interval(*per_patient: list[list[float]], resamples: int = RESAMPLES) -> Interval:
    """The pooled median lesion error (one series) or the difference of two (paired: the same lesions), resampling
    the test patients that hold lesions."""
    holding = [i for i, lesions in enumerate(per_patient[0]) if lesions]
    medians = [pooled_median([series[i] for i in holding]) for series in per_patient]
    if len(medians) == 1:
        return bootstrap_interval(medians[0], len(holding), resamples=resamples)
    return bootstrap_interval(lambda idx: medians[0](idx) - medians[1](idx), len(holding), resamples=resamples)


def summarise(scored: dict, resamples: int = RESAMPLES) -> dict:
    """Means and medians per method, and the intervals (``resamples`` bootstrap draws) of every comparison the
    section states."""
    per, refs = scored["per"], scored["references"]
    n = len(per[NOISE_FREE]["patients"])
    methods = {}
    for name, row in per.items():
        summary = {k: float(np.mean([m[k] for m in row["patients"]])) for k in METRICS}
        summary |= {"fid": row["fid"], "n_lesions": sum(map(len, row["lesions"])),
                    "lesion_suvmax_error_median": pooled_median(row["lesions"])(np.arange(n)),
                    "lesion_suvmax_bias_median": pooled_median(row["bias"])(np.arange(n)),
                    "lesion_retention_index_error_median": pooled_median(row["retention"])(np.arange(n)),
                    "tissue_bias": {t: float(np.mean([b[t] for b in row["tissue"] if t in b])) for t in TISSUES
                                    if any(t in b for b in row["tissue"])}}
        methods[name] = summary

    def metric(name: str, key: str) -> np.ndarray:
        return np.array([m[key] for m in per[name]["patients"]])

    def paired(a: str, b: str, key: str) -> dict:
        return paired_difference(metric(a, key), metric(b, key), resamples=resamples).as_dict()

    p2p = per["pix2pix"]
    intervals = {
        "pix2pix_minus_cyclegan": None if "cyclegan" not in per else {
            k: paired("pix2pix", "cyclegan", k) for k in METRICS} | {
            "lesion_suvmax_error": lesion_interval(p2p["lesions"], per["cyclegan"]["lesions"],
                                                   resamples=resamples).as_dict()},
        "pix2pix_minus_identity_psnr_body": paired("pix2pix", "identity", "psnr_body"),
        "pix2pix_lesion_suvmax_error": lesion_interval(p2p["lesions"], resamples=resamples).as_dict(),
        "pix2pix_minus_population_ratio_lesion": lesion_interval(p2p["lesions"], refs["population_ratio"],
                                                                 resamples=resamples).as_dict(),
    }
    return {"n_test_patients": n, "resamples": resamples, "methods": methods, "intervals": intervals, "fid_extractor": scored["fid_extractor"],
            "lesion_floor": pooled_median(refs["floor"])(np.arange(n)),
            "lesion_population_ratio": pooled_median(refs["population_ratio"])(np.arange(n))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pix2pix", help="a trained pix2pix bundle (default: train configs/pet-pix2pix-fast.yaml)")
    parser.add_argument("--cyclegan", help="a trained CycleGAN bundle (default: train configs/pet-cyclegan-fast.yaml; "
                        "'skip': score no CycleGAN)")
    parser.add_argument("--n-test", type=int, default=TEST_PATIENTS, help="test patients of seed TEST_SEED")
    parser.add_argument("--fid-weights")
    parser.add_argument("--install", action="store_true", help="ship the pix2pix generator as the package default")
    add_output_options(parser)
    args = parser.parse_args()
    results, benchmarks = outputs(args)
    results.mkdir(parents=True, exist_ok=True)
    started_on = machine()
    config = load_config(ROOT / "configs" / "pet-pix2pix-fast.yaml")
    phantom = dict(config["data"]["phantom"]) | (SMOKE_PHANTOM if args.smoke else {})
    n_test = 4 if args.smoke else args.n_test
    if args.smoke and not (args.pix2pix and args.cyclegan):
        raise SystemExit("--smoke scores given models: name --pix2pix and --cyclegan")
    training = phantom_patients(phantom, int(config["seed"]))
    train_part = split_patients(len(training), int(config["seed"]), tuple(config["data"]["split"]))["train"]
    training = [training[i] for i in train_part]
    coefficients = fit_linear_scaling([p.early for p in training], [p.delayed for p in training])
    ratio = population_ratio(training)
    bundles = {name: trained(name, getattr(args, name), results, started_on) for name in ("pix2pix", "cyclegan")
               if getattr(args, name) != "skip"}
    methods = {name: (lambda early, model=load_bundle(path)[0]: predict_volume(model, early))
               for name, (path, _) in bundles.items()}
    methods |= {"identity": identity_baseline, "linear": lambda early: linear_baseline(early, coefficients)}
    test_spec = dataclasses.replace(phantom_spec(phantom), max_lesions=FDGSpec().max_lesions)  # standard patients
    scored = score_test_set(test_spec, n_test, methods, ratio, results / "pet" / "pet_comparison.png",
                            args.fid_weights)
    result = summarise(scored, SMOKE_RESAMPLES if args.smoke else RESAMPLES) | {
        "command": command("pet.py"), "machine": started_on, "test_seed": TEST_SEED,
        "grid": [test_spec.slices, test_spec.size, test_spec.size], "psnr_data_range_suv": PSNR_RANGE_SUV,
        "models": {name: str(path) for name, (path, _) in bundles.items()},
        "training": {name: record for name, (_, record) in bundles.items()},
        "linear_coefficients": list(coefficients), "population_ratio": ratio,
        "phantom_patients_per_s": None if args.smoke else phantom_rate()}
    (results / "pet.json").write_text(json.dumps(result, indent=2, default=str))
    text = render(result)
    write_section("pet", text, benchmarks)
    if args.install or (is_shipped(bundles["pix2pix"][0], TARGET) and not args.out):
        install_models(TARGET, {"pet-default.pt": bundles["pix2pix"][0]}, card(bundles["pix2pix"][0], result))
    print(text)


def percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f} %"


def signed(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:+.1f} %"


def interval(d: dict, fmt: str = "+.4f", scale: float = 1.0, unit: str = "") -> str:
    return Interval(**d).text(fmt, scale, unit)


def comparison(d: dict, higher_is_better: bool = True) -> str:
    """"pix2pix better" / "CycleGAN better" / "no difference shown" for a pix2pix - CycleGAN interval."""
    said = verdict(Interval(**d), higher_is_better)
    return {"better": "pix2pix better", "worse": "CycleGAN better"}.get(said, said)


def render(result: dict) -> str:
    methods, iv = result["methods"], result["intervals"]
    rows = "\n".join(
        f"| {name if name != NOISE_FREE else '*' + name + '*'} | {m['psnr']:.2f} | {m['psnr_body']:.2f} | "
        f"{m['ssim']:.4f} | {m['nrmse']:.3f} | {m['fid']:.3g} | {percent(m['lesion_suvmax_error_median'])} | "
        f"{signed(m['lesion_suvmax_bias_median'])} | {percent(m['lesion_retention_index_error_median'])} |"
        for name, m in methods.items())
    tissues = [t for t in TISSUES if t in methods["pix2pix"]["tissue_bias"]]
    bias_rows = "\n".join(f"| {name} | " + " | ".join(signed(m["tissue_bias"].get(t)) for t in tissues) + " |"
                           for name, m in methods.items() if name != NOISE_FREE)
    vs = iv["pix2pix_minus_cyclegan"]
    comparisons = "No CycleGAN was scored on this test set (`--cyclegan skip`)." if vs is None else "\n".join(
        f"| {label} | {interval(vs[key], fmt, scale, unit)} | {comparison(vs[key], higher)} |"
        for label, key, fmt, scale, unit, higher in (
            ("PSNR (dB)", "psnr", "+.2f", 1, "", True), ("PSNR in the body (dB)", "psnr_body", "+.2f", 1, "", True),
            ("SSIM", "ssim", "+.4f", 1, "", True), ("NRMSE", "nrmse", "+.3f", 1, "", False),
            ("median lesion SUVmax error (points)", "lesion_suvmax_error", "+.1f", 100, "", False)))
    if vs is not None:
        comparisons = "| measure | pix2pix - CycleGAN | verdict |\n|---|---|---|\n" + comparisons
    training = result["training"]
    times = ", ".join(f"{name} {r['seconds'] / 60:.1f} min (on {r['machine']})" for name, r in training.items() if r)
    rate = result["phantom_patients_per_s"]
    epochs = {k: load_config(ROOT / "configs" / f"pet-{k}-fast.yaml")["trainer"]["max_epochs"] for k in training}
    grid = " x ".join(map(str, result["grid"]))
    return f"""## pet: early to delayed FDG PET

Command: `{result['command']}` on {result['machine']}.

Sets (benchmarks/sets.py): both fast configs train on the 28 training patients of phantom seed 0. Their 6
validation patients, the split's 6 "test" patients and the 30 patients of seed 515151 were all looked at to choose
epochs and options (the comments in configs/pet-*-fast.yaml), so they are validation sets and nothing below is
measured on them. **Test set: {result['n_test_patients']} standard phantom patients (0-5 lesions,
{methods['pix2pix']['n_lesions']} lesions) of seed {result['test_seed']}**, a seed first drawn after every choice
was made, on the configs' grid ({grid} voxels); scored once.

Models: {', '.join(f'{k} `{Path(v).relative_to(ROOT) if Path(v).is_relative_to(ROOT) else v}` ({epochs[k]} epochs)' for k, v in result['models'].items())}.
Training time: {times or 'not measured'}.
{'' if rate is None else f'Phantom: {rate:.2f} patients/s at 128 x 128 x 176. '}PSNR data range {result['psnr_data_range_suv']:g} SUV;
FID extractor: {result['fid_extractor']}.

*{NOISE_FREE}* is the phantom's delayed volume before its Poisson noise (blurred and post-filtered), scored against
the noisy delayed scans like the methods: what a perfect predictor would score.

| method | PSNR dB | PSNR body dB | SSIM | NRMSE | FID | lesion SUVmax error | lesion SUVmax bias | retention-index error |
|---|---|---|---|---|---|---|---|---|
{rows}

pix2pix - CycleGAN, mean over the test patients (lesion error: pooled median), with its 95 % bootstrap interval
({result.get('resamples', RESAMPLES):,} resamples of the patients, paired, seed 0):

{comparisons}

Mean SUV of each tissue (its label-map voxels) against the noise-free delayed volume's, relative, averaged over the
test patients:

| method | {' | '.join(t.replace('_', ' ') for t in tissues)} |
|---|{'---|' * len(tissues)}
{bias_rows}

Lesion errors are medians over all test lesions of |predicted - delayed| / delayed SUVmax; the bias is the
median signed error (below 0: uptake predicted too low); the retention-index error is absolute (RI = SUVmax
delayed / SUVmax early - 1). Two lesion references, early-only predictors told where each lesion is:
- the floor, each lesion's early SUVmax times its own true kinetic ratio (known only in phantoms):
  {percent(result['lesion_floor'])}: what the noise of the two scans alone leaves;
- the population ratio, each lesion's early SUVmax times the training lesions' median delayed / early SUVmax
  ratio ({result['population_ratio']:.3f}): {percent(result['lesion_population_ratio'])}.

{targets(result)}
"""


def targets(result: dict) -> str:
    """The issue's targets, each with its measured figure and interval."""
    iv = result["intervals"]
    vs = iv["pix2pix_minus_cyclegan"]
    gain, lesion, versus = (Interval(**iv[k]) for k in ("pix2pix_minus_identity_psnr_body",
                                                        "pix2pix_lesion_suvmax_error",
                                                        "pix2pix_minus_population_ratio_lesion"))
    minutes = {name: (r or {}).get("seconds", float("nan")) / 60 for name, r in result["training"].items()}
    minutes |= {name: float("nan") for name in ("pix2pix", "cyclegan") if name not in minutes}

    def shown(ok_low: bool, ok_estimate: bool) -> str:
        return "met" if ok_low else ("not shown (the estimate meets it, its interval does not)" if ok_estimate
                                     else "missed")

    return "\n".join([
        "Targets (met: the whole 95 % interval is on the target's side):",
        "- pix2pix beats CycleGAN: not measured (no CycleGAN scored on this test set)." if vs is None else
        f"- pix2pix beats CycleGAN on PSNR: {comparison(vs['psnr'])}, {interval(vs['psnr'], '+.2f', unit=' dB')}; "
        f"on SSIM: {comparison(vs['ssim'])}, {interval(vs['ssim'])}.",
        f"- pix2pix beats the identity by >= 3 dB PSNR in the body: {shown(gain.low >= 3, gain.estimate >= 3)} "
        f"({gain.text('+.2f', unit=' dB')}).",
        f"- Median lesion SUVmax error <= 10 %: {shown(lesion.high <= 0.10, lesion.estimate <= 0.10)} "
        f"({lesion.text('.1f', 100, ' %')}). The floor and the population ratio above show that no early-only "
        f"predictor gets there on these phantoms; the restated target, within 5 points of the population ratio, is "
        f"{shown(versus.high <= 0.05, versus.estimate <= 0.05)} (pix2pix - population ratio "
        f"{versus.text('+.1f', 100, ' points')}).",
        f"- Both fast configs train in <= 30 min: {training_verdict(minutes)} ("
        + "; ".join(f"{SHOWN.get(name, name)} {'not measured' if np.isnan(m) else f'{m:.1f} min'}" for name, m in minutes.items())
        + ")."])


def training_verdict(minutes: dict[str, float]) -> str:
    """"missed" if a fast config took over 30 min, "met" if every one was timed within it, else "not shown"."""
    if any(m > 30 for m in minutes.values()):
        return "missed"
    return "not shown (a config's time was not measured)" if any(np.isnan(m) for m in minutes.values()) else "met"


def lesion_limit(result: dict) -> str:
    """The card's line on lesions: how far the generator's lesion uptake is from the delayed scan's."""
    m = result["methods"]
    if m["pix2pix"]["lesion_suvmax_error_median"] >= m["identity"]["lesion_suvmax_error_median"]:
        return ("- It has not learnt that lesions gain uptake between the scans: it predicts about their early SUV or "
                "less,\n  so its lesion SUVmax is further from the delayed scan than the early scan's own.")
    return (f"- Lesion uptake is predicted too low (median bias {signed(m['pix2pix']['lesion_suvmax_bias_median'])}); "
            f"scaling each lesion's early SUVmax by\n  the training lesions' median ratio, which needs the lesions "
            f"found first, errs by {percent(result['lesion_population_ratio'])}.")


def tissue_limit(bias: dict[str, float]) -> str:
    """The card's line on organ uptake: the tissues whose mean SUV is furthest off."""
    worst = sorted(bias, key=lambda t: -abs(bias[t]))[:3]
    return ("- Organ uptake is not exact: mean SUV " + ", ".join(f"{t.replace('_', ' ')} {signed(bias[t])}" for t in worst)
            + "\n  against the noise-free delayed phantoms (BENCHMARKS.md has every tissue).")


def card(bundle: Path, result: dict) -> str:
    model, info = load_bundle(bundle)
    cfg = info["config"]
    phantom = cfg["data"]["phantom"]
    m = result["methods"]
    main, identity, truth = m["pix2pix"], m["identity"], m[NOISE_FREE]
    lesion = Interval(**result["intervals"]["pix2pix_lesion_suvmax_error"])
    return f"""# pet-default: the early-to-delayed FDG PET generator shipped with nmkit

**Trained on phantoms, not patients.** From an early 18F-FDG PET volume in SUVbw (7-21 min after injection) it
predicts the delayed one (42-63 min), axial slice by axial slice. It is a research tool: it has never seen a
patient, and a predicted delayed scan is not a measured one.

- Architecture: pix2pix, `{cfg['model']['name']}` ({', '.join(f'{k}={v}' for k, v in cfg['model'].items() if k != 'name')}),
  {sum(p.numel() for p in model.parameters()):,} parameters, random initialisation, 70 x 70 PatchGAN
  (base {cfg['gan']['discriminator']['base']}), L1 weight {cfg['gan']['lambda_l1']:g}, focal weight {cfg['gan'].get('focal_weight', 0):g}, lesion weight
  {cfg['gan'].get('lesion_weight', 0):g} (an L1 term over the lesion voxels of the training phantoms' label maps). Input and output: SUV / 10.
- Trained with: `nmkit train configs/pet-pix2pix-fast.yaml` (what `python benchmarks/pet.py --install` runs), seed
  {cfg['seed']}, {cfg['trainer']['max_epochs']} epochs, Adam lr {cfg['optim']['lr']}.
- Data: {phantom['n']} FDG kinetic phantom patients (`nmkit.phantoms.fdg`, seed {cfg['seed']}: two-tissue compartment
  kinetics, 0-{phantom.get('max_lesions', 5)} lesions of 8-30 mm each, PET blur and clinical noise) of {phantom['size']} x {phantom['size']} x {phantom['slices']}
  voxels of {phantom['pixel_mm']} x {phantom['pixel_mm']} x {phantom['slice_mm']} mm, split 70/15/15 by patient. Epochs and options were chosen on
  the split's validation and test patients and on 30 more phantom patients (seed 515151): all validation.

## Test ({result['n_test_patients']} phantom patients of seed {result['test_seed']}, drawn after every choice, scored once)

- Command: `{result['command']}`.
- PSNR {main['psnr']:.2f} dB (whole slices), {main['psnr_body']:.2f} dB in the body (copying the early scan:
  {identity['psnr_body']:.2f} dB); SSIM {main['ssim']:.3f}; NRMSE {main['nrmse']:.3f}. The phantoms' noise-free delayed volume,
  a perfect prediction, scores {truth['psnr_body']:.2f} dB in the body and SSIM {truth['ssim']:.3f}.
- Lesions ({main['n_lesions']}): median SUVmax error {lesion.text('.1f', 100, ' %')} against the measured delayed scan
  (copying the early scan: {percent(identity['lesion_suvmax_error_median'])}; the floor that noise leaves:
  {percent(result['lesion_floor'])}).

## Limits

{lesion_limit(result)}
{tissue_limit(main['tissue_bias'])}
- Phantom anatomy and kinetics only: real tumours, inflammation, brown fat, bowel and urinary activity will
  differ. Never read a lesion's uptake change off a predicted scan.
- Trained at {phantom['pixel_mm']} mm pixels: volumes on a much finer or coarser grid are outside its training.
- Machine that made this card: {result['machine']}.
"""


if __name__ == "__main__":
    main()
