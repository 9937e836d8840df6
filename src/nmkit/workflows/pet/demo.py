"""The pet part of `nmkit demo`: an FDG kinetic phantom patient, early, predicted and true delayed scans.

The shipped pix2pix generator predicts the delayed scan; its errors stand beside the identity baseline's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nmkit.phantoms.fdg import FDGSpec, generate_fdg_patients
from nmkit.report.figures import image_row_figure
from nmkit.report.html import Section
from nmkit.workflows.pet.analyse import load_pet_model, predict_volume
from nmkit.workflows.pet.data import PatientPair
from nmkit.workflows.pet.evaluate import PSNR_RANGE_SUV, lesion_errors, patient_metrics

SEED = 21  # fixed so the demo is the same every run


def pet_demo(out: Path) -> list[Section]:
    """One phantom patient: early, predicted and true delayed slices, tissue and lesion SUVs, and the errors."""
    spec = FDGSpec()
    patient = next(p for p in (generate_fdg_patients(spec, 1, SEED, start=i)[0] for i in range(8)) if p.lesions)
    pair = PatientPair("demo", patient.early, patient.delayed, patient.labels,
                       [vars(lesion) for lesion in patient.lesions], spec.spacing, None)
    lesion = max(patient.lesions, key=lambda item: item.diameter_mm)
    z = lesion.centre[0]
    generator, _ = load_pet_model()
    predicted = predict_volume(generator, patient.early)
    figure = image_row_figure({"early (7-21 min)": patient.early[z], "pix2pix (predicted)": predicted[z],
                               "delayed (42-63 min)": patient.delayed[z]},
                              out / "pet_early_delayed.png", f"axial slice {z}", "SUVbw")
    tissues = [{"tissue": name, "early SUV": early, "delayed SUV": delayed}
               for name, (early, delayed) in patient.tissue_suv.items()]
    lesions = [{"lesion": x.label, "diameter mm": x.diameter_mm, "host": x.host, "SUVmax early": x.suvmax_early,
                "SUVmax delayed": x.suvmax_delayed, "retention index": (x.suvmax_delayed - x.suvmax_early) / x.suvmax_early}
               for x in patient.lesions]
    methods = []
    for name, volume in (("pix2pix (shipped model)", predicted), ("identity (delayed = early)", patient.early)):
        metrics, errors = patient_metrics(pair, volume), lesion_errors(pair, volume)
        methods.append({"method": name, "PSNR dB": metrics["psnr"], "PSNR body dB": metrics["psnr_body"],
                        "SSIM": metrics["ssim"],
                        "median lesion SUVmax error %": 100 * float(np.median([e["suvmax_error"] for e in errors]))})
    text = (f"An 18F-FDG kinetic phantom ({spec.size} x {spec.size} x {spec.slices} voxels of {spec.pixel_mm} x "
            f"{spec.pixel_mm} x {spec.slice_mm} mm): early {spec.early_window_min[0]:g}-{spec.early_window_min[1]:g} min and "
            f"delayed {spec.delayed_window_min[0]:g}-{spec.delayed_window_min[1]:g} min after injection, in SUVbw. Lesions "
            f"gain uptake while blood and liver wash out. The shipped pix2pix generator (trained on phantoms; see "
            "nmkit/workflows/pet/default_model/MODEL_CARD.md) predicts the delayed scan from the early one. PSNR range "
            f"{PSNR_RANGE_SUV:g} SUV.")
    return [Section("pet: early to delayed FDG PET", text, [tissues, lesions, methods], [figure])]
