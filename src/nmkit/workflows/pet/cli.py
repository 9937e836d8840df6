"""`nmkit pet`: SUVbw of PET DICOM, FDG kinetic phantoms, early -> delayed prediction and evaluation."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from nmkit.console import output_file, output_folder, print_json, reports_input_errors, require_positive
from nmkit.dicom import DICOM_OUT_HELP, sources_for

app = typer.Typer(help="Early to delayed 18F-FDG PET translation (pix2pix vs CycleGAN), SUVbw I/O.",
                  no_args_is_help=True)


@app.command()
@reports_input_errors
def suv(
    files: list[Path] = typer.Argument(..., help="PET DICOM files or folders (one series each)."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object per file."),
) -> None:
    """SUVbw of each PET DICOM file or series: suv_factor (g/Bq), suv_max, suv_mean."""
    from nmkit.io.pet import read_pet_suv

    for path in files:
        image = read_pet_suv(path)
        calibration = image.metadata["suv"]
        row = {"file": str(path), "suv_factor": calibration["suv_factor"], "suv_max": float(image.array.max()),
               "suv_mean": float(image.array.mean()), "slices": image.n_frames,
               "decay_correction": calibration["decay_correction"], "decay_factor": calibration["decay_factor"],
               "weight_kg": calibration["weight_kg"], "injected_dose_bq": calibration["injected_dose_bq"]}
        if json_out:
            print_json(row)
        else:
            typer.echo(f"{path}: suv_factor {row['suv_factor']:.6g} g/Bq, SUVmax {row['suv_max']:.3f}, "
                       f"SUVmean {row['suv_mean']:.4f} ({row['slices']} slice(s), {row['decay_correction']})")


@app.command()
@reports_input_errors
def synth(
    out: Path = typer.Option(..., "--out", help="Folder for patient_*/{early,delayed,labels}.nii.gz and manifest.csv."),
    n: int = typer.Option(18, "--n", min=1, help="Number of patients (the study had 18)."),
    seed: int = typer.Option(0, "--seed", help="Random seed (same seed, same bytes)."),
    size: int = typer.Option(128, "--size", min=32, help="In-plane matrix (voxels)."),
    slices: int = typer.Option(176, "--slices", min=8, help="Axial slices."),
    pixel_mm: float = typer.Option(5.3456, "--pixel-mm", help="In-plane voxel size (mm)."),
    slice_mm: float = typer.Option(5.0, "--slice-mm", help="Slice spacing (mm)."),
) -> None:
    """Write N FDG kinetic phantom patients: early (7-21 min) and delayed (42-63 min) SUVbw NIfTI pairs."""
    from rich.progress import Progress

    from nmkit.errors import InputError
    from nmkit.phantoms.fdg import FDGSpec, write_fdg_set

    require_positive("--pixel-mm", pixel_mm)
    require_positive("--slice-mm", slice_mm)
    output_folder(out)
    try:
        spec = FDGSpec(size=size, slices=slices, pixel_mm=pixel_mm, slice_mm=slice_mm)
    except ValueError as err:
        raise InputError("pet synth", str(err)) from None
    with Progress(transient=True) as progress:
        job = progress.add_task("patients", total=n)
        write_fdg_set(out, spec, n, seed, progress=lambda done: progress.update(job, completed=done))
    typer.echo(f"{n} FDG phantom patients written to {out}")


@app.command()
@reports_input_errors
def predict(
    early: Path = typer.Argument(..., help="Early PET: SUV NIfTI (.nii/.nii.gz) or DICOM PT file/folder."),
    output: Path = typer.Option(..., "-o", "--out", help="Predicted delayed volume: a folder (a new PT DICOM "
                                "series, one file per slice; needs a DICOM early series) or a .nii/.nii.gz file."),
    model: Optional[Path] = typer.Option(None, "--model",
                                         help="Generator bundle from `nmkit train` (default: the shipped one)."),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    dicom_out: Optional[Path] = typer.Option(None, "--dicom-out", help=DICOM_OUT_HELP),
) -> None:
    """Predict the delayed-phase SUVbw volume of an early one, keeping its shape and voxel size."""
    from nmkit.workflows.pet.dicom_results import NIFTI, SERIES, predict_to, prediction_target, series_sources

    target = prediction_target(output)
    if target == NIFTI:
        output_file(output)
    else:
        output_folder(output)
    sources = series_sources(early) if target == SERIES else sources_for(early, dicom_out)
    result = predict_to(early, output, model, sources, dicom_out)
    print_json(result) if json_out else typer.echo(
        f"delayed volume written to {output} (SUVmax {result['predicted_suv_max']:.2f})")


@app.command()
@reports_input_errors
def evaluate(
    data: Path = typer.Option(..., "--data", help="A folder written by `nmkit pet synth`."),
    model: list[Path] = typer.Option([], "--model", help="Generator bundle(s); repeat to compare (first is "
                                                          "headline; default: the shipped one)."),
    fid_weights: Optional[Path] = typer.Option(None, "--fid-weights",
                                               help="Local torchvision Inception-v3 weights for FID."),
    out: Optional[Path] = typer.Option(None, "--out", help="Folder for the comparison figure."),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """PSNR (whole, body), SSIM, NRMSE, FID and lesion errors on the split's test patients, with baselines."""
    from nmkit.workflows.pet.evaluate import evaluate_folder, format_evaluation

    result = evaluate_folder(data, list(model), out or data / "evaluation", fid_weights)
    print_json(result) if json_out else typer.echo(format_evaluation(result))
