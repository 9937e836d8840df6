"""Evaluate an LV model on gated studies with known truth: Dice/IoU/accuracy per phase, EF agreement, baseline.

Each study is segmented once and analysed three ways: model ROIs on every frame (the product), reference ROIs
(the phantom's true LV masks, standing in for the study's human ROIs), and the classical threshold baseline;
each of those with every background method asked for (the first one gives the top-level keys). EFs are compared
with the true EF from the phantom's background-free LV counts.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from torch import nn

from nmkit.atomic import atomic_path
from nmkit.datasets import evaluation_set, is_own_data, write_rows_csv
from nmkit.errors import InputError
from nmkit.io import Image, load_image
from nmkit.metrics.agreement import bland_altman, wilcoxon_signed_rank
from nmkit.metrics.segmentation import dice, iou, pixel_accuracy, summary
from nmkit.phantoms.gated import read_gated_manifest
from nmkit.report.figures import bland_altman_figure
from nmkit.workflows.gbp.analyse import BACKGROUND_METHODS, GatedEF, load_gbp_model, segment_frames
from nmkit.workflows.gbp.baseline import threshold_rois

PHASES = ("ed", "es")


class LabelledStudy(NamedTuple):
    """A gated study with its truth: LV masks per frame, true EF (%), true ED and ES frames."""

    image: Image
    masks: np.ndarray
    true_ef: float
    ed_frame: int
    es_frame: int


def read_labelled_folder(root: str | Path) -> Iterator[LabelledStudy]:
    """The studies of a folder written by `nmkit gbp synth`, loaded one at a time (the manifest is read now)."""
    root = Path(root)
    manifest = root / "manifest.csv"
    if not manifest.is_file():
        raise InputError(root, "has no manifest.csv (make one with `nmkit gbp synth --out DIR`)")
    records = read_gated_manifest(manifest)
    if not records:
        raise InputError(manifest, "lists no studies")
    return (LabelledStudy(load_image(root / rec["path"]), np.load(root / rec["mask"]).astype(bool),
                          float(rec["true_ef"]), int(rec["ed_frame"]), int(rec["es_frame"])) for rec in records)


def _analyse(study: LabelledStudy, masks: np.ndarray, background: str) -> GatedEF:
    return GatedEF(study.image, background=background).analyze(masks=masks)


def _methods(background: str | Sequence[str]) -> tuple[str, ...]:
    methods = (background,) if isinstance(background, str) else tuple(dict.fromkeys(background))
    unknown = [m for m in methods if m not in BACKGROUND_METHODS]
    if not methods or unknown:
        raise InputError("--background", f"must be one of {', '.join(BACKGROUND_METHODS)}, not {unknown or 'none'}")
    return methods


def _suffix(method: str, primary: str) -> str:
    return "" if method == primary else f"_{method}"


def evaluate_studies(studies: Iterable[LabelledStudy], model: nn.Module, info: dict[str, Any],
                     out_dir: str | Path | None = None, background: str | Sequence[str] = "study") -> dict[str, Any]:
    """Metrics of ``model`` on labelled studies (see the module docstring); figures and a CSV into ``out_dir``.

    ``background`` is one method or several: every study is segmented once and scored with each. The first
    method gives the top-level keys (``ef_bias`` ...); ``result["backgrounds"][method]`` holds each method's EF
    agreement, and the per-study CSV has ``model_ef_<method>`` (etc.) columns for the others.
    """
    methods = _methods(background)
    primary = methods[0]
    rows: list[dict[str, Any]] = []
    for i, study in enumerate(studies):
        predicted = segment_frames(model, study.image.array)
        base_masks = threshold_rois(study.image.array)
        row: dict[str, Any] = {"study": str(study.image.path or i), "true_ef": study.true_ef,
                               "true_ed": study.ed_frame, "true_es": study.es_frame}
        for method in methods:
            end = _suffix(method, primary)
            model_run = _analyse(study, predicted, method).results_data()
            try:
                baseline_ef = _analyse(study, base_masks, method).results_data().ef
            except (InputError, ValueError):  # the baseline found no LV on some frame
                baseline_ef = float("nan")
            reference_ef = _analyse(study, study.masks, method).results_data().ef
            row |= {f"model_ef{end}": model_run.ef, f"reference_ef{end}": reference_ef,
                    f"baseline_ef{end}": baseline_ef, f"model_ed{end}": model_run.ed_frame,
                    f"model_es{end}": model_run.es_frame}
        for phase, frame in zip(PHASES, (study.ed_frame, study.es_frame)):
            pred, true = predicted[frame], study.masks[frame]
            row |= {f"dice_{phase}": float(dice(pred, true)[0]), f"iou_{phase}": float(iou(pred, true)[0]),
                    f"pixel_accuracy_{phase}": float(pixel_accuracy(pred, true)[0]),
                    f"model_roi_pixels_{phase}": int(pred.sum()), f"reference_roi_pixels_{phase}": int(true.sum()),
                    f"model_roi_counts_{phase}": float(study.image.array[frame][pred].sum()),
                    f"reference_roi_counts_{phase}": float(study.image.array[frame][true].sum())}
        rows.append(row)
    if len(rows) < 2:
        raise InputError(None, "evaluation needs at least 2 labelled studies")
    return _summarise(rows, info, out_dir, methods)


def _column(rows: list[dict[str, Any]], key: str) -> np.ndarray:
    return np.array([r[key] for r in rows], dtype=np.float64)


def _agreement(rows: list[dict[str, Any]], end: str) -> dict[str, Any]:
    """EF agreement with the true EF of one background method (column suffix ``end``)."""
    true_ef, model_ef = _column(rows, "true_ef"), _column(rows, f"model_ef{end}")
    reference_ef, baseline_ef = _column(rows, f"reference_ef{end}"), _column(rows, f"baseline_ef{end}")
    agreement = bland_altman(model_ef, true_ef)
    found = np.isfinite(baseline_ef)
    return {"ef_bias": agreement.bias, "ef_mae": agreement.mae, "ef_loa_low": agreement.loa_low,
            "ef_loa_high": agreement.loa_high,
            "reference_ef_mae": float(np.mean(np.abs(reference_ef - true_ef))),
            "reference_ef_bias": float(np.mean(reference_ef - true_ef)),
            "reference_ef_loa_low": bland_altman(reference_ef, true_ef).loa_low,
            "reference_ef_loa_high": bland_altman(reference_ef, true_ef).loa_high,
            "baseline_ef_mae": float(np.mean(np.abs(baseline_ef[found] - true_ef[found]))) if found.any() else None,
            "baseline_failures": int((~found).sum()),
            "model_vs_reference_wilcoxon_p": wilcoxon_signed_rank(model_ef, reference_ef)["p_value"],
            "es_frame_agreement": float(np.mean(_column(rows, f"model_es{end}") == _column(rows, "true_es")))}


def _summarise(rows: list[dict[str, Any]], info: dict[str, Any], out_dir: str | Path | None,
               methods: tuple[str, ...] = ("study",)) -> dict[str, Any]:
    primary = methods[0]
    result: dict[str, Any] = {"n": len(rows), "model": str(info.get("model_path", info.get("model_name", ""))),
                              "background": primary}
    for key in ("dice", "iou", "pixel_accuracy"):
        for phase in PHASES:
            stats = summary(_column(rows, f"{key}_{phase}"))
            result[f"{key}_{phase}"], result[f"{key}_{phase}_sd"] = stats["mean"], stats["sd"]
    by_method = {method: _agreement(rows, _suffix(method, primary)) for method in methods}
    result |= {k: v for k, v in by_method[primary].items() if not k.startswith("reference_ef_loa")}
    result["backgrounds"] = by_method
    result["table1"] = table1(rows)
    if out_dir is not None:
        out_dir = Path(out_dir)
        for method in methods:
            end = _suffix(method, primary)
            by_method[method]["bland_altman_png"] = str(bland_altman_figure(
                _column(rows, f"model_ef{end}"), _column(rows, "true_ef"), out_dir / f"ef_bland_altman{end}.png",
                unit="EF points", title=f"LVEF: model vs true ({method} background)", method_label="model",
                reference_label="true"))
        result["bland_altman_png"] = by_method[primary]["bland_altman_png"]
        result["studies_csv"] = str(_write_rows(rows, out_dir / "studies.csv"))
    return result


def table1(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The study's Table 1: ROI size (pixels) and ROI counts per phase, and EF, as mean +/- SD per method."""
    out = []
    for source in ("reference", "model"):
        row: dict[str, Any] = {"ROIs": source}
        for phase in PHASES:
            for what in ("roi_pixels", "roi_counts"):
                s = summary(_column(rows, f"{source}_{what}_{phase}"))
                row[f"{phase.upper()} {what.replace('_', ' ')}"] = f"{s['mean']:.1f} +/- {s['sd']:.1f}"
        s = summary(_column(rows, f"{source}_ef"))
        row["EF %"] = f"{s['mean']:.2f} +/- {s['sd']:.2f}"
        out.append(row)
    return out


