"""`nmkit qc`: make phantom floods, evaluate a model against the ideal observer, check real floods."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Optional

import typer

from nmkit.console import print_json, reports_input_errors

app = typer.Typer(help="Gamma-camera flood-field uniformity QC (NEMA NU 1 + CNN).", no_args_is_help=True)


@app.command()
@reports_input_errors
def synth(
    out: Path = typer.Option(..., "--out", help="Folder to write images/ and manifest.csv into."),
    n: int = typer.Option(1000, "--n", min=1, help="Number of floods."),
    seed: int = typer.Option(0, "--seed", help="Random seed (same seed, same bytes)."),
    paper: bool = typer.Option(False, "--paper", help="The study's grid: 238x175 px, mean 98, cold discs only."),
    counts: Optional[float] = typer.Option(None, "--counts", min=0.1, help="Mean counts per pixel in the FOV."),
    fov: Optional[str] = typer.Option(None, "--fov", help="rectangular, circular or octagonal."),
) -> None:
    """Write N phantom floods with known defects (images/*.npy + manifest.csv)."""
    from rich.progress import Progress

    from nmkit.phantoms.flood import FloodSpec, write_flood_set

    spec = FloodSpec.paper() if paper else FloodSpec()
    changes = {k: v for k, v in {"counts": counts, "fov": fov}.items() if v is not None}
    try:
        spec = dataclasses.replace(spec, **changes)
    except (TypeError, ValueError) as err:
        from nmkit.errors import InputError

        raise InputError("--fov/--counts", str(err)) from err
    with Progress(transient=True) as progress:
        job = progress.add_task("floods", total=n)
        write_flood_set(out, spec, n, seed, progress=lambda done: progress.update(job, completed=done))
    typer.echo(f"{n} floods written to {out}")


@app.command()
@reports_input_errors
def evaluate(
    data: Path = typer.Option(..., "--data", help="A folder written by `nmkit qc synth`."),
    model: Optional[Path] = typer.Option(None, "--model", help="Model bundle (default: the shipped model)."),
    readers: Optional[Path] = typer.Option(None, "--readers", help="CSV reader,image,call of human readers."),
    out: Optional[Path] = typer.Option(None, "--out", help="Folder for the ROC and per-alpha figures."),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Accuracy, sensitivity, specificity, AUC of the model beside the matched-filter ideal observer."""
    from nmkit.workflows.qc.evaluate import evaluate_folder, format_evaluation

    result = evaluate_folder(data, model_path=model, readers_csv=readers, out_dir=out or data / "evaluation")
    if json_out:
        print_json(result)
    else:
        typer.echo(format_evaluation(result))


@app.command()
@reports_input_errors
def check(
    files: list[Path] = typer.Argument(..., help="Flood images (DICOM, MetaImage, NIfTI, PNG/TIFF, .npy)."),
    model: Optional[Path] = typer.Option(None, "--model", help="Model bundle (default: the shipped model)."),
    out: Path = typer.Option(Path("qc-check"), "--out", help="Folder for the defect-map PNGs."),
    iu_limit: float = typer.Option(5.0, "--iu-limit", help="Fail when UFOV or CFOV integral uniformity exceeds this (%)."),
    du_limit: Optional[float] = typer.Option(None, "--du-limit", help="Fail when differential uniformity exceeds this (%)."),
    bin_factor: Optional[int] = typer.Option(None, "--bin", help="Force k x k summing for NEMA (else chosen for 6.4 mm)."),
    json_out: bool = typer.Option(False, "--json", help="One JSON object per file."),
) -> None:
    """NEMA NU 1 uniformity, AI defect probability and a defect map for each flood."""
    from nmkit.workflows.qc.analyse import FloodQC, load_qc_model

    net, info = load_qc_model(model)
    # Analyse every file before writing anything, so bad input leaves no half-written output.
    analyses = [FloodQC(f, iu_limit=iu_limit, du_limit=du_limit, bin_factor=bin_factor).analyze(net, info) for f in files]
    for qc in analyses:
        qc.plot_analyzed_image(out / f"{qc.image.path.name}.qc.png")
        result = qc.results_data()
        print_json(result.as_dict()) if json_out else typer.echo(qc.results())
