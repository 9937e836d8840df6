"""`nmkit pet`: SUVbw of PET DICOM, FDG kinetic phantoms, early -> delayed prediction and evaluation."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from nmkit.console import output_file, output_folder, print_json, reports_input_errors, require_positive
from nmkit.batch.command import SOURCES_HELP, CommandTask, analyse_inputs, batch_items, jobs_option, skip_done_option
from nmkit.dicom import DICOM_OUT_HELP, sources_for
from nmkit.datasets.cli import dataset_app

app = typer.Typer(help="Early to delayed 18F-FDG PET translation (pix2pix vs CycleGAN), SUVbw I/O.",
                  no_args_is_help=True)


def _dataset_spec():
    from nmkit.workflows.pet.data import DATASET

    return DATASET


app.add_typer(dataset_app(_dataset_spec), name="dataset")


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
    early: list[Path] = typer.Argument(..., help="Early PET: SUV NIfTI (.nii/.nii.gz) or DICOM PT file/folder. "
                                       + SOURCES_HELP),
    output: Path = typer.Option(..., "-o", "--out", help="Predicted delayed volume: a folder (a new PT DICOM "
                                "series, one file per slice; needs a DICOM early series) or a .nii/.nii.gz file. "
                                "Several inputs: a folder, with OUT/<relative path>.delayed/ (PT series) or "
                                ".delayed.nii.gz per input."),
    model: Optional[Path] = typer.Option(None, "--model",
                                         help="Generator bundle from `nmkit train` (default: the shipped one)."),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    dicom_out: Optional[Path] = typer.Option(None, "--dicom-out", help=DICOM_OUT_HELP),
    jobs: int = jobs_option(),
    skip_done: bool = skip_done_option(),
) -> None:
    """Predict the delayed-phase SUVbw volume of an early one, keeping its shape and voxel size."""
    from nmkit.errors import InputError
    from nmkit.workflows.pet.dicom_results import NIFTI, prediction_target, series_kind

    items = batch_items(early, group_series=True)
    if items is None:  # one input: -o names its predicted volume
        output_file(output) if prediction_target(output) == NIFTI else output_folder(output)
    elif series_kind(output) == NIFTI:
        raise InputError(output, "names one file, but several inputs need a folder for their predictions")
    else:
        output_folder(output)
    task = CommandTask(predict_delayed, "nmkit.workflows.pet.analyse:load_pet_model", model, output,
                       {"dicom_out": dicom_out}, output_of=delayed_output)
    analyse_inputs(task, early, items, json_out=json_out, jobs=jobs, skip_done=skip_done)


def predict_delayed(early: Path, output: Path, model, options: dict) -> list[tuple[dict, str]]:
    """One early volume's predicted delayed volume, written to ``output`` (a PT series folder, or NIfTI when it
    is named .nii/.nii.gz), and with ``dicom_out`` the SR and SC."""
    from nmkit.workflows.pet.dicom_results import SERIES, predict_to, series_kind, series_sources

    target = series_kind(output)
    sources = series_sources(early) if target == SERIES else sources_for(early, options["dicom_out"])
    result = predict_to(early, output, model, sources, options["dicom_out"])
    return [(result, f"delayed volume written to {output} (SUVmax {result['predicted_suv_max']:.2f})")]


def delayed_output(out: Path, item) -> Path:
    """Where a batch item's prediction goes: OUT/<relative path>.delayed.nii.gz for NIfTI, else the PT series
    folder OUT/<relative path>.delayed/."""
    key = item.key
    for suffix in (".nii.gz", ".nii"):
        if key.lower().endswith(suffix):
            return out / f"{key[:-len(suffix)]}.delayed.nii.gz"
    return out / f"{key}.delayed"


@app.command()
@reports_input_errors
def evaluate(
    data: Path = typer.Option(..., "--data", help="An own-data folder (dataset.csv; its test rows are scored) or "
                              "a folder written by `nmkit pet synth`."),
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
