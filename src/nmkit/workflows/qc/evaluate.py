"""`nmkit qc evaluate`: the model beside the matched-filter ideal observer, by alpha and diameter, with readers."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from nmkit.datasets import evaluation_set, is_own_data, write_rows_csv
from nmkit.errors import InputError
from nmkit.metrics.calibration import expected_calibration_error, reliability_bins
from nmkit.metrics.classification import auc, best_threshold, binary_report, roc_curve
from nmkit.report.figures import bar_figure, reliability_figure, roc_figure
from nmkit.workflows.qc.analyse import defect_probabilities, load_qc_model
from nmkit.workflows.qc.data import DATASET, OWN_SIZE, load_flood_folder, own_floods
from nmkit.workflows.qc.observer import MatchedFilterObserver

_POSITIVE_CALLS = {"1", "defect", "abnormal", "cold", "yes", "true", "fail"}
_NEGATIVE_CALLS = {"0", "normal", "no", "false", "pass"}


def read_reader_calls(path: str | Path, files: list[str]) -> dict[str, dict[int, int]]:
    """Human readers' calls from a CSV with columns reader,image,call -> {reader: {image index: 0/1}}."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "reader CSV not found")
    index = {}
    for i, f in enumerate(files):
        index[f] = index[Path(f).name] = index[Path(f).stem] = i
    calls: dict[str, dict[int, int]] = {}
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or not {"reader", "image", "call"} <= set(reader.fieldnames):
            raise InputError(path, "must have the columns reader,image,call")
        for line, row in enumerate(reader, start=2):
            if row["image"] not in index:
                raise InputError(path, f"line {line} names image {row['image']!r}, which is not in the data set")
            call = row["call"].strip().lower()
            if call not in _POSITIVE_CALLS | _NEGATIVE_CALLS:
                raise InputError(path, f"line {line} has call {row['call']!r}; use 1/0 or defect/normal")
            calls.setdefault(row["reader"], {})[index[row["image"]]] = int(call in _POSITIVE_CALLS)
    return calls


def _by_group(key: str, records: list[dict], labels: np.ndarray, cnn: np.ndarray, obs: np.ndarray,
              obs_threshold: float) -> list[dict[str, Any]]:
    """Per value of ``key`` (alpha or diameter): defects of that value against all normal floods."""
    normal = labels == 0
    values = sorted({r[key] for r, y in zip(records, labels) if y == 1})
    rows = []
    for v in values:
        group = np.array([y == 1 and r[key] == v for r, y in zip(records, labels)])
        subset = group | normal
        rows.append({key: v, "n_defect": int(group.sum()),
                     "cnn_auc": auc(cnn[subset], labels[subset]), "observer_auc": auc(obs[subset], labels[subset]),
                     "cnn_sensitivity": float((cnn[group] >= 0.5).mean()),
                     "observer_sensitivity": float((obs[group] >= obs_threshold).mean())})
    return rows


def evaluate_folder(data_dir: str | Path, model_path: str | Path | None = None, readers_csv: str | Path | None = None,
                    out_dir: str | Path | None = None) -> dict[str, Any]:
    """Evaluate a model on a synth folder or an own-data folder (its test rows); figures go to ``out_dir``."""
    if is_own_data(data_dir):
        return evaluate_own_data(data_dir, model_path, out_dir)
    images, records = load_flood_folder(data_dir)
    model, info = load_qc_model(model_path)
    return evaluate_floods(images, records, model, info, readers_csv, out_dir)


def evaluate_own_data(data_dir: str | Path, model_path: str | Path | None = None,
                      out_dir: str | Path | None = None) -> dict[str, Any]:
    """Accuracy, sensitivity, specificity and AUC on an own-data folder's test rows (all rows without a split
    column), floods resampled to the model's grid; ``out_dir/rows.csv`` holds each flood's probability.
    The per-alpha and per-diameter tables and the ideal observer need phantom truth and are left out."""
    model, info = load_qc_model(model_path)
    dataset, rows = evaluation_set(data_dir, DATASET, info)
    size = int(((info.get("config") or {}).get("data") or {}).get("size", OWN_SIZE))
    images, labels = own_floods(rows, size)
    probability = defect_probabilities(model, images)
    report = binary_report(probability, labels, threshold=0.5)
    result: dict[str, Any] = {
        "n": int(len(labels)), "accuracy": report.accuracy, "sensitivity": report.sensitivity,
        "specificity": report.specificity, "auc": report.auc,
        "confusion": {"tn": report.tn, "fp": report.fp, "fn": report.fn, "tp": report.tp},
        "model": info.get("model_name"), "grid": [size, size], "rows": "test" if dataset.split_given else "all",
    }
    if out_dir is not None:
        per_row = [{"line": row.line, "image": row.cells["image"], "label": int(y), "defect_probability":
                    round(float(p), 6), "call": int(p >= 0.5)} for row, y, p in zip(rows, labels, probability)]
        result["rows_csv"] = str(write_rows_csv(Path(out_dir) / "rows.csv", per_row))
    return result


