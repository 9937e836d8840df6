"""`nmkit bonescan evaluate`: knee localisation and DJD grading on a folder written by `nmkit bonescan synth`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from torch import nn

from nmkit.datasets import evaluation_set, is_own_data, write_rows_csv
from nmkit.errors import InputError
from nmkit.io.matlab import read_bone_mat
from nmkit.metrics.agreement import cohen_kappa
from nmkit.metrics.calibration import expected_calibration_error, reliability_bins
from nmkit.phantoms.bone import GRADE_NAMES, read_bone_manifest
from nmkit.report.figures import reliability_figure, save_figure
from nmkit.workflows.bonescan.analyse import grade_probabilities, load_bonescan_model
from nmkit.workflows.bonescan.data import DATASET, NUM_GRADES, STUDY_PIXEL_MM, knee_inputs, own_knees
from nmkit.workflows.bonescan.knees import SIDES, Knee, find_knees

LOCALISATION_TOLERANCE_PX = 10.0


def grade_metrics(true: np.ndarray, predicted: np.ndarray) -> dict[str, Any]:
    """Accuracy, per-grade sensitivity (None for a grade absent from ``true``), macro-F1 over the grades
    present in either, quadratic weighted kappa and the confusion matrix (rows true, columns predicted)."""
    true, predicted = np.asarray(true, dtype=np.int64), np.asarray(predicted, dtype=np.int64)
    if true.shape != predicted.shape or true.ndim != 1 or not len(true):
        raise ValueError("true and predicted grades must be 1-D, non-empty and the same length")
    confusion = np.zeros((NUM_GRADES, NUM_GRADES), dtype=np.int64)
    np.add.at(confusion, (true, predicted), 1)
    support, called, hits = confusion.sum(axis=1), confusion.sum(axis=0), np.diag(confusion)
    sensitivity = {GRADE_NAMES[g]: (round(float(hits[g] / support[g]), 4) if support[g] else None)
                   for g in range(NUM_GRADES)}
    present = (support + called) > 0
    f1 = 2 * hits / np.maximum(support + called, 1)
    kappa = cohen_kappa(true, predicted, NUM_GRADES, weights="quadratic")
    return {"accuracy": round(float(hits.sum() / len(true)), 4), "qwk": None if np.isnan(kappa) else round(kappa, 4),
            "macro_f1": round(float(f1[present].mean()), 4), "per_grade_sensitivity": sensitivity,
            "confusion_matrix": confusion.tolist()}


def confusion_figure(confusion: list[list[int]], path: str | Path, title: str) -> Path:
    """The confusion matrix as counts of knees, true grade down, predicted grade across."""
    matrix = np.asarray(confusion)
    fig, ax = plt.subplots(figsize=(4.8, 4.2))
    shown = ax.imshow(matrix, cmap="Blues")
    fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.04, label="knees")
    for (i, j), value in np.ndenumerate(matrix):
        ax.text(j, i, str(value), ha="center", va="center", fontsize=8,
                color="white" if value > matrix.max() / 2 else "black")
    ticks = [name.replace(" DJD", "") for name in GRADE_NAMES]
    ax.set_xticks(range(NUM_GRADES), ticks, rotation=30)
    ax.set_yticks(range(NUM_GRADES), ticks)
    ax.set(xlabel="predicted grade", ylabel="true grade", title=title)
    return save_figure(fig, path)


def _distances(knees: list[Knee], record: dict[str, Any]) -> list[float]:
    return [float(np.hypot(k.row - record[f"{side}_knee_row"], k.col - record[f"{side}_knee_col"]))
            for k, side in zip(knees, SIDES)]


def evaluate_folder(data_dir: str | Path, model_path: str | Path | None = None, out_dir: str | Path | None = None,
                    model: nn.Module | None = None, info: dict[str, Any] | None = None,
                    per_item: bool = False) -> dict[str, Any]:
    """Localise and grade every scan of a synth folder; the confusion matrix PNG goes to ``out_dir``.
    ``per_item`` adds ``per_scan`` (localised or not, by scan) and ``per_knee`` (scan, true and predicted grade).

    A scan counts as localised when both knee centres lie within 10 px of the truth. Grading uses the
    found knees (the true centres where none are found) and the knees with a grade (code 2-6).
    """
    data_dir = Path(data_dir)
    if is_own_data(data_dir):
        return evaluate_own_data(data_dir, model_path, out_dir, model, info)
    records = read_bone_manifest(data_dir / "manifest.csv")
    if not records:
        raise InputError(data_dir / "manifest.csv", "lists no scans")
    if model is None:
        model, info = load_bonescan_model(model_path)
    info = info or {}
    within, within_plan, errors, inputs, grades, knee_scans = [], [], [], [], [], []
    for index, record in enumerate(records):
        study = read_bone_mat(data_dir / record["path"])
        try:
            knees = find_knees(study.anterior)
            distances = _distances(knees, record)
        except InputError:
            knees = [Knee(side, int(round(record[f"{side}_knee_row"])), int(round(record[f"{side}_knee_col"])))
                     for side in SIDES]
            distances = [float("inf")] * 2
        within.append(max(distances) <= LOCALISATION_TOLERANCE_PX)
        errors += [d for d in distances if np.isfinite(d)]
        within_plan.append(max(_distances(find_knees(study.anterior, "plan"), record)) <= LOCALISATION_TOLERANCE_PX)
        graded = [i for i, g in enumerate((record["right_grade"], record["left_grade"])) if g >= 0]
        if graded:
            inputs.append(knee_inputs(study.anterior, [knees[i] for i in graded]))
            grades += [(record["right_grade"], record["left_grade"])[i] for i in graded]
            knee_scans += [index] * len(graded)
    if not grades:
        raise InputError(data_dir / "manifest.csv", "lists no knee with a grade (codes 2-6)")
    probabilities = grade_probabilities(model, np.concatenate(inputs))
    predicted = probabilities.argmax(axis=1)
    result = {"n_scans": len(records), "n_knees": len(grades),
              "ece": round(expected_calibration_error(probabilities, np.array(grades)), 4),
              "reliability": reliability_bins(probabilities, np.array(grades))}
    result |= grade_metrics(np.array(grades), predicted)
    result |= {"knee_localisation_within_10px": round(float(np.mean(within)), 4),
               "knee_localisation_plan_within_10px": round(float(np.mean(within_plan)), 4),
               "mean_knee_error_px": round(float(np.mean(errors)), 2) if errors else None,
               "model": str(info.get("model_path", info.get("model_name", "given model")))}
    if per_item:
        result["per_scan"] = {"localised": [bool(w) for w in within], "plan_localised": [bool(w) for w in within_plan]}
        result["per_knee"] = {"scan": knee_scans, "true": [int(g) for g in grades],
                              "predicted": [int(g) for g in predicted]}
    if out_dir is not None:
        result["reliability_png"] = str(reliability_figure({"grade": result["reliability"]},
                                                           Path(out_dir) / "reliability.png",
                                                           f"knee DJD grade: ECE {result['ece']:.3f}"))
        result["confusion_png"] = str(confusion_figure(result["confusion_matrix"], Path(out_dir) / "confusion.png",
                                                       f"knee DJD grade, {len(grades)} knees"))
    return result


def evaluate_own_data(data_dir: str | Path, model_path: str | Path | None = None, out_dir: str | Path | None = None,
                      model: nn.Module | None = None, info: dict[str, Any] | None = None) -> dict[str, Any]:
    """Grade the knees of an own-data folder's test rows (all rows without a split column): accuracy, QWK,
    macro-F1, per-grade sensitivity and the confusion matrix; ``out_dir/rows.csv`` holds each knee. Knee
    localisation needs true centres (phantom truth) and is left out."""
    if model is None:
        model, info = load_bonescan_model(model_path)
    info = info or {}
    dataset, rows = evaluation_set(data_dir, DATASET, info)
    pixel_mm = float(((info.get("config") or {}).get("data") or {}).get("pixel_mm", STUDY_PIXEL_MM))
    inputs, grades, scans, _ = own_knees(rows, pixel_mm)
    if not len(grades):
        raise InputError(dataset.table, "grades no knee among the rows evaluated")
    probabilities = grade_probabilities(model, inputs)
    predicted = probabilities.argmax(axis=1)
    result = {"n_scans": len(rows), "n_knees": int(len(grades)), "rows": "test" if dataset.split_given else "all"}
    result |= grade_metrics(grades, predicted)
    result["model"] = str(info.get("model_name", "given model"))
    if out_dir is not None:
        sides = [side for row in rows for side in SIDES if row[f"{side}_grade"] is not None]
        per_knee = [{"line": rows[i].line, "scan": rows[i].cells["scan"], "side": side, "grade": int(g),
                     "predicted": int(p), "probability": round(float(q.max()), 6)}
                    for i, side, g, p, q in zip(scans, sides, grades, predicted, probabilities)]
        result["rows_csv"] = str(write_rows_csv(Path(out_dir) / "rows.csv", per_knee))
        result["confusion_png"] = str(confusion_figure(result["confusion_matrix"], Path(out_dir) / "confusion.png",
                                                       f"knee DJD grade, {len(grades)} knees"))
    return result


def format_evaluation(result: dict[str, Any]) -> str:
    """A short human-readable summary of :func:`evaluate_folder`'s result."""
    qwk = "n/a" if result["qwk"] is None else f"{result['qwk']:.3f}"
    lines = [f"{result['n_scans']} scans, {result['n_knees']} graded knees (model: {result['model']})",
             f"  accuracy {result['accuracy']:.3f}   QWK {qwk}   macro-F1 {result['macro_f1']:.3f}   "
             f"ECE {result['ece']:.3f}",
             "  sensitivity: " + ", ".join(f"{k} {'n/a' if v is None else f'{v:.2f}'}"
                                          for k, v in result["per_grade_sensitivity"].items()),
             ]
    if "knee_localisation_within_10px" in result:
        lines.append(f"  knees within 10 px: {100 * result['knee_localisation_within_10px']:.1f} % of scans "
                     f"(plan heuristic {100 * result['knee_localisation_plan_within_10px']:.1f} %)")
    lines += ["  confusion (rows true, columns predicted):"]
    lines += ["    " + " ".join(f"{v:5d}" for v in row) for row in result["confusion_matrix"]]
    if result.get("confusion_png"):
        lines.append(f"  figure: {result['confusion_png']}")
    if result.get("rows_csv"):
        lines.append(f"  per knee: {result['rows_csv']}")
    return "\n".join(lines)