def _write_rows(rows: list[dict[str, Any]], path: Path) -> Path:
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def evaluate_folder(data_dir: str | Path, model_path: str | Path | None = None, out_dir: str | Path | None = None,
                    background: str | Sequence[str] = "study") -> dict[str, Any]:
    """:func:`evaluate_studies` on a folder written by `nmkit gbp synth`, or :func:`evaluate_own_data`."""
    if is_own_data(data_dir):
        return evaluate_own_data(data_dir, model_path, out_dir, background)
    studies = read_labelled_folder(data_dir)
    model, info = load_gbp_model(model_path)
    return evaluate_studies(studies, model, info, out_dir, background)


def evaluate_own_data(data_dir: str | Path, model_path: str | Path | None = None, out_dir: str | Path | None = None,
                      background: str = "study") -> dict[str, Any]:
    """Dice of the model's LV on every frame that has ROIs (the observers' consensus) and, where the rows give
    ``ef``, the model's EF against it, on an own-data folder's test rows (all rows without a split column);
    ``out_dir/rows.csv`` holds one line per scored frame. The true EF, reference-ROI EF and the baseline need
    phantom truth and are left out."""
    from nmkit.workflows.gbp.data import DATASET, own_studies

    _methods(background)
    model, info = load_gbp_model(model_path)
    dataset, rows = evaluation_set(data_dir, DATASET, info)
    per_frame, efs, failures = [], [], 0
    for study in own_studies(dataset, rows):
        predicted = segment_frames(model, study.image.array)
        try:
            model_ef = GatedEF(study.image, background=background).analyze(masks=predicted).results_data().ef
        except (InputError, ValueError):  # no LV found on some frame, or no room for the background ROI
            model_ef, failures = float("nan"), failures + 1
        if study.ef is not None and np.isfinite(model_ef):
            efs.append((model_ef, study.ef))
        for frame, truth in study.masks.items():
            per_frame.append({"line": study.row.line, "study": study.row.cells["study"], "frame": frame,
                              "dice": round(float(dice(predicted[frame], truth)[0]), 6),
                              "model_ef": round(float(model_ef), 3) if np.isfinite(model_ef) else None,
                              "reference_ef": study.ef})
    scores = np.array([r["dice"] for r in per_frame])
    result: dict[str, Any] = {"n": len({r["study"] for r in per_frame}), "n_frames": len(per_frame),
                              "rows": "test" if dataset.split_given else "all", "dice": float(scores.mean()),
                              "dice_sd": float(scores.std(ddof=1)) if len(scores) > 1 else 0.0,
                              "model": info.get("model_name"), "background": background, "ef_failures": failures}
    if efs:
        diff = np.array([m - r for m, r in efs])
        result |= {"n_ef": len(efs), "ef_bias": float(diff.mean()), "ef_mae": float(np.abs(diff).mean())}
    if out_dir is not None:
        result["rows_csv"] = str(write_rows_csv(Path(out_dir) / "rows.csv", per_frame))
    return result