def evaluate_floods(images: np.ndarray, records: list[dict[str, Any]], model: nn.Module, info: dict[str, Any],
                    readers_csv: str | Path | None = None, out_dir: str | Path | None = None,
                    per_flood: bool = False) -> dict[str, Any]:
    """The model's metrics beside the matched-filter ideal observer on floods (N, H, W) with their records;
    ``per_flood`` adds each flood's label, CNN probability and observer score (arrays, for intervals)."""
    labels = np.array([r["label"] for r in records], dtype=np.int64)
    cnn = defect_probabilities(model, images)
    report = binary_report(cnn, labels, threshold=0.5)
    obs = MatchedFilterObserver().score(images)
    obs_threshold, obs_accuracy = best_threshold(obs, labels)
    result: dict[str, Any] = {
        "n": int(len(labels)), "accuracy": report.accuracy, "sensitivity": report.sensitivity,
        "specificity": report.specificity, "auc": report.auc, "observer_auc": auc(obs, labels),
        "observer_accuracy": obs_accuracy,
        "confusion": {"tn": report.tn, "fp": report.fp, "fn": report.fn, "tp": report.tp},
        "model": info.get("model_path", info.get("model_name")), "observer_threshold_note": "observer accuracy at its best threshold on this set",
        "by_alpha": _by_group("alpha", records, labels, cnn, obs, obs_threshold),
        "by_diameter": _by_group("diameter", records, labels, cnn, obs, obs_threshold),
        "readers": [], "ece": round(expected_calibration_error(cnn, labels), 4),
        "reliability": reliability_bins(cnn, labels),
    }
    if per_flood:
        result["per_flood"] = {"label": labels, "cnn": np.asarray(cnn), "observer": np.asarray(obs)}
    points = []
    if readers_csv:
        for reader, calls in read_reader_calls(readers_csv, [r["file"] for r in records]).items():
            idx = np.array(sorted(calls))
            rep = binary_report(np.array([calls[i] for i in idx], dtype=float), labels[idx], threshold=0.5)
            result["readers"].append({"reader": reader, "n": rep.n, "accuracy": rep.accuracy,
                                      "sensitivity": rep.sensitivity, "specificity": rep.specificity})
            points.append((f"reader {reader}", 1 - rep.specificity, rep.sensitivity))
    if out_dir is not None:
        out_dir = Path(out_dir)
        fpr, tpr = roc_curve(cnn, labels)
        ofpr, otpr = roc_curve(obs, labels)
        result["roc_png"] = str(roc_figure([("CNN", fpr, tpr, report.auc), ("ideal observer", ofpr, otpr, result["observer_auc"])],
                                           out_dir / "roc.png", points, title="Cold-region detection"))
        result["reliability_png"] = str(reliability_figure({"CNN": result["reliability"]}, out_dir / "reliability.png",
                                                           f"defect probability: ECE {result['ece']:.3f}"))
        rows = result["by_alpha"]
        result["by_alpha_png"] = str(bar_figure([f"{r['alpha']:g}" for r in rows],
                                                {"CNN": [r["cnn_auc"] for r in rows], "observer": [r["observer_auc"] for r in rows]},
                                                out_dir / "auc_by_alpha.png", "alpha (cold-disc depth)", "AUC", "AUC by alpha"))
    return result


def format_evaluation(result: dict[str, Any]) -> str:
    """A readable summary of :func:`evaluate_folder`."""
    c = result["confusion"]
    if "observer_auc" not in result:
        return (f"{result['n']} floods ({result['rows']} rows), model {result['model']}\n"
                f"accuracy {result['accuracy']:.4f}  sensitivity {result['sensitivity']:.4f}  specificity "
                f"{result['specificity']:.4f}  AUC {result['auc']:.4f}\n"
                f"confusion  TN {c['tn']}  FP {c['fp']}  FN {c['fn']}  TP {c['tp']}"
                + (f"\nper flood: {result['rows_csv']}" if "rows_csv" in result else ""))
    lines = [f"{result['n']} floods, model {result['model']}",
             f"CNN:      accuracy {result['accuracy']:.4f}  sensitivity {result['sensitivity']:.4f}  "
             f"specificity {result['specificity']:.4f}  AUC {result['auc']:.4f}",
             f"          ECE {result['ece']:.4f} (15 bins; reliability diagram in the output folder)",
             f"          confusion  TN {c['tn']}  FP {c['fp']}  FN {c['fn']}  TP {c['tp']}",
             f"observer: accuracy {result['observer_accuracy']:.4f}  AUC {result['observer_auc']:.4f}",
             "alpha    n   CNN AUC  observer AUC  CNN sens  observer sens"]
    lines += [f"{r['alpha']:<6g} {r['n_defect']:>4}   {r['cnn_auc']:.4f}   {r['observer_auc']:.4f}       "
              f"{r['cnn_sensitivity']:.3f}     {r['observer_sensitivity']:.3f}" for r in result["by_alpha"]]
    for r in result["readers"]:
        lines.append(f"reader {r['reader']}: accuracy {r['accuracy']:.3f} sensitivity {r['sensitivity']:.3f} "
                     f"specificity {r['specificity']:.3f}")
    if "roc_png" in result:
        lines.append(f"ROC: {result['roc_png']}")
    return "\n".join(lines)
