"""Evaluate PET generators and the baselines on the test patients of a synthesised set's patient-level split.

The split (seed and fractions) is the first model's training config's, so the test patients were never
trained on; the linear baseline is fitted on that split's training patients. Per method: PSNR over whole
body-containing slices and inside the body (data range :data:`PSNR_RANGE_SUV`), SSIM, NRMSE (body), FID
over test slices (SUV / 10 clipped to [0, 1]), and per lesion the SUVmax error against the delayed image and
the retention-index error, RI = (SUVmax delayed - SUVmax early) / SUVmax early.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from nmkit.datasets import evaluation_set, is_own_data, write_rows_csv
from nmkit.errors import InputError
from nmkit.metrics.image import fid, fid_extractor, nrmse, psnr, ssim
from nmkit.report.figures import image_row_figure
from nmkit.workflows.pet.analyse import load_pet_model, predict_volume
from nmkit.workflows.pet.data import BODY_SUV, SPLIT, SUV_SCALE, PatientPair, folder_patients, split_patients
from nmkit.workflows.pet.task import fit_linear_scaling, identity_baseline, linear_baseline

PSNR_RANGE_SUV = 10.0
"""PSNR and SSIM data range in SUV (the normalisation's unit: SUV 0-10 is 0-1 for the networks)."""


def body_mask(patient: PatientPair) -> np.ndarray:
    """The phantom's body (labels > 0) when known, else early SUV > :data:`BODY_SUV`."""
    return patient.labels > 0 if patient.labels is not None else patient.early > BODY_SUV


def lesion_errors(patient: PatientPair, predicted: np.ndarray) -> list[dict[str, float]]:
    """Per lesion: relative SUVmax error |pred - delayed| / delayed, its sign kept (bias), and the absolute
    retention-index error."""
    if patient.labels is None:
        return []
    rows = []
    for lesion in patient.lesions:
        inside = patient.labels == lesion["label"]
        early, delayed, pred = (float(v[inside].max()) for v in (patient.early, patient.delayed, predicted))
        if early <= 0 or delayed <= 0:
            continue
        rows.append({"suvmax_error": abs(pred - delayed) / delayed, "suvmax_bias": (pred - delayed) / delayed,
                     "retention_index_error": abs((pred - early) / early - (delayed - early) / early)})
    return rows


def patient_metrics(patient: PatientPair, predicted: np.ndarray) -> dict[str, float]:
    """PSNR (whole slices and body), SSIM and NRMSE of one predicted delayed volume."""
    body = body_mask(patient)
    rows = body.any(axis=(1, 2))
    return {"psnr": psnr(predicted[rows], patient.delayed[rows], PSNR_RANGE_SUV),
            "psnr_body": psnr(predicted, patient.delayed, PSNR_RANGE_SUV, mask=body),
            "ssim": ssim(predicted[rows], patient.delayed[rows], PSNR_RANGE_SUV),
            "nrmse": nrmse(predicted, patient.delayed, mask=body)}


def fid_images(volumes: list[np.ndarray], patients: list[PatientPair]) -> np.ndarray:
    return np.concatenate([np.clip(v[body_mask(p).any(axis=(1, 2))] / SUV_SCALE, 0, 1)
                           for v, p in zip(volumes, patients)])


def evaluate_patients(test: list[PatientPair], methods: dict[str, Any], fid_weights: str | Path | None = None
                      ) -> dict[str, dict[str, Any]]:
    """Metrics per method; ``methods`` maps a name to a function early volume -> predicted delayed volume."""
    extractor, extractor_name = fid_extractor(fid_weights)
    real = fid_images([p.delayed for p in test], test)
    results = {}
    for name, predict in methods.items():
        predictions = [predict(p.early) for p in test]
        per_patient = [patient_metrics(p, pred) for p, pred in zip(test, predictions)]
        lesions = [row for p, pred in zip(test, predictions) for row in lesion_errors(p, pred)]
        summary: dict[str, Any] = {"method": name}
        for key in ("psnr", "psnr_body", "ssim", "nrmse"):
            summary[key] = float(np.mean([m[key] for m in per_patient]))
        summary["fid"] = fid(real, fid_images(predictions, test), extractor)
        summary["fid_extractor"] = extractor_name
        summary["n_lesions"] = len(lesions)
        for key in ("suvmax_error", "suvmax_bias", "retention_index_error"):
            summary[f"lesion_{key}_median"] = float(np.median([r[key] for r in lesions])) if lesions else None
        results[name] = summary | {"predictions": predictions}
    return results


def evaluate_folder(data: str | Path, models: list[str | Path], out_dir: str | Path | None = None,
                    fid_weights: str | Path | None = None) -> dict[str, Any]:
    """Evaluate ``models`` (the first one is the headline; none: the shipped default) and both baselines on the
    folder's test patients (an own-data folder: :func:`evaluate_own_data` with the first model)."""
    if is_own_data(data):
        return evaluate_own_data(data, (models or [None])[0], out_dir, fid_weights)
    loaded = [load_pet_model(path) for path in models or [None]]
    config = loaded[0][1].get("config") or {}
    seed = int(config.get("seed", 0))
    fractions = tuple((config.get("data") or {}).get("split", SPLIT))
    patients = folder_patients(data)
    if len(patients) < 3:
        raise InputError(data, f"holds {len(patients)} patients; evaluation needs at least 3 (train/val/test split)")
    parts = split_patients(len(patients), seed, fractions)
    train = [patients[i] for i in parts["train"]]
    test = [patients[i] for i in parts["test"]]
    coefficients = fit_linear_scaling([p.early for p in train], [p.delayed for p in train])
    methods: dict[str, Any] = {}
    for model, info in loaded:
        path = Path(info["model_path"])
        method = ((info.get("config") or {}).get("gan") or {}).get("method") or path.stem
        name = method if method not in methods else f"{method} ({path.name})"
        methods[name] = lambda early, model=model: predict_volume(model, early)
    headline = next(iter(methods))
    methods["identity"] = identity_baseline
    methods["linear"] = lambda early: linear_baseline(early, coefficients)
    results = evaluate_patients(test, methods, fid_weights)
    main = results[headline]
    result: dict[str, Any] = {
        "model": loaded[0][1]["model_path"], "method": headline, "psnr": main["psnr"], "psnr_body": main["psnr_body"],
        "ssim": main["ssim"], "nrmse": main["nrmse"], "fid": main["fid"], "fid_extractor": main["fid_extractor"],
        "lesion_suvmax_error_median": main["lesion_suvmax_error_median"],
        "lesion_suvmax_bias_median": main["lesion_suvmax_bias_median"],
        "lesion_retention_index_error_median": main["lesion_retention_index_error_median"],
        "identity_psnr_body": results["identity"]["psnr_body"], "linear_psnr_body": results["linear"]["psnr_body"],
        "linear_coefficients": list(coefficients), "psnr_data_range_suv": PSNR_RANGE_SUV,
        "n_test_patients": len(test), "test_patients": [p.name for p in test], "split_seed": seed,
        "methods": [{k: v for k, v in r.items() if k != "predictions"} for r in results.values()],
    }
    if out_dir is not None:
        figure = comparison_figure(test, results, Path(out_dir) / "pet_comparison.png")
        result["figure_png"] = str(figure)
    return result


def evaluate_own_data(data: str | Path, model_path: str | Path | None = None, out_dir: str | Path | None = None,
                      fid_weights: str | Path | None = None) -> dict[str, Any]:
    """The model and the identity baseline on an own-data folder's test rows (all rows without a split column),
    each delayed scan registered onto its early scan's grid (residual per row in ``out_dir/rows.csv``). Lesion
    metrics need a ``lesions`` label map and are left out without one; the linear baseline needs the training
    patients and is left out."""
    from nmkit.workflows.pet.data import DATASET, OWN_SIZE, own_pair

    model, info = load_pet_model(model_path)
    dataset, rows = evaluation_set(data, DATASET, info)
    config = info.get("config") or {}
    size = int((config.get("data") or {}).get("size", OWN_SIZE))
    pairs = [own_pair(row, size) for row in rows]
    test = [pair for pair, _ in pairs]
    method = (config.get("gan") or {}).get("method") or "model"
    results = evaluate_patients(test, {method: lambda early: predict_volume(model, early),
                                       "identity": identity_baseline}, fid_weights)
    main = results[method]
    result: dict[str, Any] = {"model": info.get("model_name"), "method": method, "rows": "test" if
                              dataset.split_given else "all", "n_test_patients": len(test)}
    result |= {k: main[k] for k in ("psnr", "psnr_body", "ssim", "nrmse", "fid", "fid_extractor")}
    if main["n_lesions"]:
        result |= {k: main[k] for k in ("lesion_suvmax_error_median", "lesion_suvmax_bias_median",
                                         "lesion_retention_index_error_median")}
    result["identity_psnr_body"] = results["identity"]["psnr_body"]
    result["registration_residual_mm"] = [report["residual_mm"] for _, report in pairs]
    if out_dir is not None:
        per_row = [{"line": row.line, "early": row.cells["early"], "delayed": row.cells["delayed"],
                    **{k: round(v, 6) for k, v in patient_metrics(pair, prediction).items()},
                    "residual_mm": report["residual_mm"], "offset_before_mm": report["offset_before_mm"],
                    "skipped_files": " ".join(report["skipped_files"])}
                   for row, (pair, report), prediction in zip(rows, pairs, main["predictions"])]
        result["rows_csv"] = str(write_rows_csv(Path(out_dir) / "rows.csv", per_row))
    return result


def _showcase_slice(patient: PatientPair) -> int:
    """The slice through the patient's largest lesion, else the slice of most body voxels."""
    if patient.labels is not None and patient.lesions:
        largest = max(patient.lesions, key=lambda lesion: lesion["diameter_mm"])
        return int(largest["centre"][0])
    return int(np.argmax(body_mask(patient).sum(axis=(1, 2))))


def comparison_figure(test: list[PatientPair], results: dict[str, dict[str, Any]], path: str | Path) -> Path:
    """The study's Fig. 2 layout: early, each generator's prediction and the true delayed slice (SUVbw)."""
    index = next((i for i, p in enumerate(test) if p.lesions), 0)
    patient = test[index]
    z = _showcase_slice(patient)
    panels = {"early": patient.early[z]}
    panels |= {name: r["predictions"][index][z] for name, r in results.items() if name not in ("identity", "linear")}
    panels["true delayed"] = patient.delayed[z]
    return image_row_figure(panels, path, f"{patient.name}, slice {z}", "SUVbw")


def format_evaluation(result: dict[str, Any]) -> str:
    """A short text table of every method's metrics."""
    if "registration_residual_mm" in result:
        return (f"{result['n_test_patients']} test patients ({result['rows']} rows), {result['method']}: PSNR "
                f"{result['psnr']:.2f}, PSNR body {result['psnr_body']:.2f} (identity {result['identity_psnr_body']:.2f})"
                f", SSIM {result['ssim']:.3f}, NRMSE {result['nrmse']:.3f}; registration residual "
                + ", ".join(f"{r:.1f}" for r in result["registration_residual_mm"]) + " mm"
                + (f"\nper patient: {result['rows_csv']}" if "rows_csv" in result else ""))
    lines = [f"{result['n_test_patients']} test patients; PSNR range {result['psnr_data_range_suv']:g} SUV; "
             f"FID extractor: {result['fid_extractor']}",
             f"{'method':<14}{'PSNR':>8}{'PSNR body':>11}{'SSIM':>8}{'NRMSE':>8}{'FID':>10}{'SUVmax err':>12}"]
    for m in result["methods"]:
        err = m["lesion_suvmax_error_median"]
        lines.append(f"{m['method']:<14}{m['psnr']:>8.2f}{m['psnr_body']:>11.2f}{m['ssim']:>8.3f}{m['nrmse']:>8.3f}"
                     f"{m['fid']:>10.3f}{'-' if err is None else f'{100 * err:.1f} %':>12}")
    return "\n".join(lines)