def format_evaluation(result: dict[str, Any]) -> str:
    """A short human-readable summary of :func:`evaluate_studies`."""
    if "n_frames" in result:
        lines = [f"{result['n']} studies ({result['rows']} rows), {result['n_frames']} frames with ROIs, model "
                 f"{result['model']}", f"  Dice {result['dice']:.4f} +/- {result['dice_sd']:.4f}"]
        if "ef_bias" in result:
            lines.append(f"  EF vs the rows' ef ({result['n_ef']} studies): bias {result['ef_bias']:+.2f}, "
                         f"MAE {result['ef_mae']:.2f} points")
        return "\n".join(lines + ([f"  per frame: {result['rows_csv']}"] if "rows_csv" in result else []))
    lines = [f"{result['n']} studies, model {result['model']}",
             f"  Dice ED {result['dice_ed']:.4f} +/- {result['dice_ed_sd']:.4f}   ES {result['dice_es']:.4f} +/- "
             f"{result['dice_es_sd']:.4f}   IoU ED {result['iou_ed']:.4f}  ES {result['iou_es']:.4f}"]
    for method, r in result.get("backgrounds", {result.get("background", "study"): result}).items():
        lines += [f"  EF vs true ({method} background): bias {r['ef_bias']:+.2f}, MAE {r['ef_mae']:.2f}, 95 % limits "
                  f"{r['ef_loa_low']:+.2f} to {r['ef_loa_high']:+.2f} points",
                  f"    reference ROIs EF bias {r['reference_ef_bias']:+.2f}, MAE {r['reference_ef_mae']:.2f}; "
                  "classical baseline EF MAE "
                  + ("n/a" if r["baseline_ef_mae"] is None else f"{r['baseline_ef_mae']:.2f}")
                  + f" ({r['baseline_failures']} failures)"]
    return "\n".join(lines)
