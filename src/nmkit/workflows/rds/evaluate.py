"""`nmkit rds evaluate` and `predict`: lungs, then RDS, as the study's two-stage pipeline.

Bundles are told apart by the config they were trained with: ``task: segmentation`` is the lung segmenter,
``task: joint`` the jointly fine-tuned pipeline (scored as ``joint_*``); a classifier trained with
``data.input: whole`` is the whole-image classifier, any other the lung classifier.
The lung classifier sees the image masked by the *predicted* lungs when a segmenter is given (trained on true
masks, tested on predicted, as the study), else by the true lungs (the result says which), made as in its
training (:func:`~nmkit.workflows.rds.data.lung_input` at its config's ``data.size``).

Shortcut test: ``shortcut_drop_*`` = accuracy on the images whose device presence agrees with RDS (what a test
set tied like the training set holds) minus accuracy on the whole set, which should be untied (`nmkit rds
synth` without ``--confounded``). A classifier that learned "devices mean RDS" loses points; one that looks
at the lungs should not.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image as PILImage
from torch import nn

from nmkit.atomic import atomic_path
from nmkit.errors import InputError
from nmkit.io import load_image
from nmkit.metrics.calibration import expected_calibration_error, reliability_bins
from nmkit.metrics.classification import binary_report
from nmkit.metrics.ood import DomainCheck, domain_check
from nmkit.metrics.segmentation import dice, mean_iou
from nmkit.models import load_bundle, resolve_model_path, shipped_model
from nmkit.phantoms.chest import read_chest_csv
from nmkit.workflows.rds.calibrate import expected_calibration_error
from nmkit.workflows.rds.data import (is_own_data, label_column, lung_input, read_lung_mask, read_mask,
                                      read_own_radiograph, rds_spec)
from nmkit.workflows.rds.gate import admit, implausible
from nmkit.workflows.rds.postprocess import PostProcess, segment_lungs
from nmkit.workflows.rds.prepare import read_radiograph

ROLES = ("segmenter", "lungs", "whole", "joint")
DEFAULT_MODELS = ("rds-seg-default.pt", "rds-cls-default.pt")
"""The shipped lung segmenter and lung RDS classifier (see default_model/MODEL_CARD.md)."""
NO_DEFAULT = ("no default rds models are installed (default_model/ lacks them); pass --model PATH (train them with "
              "`nmkit train configs/rds-seg-fast.yaml` and `configs/rds-cls-fast.yaml`)")


def default_model_paths() -> list[Path]:
    """The small phantom-trained segmenter and lung classifier shipped inside the package."""
    return [shipped_model("nmkit.workflows.rds", name) for name in DEFAULT_MODELS]


def model_role(info: dict[str, Any]) -> str:
    """``segmenter``, ``lungs`` (lung-masked classifier), ``whole`` (whole-image classifier) or ``joint`` (segmenter
    and classifier fine-tuned together) of a bundle."""
    config = info.get("config") or {}
    if config.get("task") == "joint" or info.get("model_name") == "rds-joint":
        return "joint"
    if config.get("task", "segmentation") == "segmentation" and not str(info.get("model_name", "")).startswith(
            ("rds-effnet", "rds-cnn")):
        return "segmenter"
    return "whole" if (config.get("data") or {}).get("input") == "whole" else "lungs"


def load_rds_models(paths: list[Path] | None) -> dict[str, tuple[nn.Module, dict[str, Any]]]:
    """The bundles at ``paths`` (files or shipped models' names) keyed by role, or without any the shipped
    segmenter and lung classifier;
    InputError with two of one role, or without paths when the defaults are missing."""
    if not paths:
        paths = default_model_paths()
        if not all(path.is_file() for path in paths):
            raise InputError("--model", NO_DEFAULT)
    models: dict[str, tuple[nn.Module, dict[str, Any]]] = {}
    for path in map(resolve_model_path, paths):
        model, info = load_bundle(path)
        role = model_role(info)
        if role in models:
            raise InputError(path, f"is a second {role} model; pass one of each role ({', '.join(ROLES)})")
        models[role] = (model.eval(), info | {"model_path": str(path)})
    return models


@torch.no_grad()
def rds_probability(model: nn.Module, image: np.ndarray) -> float:
    """P(RDS) from a classifier for one (H, W) input in 0..1."""
    logits = model(torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))[None, None])
    return float(logits.softmax(dim=1)[0, 1])


def lung_rds_probability(models: dict[str, tuple[nn.Module, dict[str, Any]]], grey: np.ndarray,
                        mask: np.ndarray) -> float:
    """P(RDS) from the lung classifier for a uint8 radiograph and its lung mask, the input made as in training:
    both resampled to the size it was trained at (its config's ``data.size``, else its work size), then masked
    (the mask widened by the config's ``data.lung_margin``)."""
    model, info = models["lungs"]
    data = (info.get("config") or {}).get("data") or {}
    size = data.get("size") or getattr(model, "work_size", None) or 128
    return rds_probability(model, lung_input(grey, mask, int(size), int(data.get("lung_margin", 0))))


def analyse_radiograph(models: dict[str, tuple[nn.Module, dict[str, Any]]], grey: np.ndarray, post: PostProcess,
                       source: str | Path) -> tuple[np.ndarray, float | None, dict, DomainCheck]:
    """(lung mask, P(RDS) or None without a lung classifier, what :func:`segment_lungs` did, the domain check) of
    a uint8 radiograph: the check holds the plausibility of the lungs and, where the bundles have OOD fits, the
    segmenter's and the classifier's feature distances (the classifier's, behind P(RDS), is the one reported).
    InputError naming ``source`` when no lung is found."""
    segmenter, segmenter_info = models["segmenter"]
    check, (mask, done) = domain_check(segmenter, segmenter_info,
                                       lambda: segment_lungs(segmenter, grey.astype(np.float32) / 255.0, post))
    if not mask.any():
        raise InputError(source, "no lung was found in this image")
    check.notes += implausible(mask)
    probability = None
    if "lungs" in models:
        classifier, classifier_info = models["lungs"]
        classified, probability = domain_check(classifier, classifier_info,
                                               lambda: lung_rds_probability(models, grey, mask))
        check.join(classified)
    return mask, probability, done, check


def _accuracy(scores: np.ndarray, labels: np.ndarray) -> float:
    return float(((scores >= 0.5) == labels).mean()) if len(labels) else float("nan")


def _shortcut_drop(scores: list[float], labels: np.ndarray, has_device: np.ndarray | None) -> float | None:
    if has_device is None or not len(scores):
        return None
    s = np.asarray(scores)
    agree = has_device == labels
    return _accuracy(s[agree], labels[agree]) - _accuracy(s, labels) if agree.any() else None


def evaluate_folder(data: str | Path, model_paths: list[Path] | None,
                    post: PostProcess = PostProcess(), per_image: bool = False) -> dict[str, Any]:
    """Lung mIoU and Dice, RDS accuracy/sensitivity/specificity/AUC and the shortcut drops on ``data`` (its
    ``test`` split when it has a ``split`` column, else every image); own-data folders go to
    :func:`evaluate_own_data`. ``per_image`` adds each image's lung IoU, P(RDS) from the lungs, label, device
    presence and whether rotation TTA ran (``per_image``)."""
    data = Path(data)
    models = load_rds_models(model_paths)
    if is_own_data(data):
        return evaluate_own_data(data, models, post)
    records = read_chest_csv(data / "dataset.csv")
    if "split" in records[0]:
        records = [r for r in records if r["split"] == "test"]
        if not records:
            raise InputError(data / "dataset.csv", "has a split column but no test images")
    labels = np.array([r["rds"] for r in records])
    has_device = np.array([r["has_device"] for r in records]) if all("has_device" in r for r in records) else None
    mious, dices, lung_scores, whole_scores, joint_scores, tta = [], [], [], [], [], []
    for rec in records:
        grey = read_radiograph(data / rec["filepath"])
        truth = read_mask(data, rec, grey.shape)
        image = grey.astype(np.float32) / 255.0
        mask = truth
        if "segmenter" in models:
            mask, done = segment_lungs(models["segmenter"][0], image, post)
            tta.append(bool(done["rotation_tta"]))
            mious.append(float(mean_iou(mask.astype(np.int64), truth.astype(np.int64), 2)[0]))
            dices.append(float(dice(mask, truth)[0]))
        if "lungs" in models:
            lung_scores.append(lung_rds_probability(models, grey, mask))
        if "whole" in models:
            whole_scores.append(rds_probability(models["whole"][0], image))
        if "joint" in models:
            joint_scores.append(rds_probability(models["joint"][0], image))
    result: dict[str, Any] = {"n": len(records), "miou": None, "dice": None, "accuracy": None, "sensitivity": None,
                              "specificity": None, "auc": None, "shortcut_drop_lungs": None,
                              "shortcut_drop_whole_image": None, "whole_image_accuracy": None,
                              "joint_accuracy": None, "joint_auc": None, "shortcut_drop_joint": None, "ece": None,
                              "reliability": None,
                              "classifier_masks": "predicted" if "segmenter" in models else "true",
                              "rotation_tta_images": sum(tta), "median_filter": post.median,
                              "rotation_tta": post.tta, "models": {k: v[1]["model_path"] for k, v in models.items()}}
    if mious:
        result |= {"miou": float(np.mean(mious)), "dice": float(np.mean(dices))}
    if per_image:
        result["per_image"] = {"miou": mious, "lung_score": [float(v) for v in lung_scores],
                               "label": labels.tolist(), "rotation_tta": tta,
                               "has_device": None if has_device is None else has_device.tolist()}
    if lung_scores:
        report = binary_report(lung_scores, labels)
        result |= {"accuracy": report.accuracy, "sensitivity": report.sensitivity,
                   "specificity": report.specificity, "auc": report.auc,
                   "shortcut_drop_lungs": _shortcut_drop(lung_scores, labels, has_device),
                   "ece": expected_calibration_error(np.asarray(lung_scores), labels),
                   "reliability": reliability_bins(np.asarray(lung_scores), labels)}
    if whole_scores:
        result |= {"whole_image_accuracy": _accuracy(np.asarray(whole_scores), labels),
                   "shortcut_drop_whole_image": _shortcut_drop(whole_scores, labels, has_device)}
    if joint_scores:
        joint = binary_report(joint_scores, labels)
        result |= {"joint_accuracy": joint.accuracy, "joint_auc": joint.auc,
                   "shortcut_drop_joint": _shortcut_drop(joint_scores, labels, has_device)}
    return result


def _classifier(models: dict[str, tuple[nn.Module, dict[str, Any]]]) -> tuple[str, nn.Module, dict[str, Any]]:
    """The classifier an own-data evaluation scores: the lung classifier, else the whole-image one, else joint."""
    for role in ("lungs", "whole", "joint"):
        if role in models:
            return role, *models[role]
    raise InputError("--model", "evaluating own data needs a classifier among --model")


def evaluate_own_data(data: Path, models: dict[str, tuple[nn.Module, dict[str, Any]]],
                      post: PostProcess = PostProcess()) -> dict[str, Any]:
    """Accuracy, sensitivity, specificity (at the bundle's calibrated threshold, else 0.5), AUC and ECE of the
    classifier on an own-data folder's test rows (every row without a split column), on the finding the
    classifier was trained on (its config's ``data.label_column``); lung mIoU and Dice where rows have masks.
    Refuses rows whose image the model was trained or validated on (the bundle's sha256 list)."""
    from nmkit.datasets import evaluation_rows, load_dataset, overlap

    role, model, info = _classifier(models)
    trained = (info.get("config") or {}).get("data") or {}
    label = label_column(trained)
    dataset = load_dataset({"root": str(data)}, rds_spec(label), 0)
    rows = evaluation_rows(dataset)
    if not rows:
        raise InputError(data / "dataset.csv", "has a split column but no test rows")
    for _, (_, bundle) in models.items():
        seen = overlap(dataset, rows, (bundle.get("dataset") or {}).get("training_sha256") or [])
        if seen:
            lines = ", ".join(str(row.line) for row, _ in seen[:10])
            raise InputError(data / "dataset.csv", f"lists {len(seen)} image(s) the model {bundle['model_path']} "
                                                   f"was trained or validated on (lines {lines}); evaluate on "
                                                   "images it has not seen")
    threshold = float((info.get("calibration") or {}).get("threshold", 0.5))
    labels = np.array([row[label] for row in rows])
    scores, mious, dices = [], [], []
    for row in rows:
        grey = read_own_radiograph(row["image"])
        image = grey.astype(np.float32) / 255.0
        mask = read_lung_mask(row["mask"], grey.shape) if row["mask"] is not None else None
        if "segmenter" in models:
            predicted, _ = segment_lungs(models["segmenter"][0], image, post)
            if mask is not None:
                mious.append(float(mean_iou(predicted.astype(np.int64), mask.astype(np.int64), 2)[0]))
                dices.append(float(dice(predicted, mask)[0]))
            mask = predicted
        if role == "lungs":
            if mask is None:
                raise InputError(row["image"], "has no mask and no segmenter was given for the lung classifier")
            scores.append(lung_rds_probability(models, grey, mask))
        else:
            scores.append(rds_probability(model, image))
    report = binary_report(scores, labels, threshold)
    return {"n": len(rows), "label_column": label, "classifier": role, "threshold": threshold,
            "accuracy": report.accuracy, "sensitivity": report.sensitivity, "specificity": report.specificity,
            "auc": report.auc, "ece": expected_calibration_error(scores, labels),
            "positives": int(labels.sum()), "miou": float(np.mean(mious)) if mious else None,
            "dice": float(np.mean(dices)) if dices else None,
            "models": {k: v[1]["model_path"] for k, v in models.items()}}


def format_evaluation(result: dict[str, Any]) -> str:
    """The evaluation as a few human-readable lines."""
    def show(value: Any) -> str:
        return "-" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)

    if "label_column" in result:  # own data
        keys = ("accuracy", "sensitivity", "specificity", "auc", "ece", "threshold", "miou", "dice")
        lines = [f"{result['n']} images, {result['positives']} with {result['label_column']} "
                 f"({result['classifier']} classifier)"]
        return "\n".join(lines + [f"  {key}: {show(result[key])}" for key in keys])
    keys = ("miou", "dice", "accuracy", "sensitivity", "specificity", "auc", "ece", "whole_image_accuracy",
            "joint_accuracy", "shortcut_drop_lungs", "shortcut_drop_whole_image", "shortcut_drop_joint")
    lines = [f"{result['n']} images (classifier on {result['classifier_masks']} lung masks; rotation TTA on "
             f"{result['rotation_tta_images']})"]
    return "\n".join(lines + [f"  {key}: {show(result[key])}" for key in keys])


def predict_image(path: str | Path, models: list[Path] | dict[str, tuple[nn.Module, dict[str, Any]]] | None,
                  out: str | Path, post: PostProcess = PostProcess(), force: bool = False) -> dict[str, Any]:
    """Lung mask (written to ``out/<name>.lungs.png``) and P(RDS) of one radiograph; needs a segmenter.
    ``models`` are bundle paths, or bundles already loaded by :func:`load_rds_models`. A file that is not a
    radiograph is refused (InputError) unless ``force``; a forced result says so."""
    path, out = Path(path), Path(out)
    forced = admit(load_image(path)).enforce(path, "rds predict", force)
    models = models if isinstance(models, dict) else load_rds_models(models)
    if "segmenter" not in models:
        raise InputError("--model", "predict needs a lung segmentation model among --model")
    mask, probability, done, check = analyse_radiograph(models, read_radiograph(path), post, path)
    mask_png = out / f"{path.stem}.lungs.png"
    with atomic_path(mask_png) as tmp:
        PILImage.fromarray(mask.astype(np.uint8) * 255).save(tmp, format="PNG")
    return {"rds_probability": probability, "lung_area_px": int(mask.sum()), "mask_png": str(mask_png),
            "rotation_tta": done["rotation_tta"], "forced": forced} | check.as_dict()
