"""`nmkit bonescan`: phantom scans, knee crops, DJD grade per knee, evaluation and the plan's sweep."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from nmkit.batch.command import SOURCES_HELP, CommandTask, analyse_inputs, batch_items, jobs_option, skip_done_option
from nmkit.console import output_folder, print_json, reports_input_errors
from nmkit.dicom import DICOM_OUT_HELP, save_results, sources_for
from nmkit.datasets.cli import dataset_app

app = typer.Typer(help="Knee degenerative joint disease grade on whole-body bone scans.", no_args_is_help=True)


def _dataset_spec():
    from nmkit.workflows.bonescan.data import DATASET

    return DATASET


app.add_typer(dataset_app(_dataset_spec), name="dataset")


@app.command()
@reports_input_errors
def synth(
    out: Path = typer.Option(..., "--out", help="Folder to write scans/*.mat and manifest.csv into."),
    n: int = typer.Option(200, "--n", min=1, help="Number of scans."),
    seed: int = typer.Option(0, "--seed", help="Random seed (same seed, same bytes)."),
    mat_version: str = typer.Option("v5", "--mat-version", help="MATLAB file version: v5 or v7.3 (HDF5)."),
) -> None:
    """Write N phantom whole-body scans in the study's .mat format with graded knees (+ manifest.csv)."""
    from rich.progress import Progress

    from nmkit.errors import InputError
    from nmkit.io.matlab import VERSIONS
    from nmkit.phantoms.bone import BoneSpec, write_bone_set

    if mat_version not in VERSIONS:
        raise InputError("--mat-version", f"must be one of {', '.join(VERSIONS)}, not {mat_version!r}")
    output_folder(out)
    with Progress(transient=True) as progress:
        job = progress.add_task("scans", total=n)
        write_bone_set(out, BoneSpec(), n, seed, mat_version, progress=lambda done: progress.update(job, completed=done))
    typer.echo(f"{n} scans written to {out}")


@app.command()
@reports_input_errors
def crop(
    scan: list[Path] = typer.Argument(..., help="A study .mat, a whole-body DICOM, or anterior and posterior files."),
    out: Optional[Path] = typer.Option(None, "--out", help="Folder for the crops (.npy, .png) and overlay PNG."),
    method: str = typer.Option("anatomy", "--method", help="anatomy (default) or plan (the plan's heuristic)."),
    json_out: bool = typer.Option(False, "--json", help="Print the knees as JSON."),
) -> None:
    """Find both knees; print side, row, col (crop centre, 0-based) and write 128x128 crops and an overlay."""
    import numpy as np

    from nmkit.atomic import atomic_path
    from nmkit.errors import InputError
    from nmkit.workflows.bonescan.analyse import knee_overlay_figure
    from nmkit.workflows.bonescan.data import load_scan
    from nmkit.workflows.bonescan.knees import METHODS, crop_knee, find_knees

    if method not in METHODS:
        raise InputError("--method", f"must be one of {', '.join(METHODS)}, not {method!r}")
    folder = output_folder(out or Path("bonescan-crop"))
    whole_body = load_scan(scan)
    knees = find_knees(whole_body.anterior, method, whole_body.path)
    stem = whole_body.path.stem
    files = {}
    for knee in knees:
        crop_counts = crop_knee(whole_body.anterior, knee)
        with atomic_path(folder / f"{stem}_{knee.side}_knee.npy") as tmp:
            with tmp.open("wb") as fh:
                np.save(fh, crop_counts)
        files[knee.side] = str(folder / f"{stem}_{knee.side}_knee.npy")
    overlay = knee_overlay_figure(whole_body.anterior, knees, [f"{k.side} knee" for k in knees],
                                  folder / f"{stem}_knees.png", f"{whole_body.path.name}: knees ({method})")
    if json_out:
        print_json({"file": str(whole_body.path), "method": method, "overlay_png": str(overlay),
                    "knees": [k.as_dict() | {"crop": files[k.side]} for k in knees]})
    else:
        for k in knees:
            typer.echo(f"{k.side:>5} knee: row {k.row}, col {k.col}  -> {files[k.side]}")
        typer.echo(f"overlay: {overlay}")


@app.command()
@reports_input_errors
def predict(
    scan: list[Path] = typer.Argument(..., help="A study .mat, a whole-body DICOM, or anterior and posterior files. "
                                      + SOURCES_HELP),
    model: Optional[Path] = typer.Option(None, "--model", help="Model bundle (default: the shipped model)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Folder for the overlay PNG (several inputs: default "
                                       "bonescan-predict)."),
    method: str = typer.Option("anatomy", "--method", help="Knee finder: anatomy (default) or plan."),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    dicom_out: Optional[Path] = typer.Option(None, "--dicom-out", help=DICOM_OUT_HELP),
    force: bool = typer.Option(False, "--force", help="Analyse a file that is not a whole-body scan anyway."),
    jobs: int = jobs_option(),
    skip_done: bool = skip_done_option(),
) -> None:
    """DJD grade (0 normal .. 4 severe) and grade probabilities for each knee."""
    from nmkit.errors import InputError
    from nmkit.workflows.bonescan.knees import METHODS

    if method not in METHODS:
        raise InputError("--method", f"must be one of {', '.join(METHODS)}, not {method!r}")
    items = batch_items(scan, one_input=_views_pair)
    if items is not None:
        out = out or Path("bonescan-predict")
    if out is not None:
        output_folder(out)
    options = {"method": method, "force": force, "dicom_out": dicom_out}
    task = CommandTask(grade_knees, "nmkit.workflows.bonescan.analyse:load_bonescan_model", model, out, options)
    analyse_inputs(task, scan, items, json_out=json_out, jobs=jobs, skip_done=skip_done)


def grade_knees(scan: Path | list[Path], out: Path | None, model, options: dict) -> list[tuple[dict, str]]:
    """One scan's knee grades: the overlay into ``out`` (none when None), and with ``dicom_out`` its DICOM
    results."""
    from nmkit.workflows.bonescan.analyse import KneeDJD

    net, info = model
    sources = sources_for(scan, options["dicom_out"])
    analysis = KneeDJD(scan, options["method"], force=options["force"]).analyze(net, info)
    if out is not None:
        analysis.plot_analyzed_image(out / f"{analysis.scan.path.stem}.knees.png")
    result = analysis.results_data().as_dict()
    if options["dicom_out"]:
        import tempfile

        from nmkit.workflows.bonescan.dicom_results import dicom_results

        with tempfile.TemporaryDirectory() as tmp:  # the SC needs the figure even without --out
            if out is None:
                analysis.plot_analyzed_image(Path(tmp) / "knees.png")
            result["dicom_files"] = save_results(dicom_results(analysis, sources, info), options["dicom_out"])
        result["overlay_png"] = None if out is None else result["overlay_png"]
    return [(result, analysis.results())]


def _views_pair(sources: list[Path]) -> bool:
    """Two image files of one view each: the anterior and posterior views of one scan (not two scans)."""
    from nmkit.errors import InputError
    from nmkit.io import load_image

    if len(sources) != 2 or not all(p.is_file() and p.suffix.lower() != ".mat" for p in sources):
        return False
    try:
        return all(load_image(p).n_frames == 1 for p in sources)
    except InputError:
        return False


@app.command()
@reports_input_errors
def evaluate(
    data: Path = typer.Option(..., "--data", help="An own-data folder (dataset.csv; its test rows are scored) or "
                              "a folder written by `nmkit bonescan synth`."),
    model: Optional[Path] = typer.Option(None, "--model", help="Model bundle or shipped model name (default: the "
                                         "shipped model)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Folder for the confusion-matrix PNG and rows.csv."),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Accuracy, QWK, macro-F1, per-grade sensitivity, confusion matrix and knee localisation within 10 px."""
    from nmkit.workflows.bonescan.evaluate import evaluate_folder, format_evaluation

    result = evaluate_folder(data, model_path=model, out_dir=out or data / "evaluation")
    print_json(result) if json_out else typer.echo(format_evaluation(result))


@app.command()
@reports_input_errors
def sweep(
    out: Path = typer.Option(Path("bonescan-sweep"), "--out", help="Folder for sweep.csv, sweep.json, sweep.png."),
    n: int = typer.Option(120, "--n", min=4, help="Phantom scans (2 knees each), 25 % for validation."),
    epochs: int = typer.Option(5, "--epochs", min=1, help="The baseline's epochs (the epochs factor tries 1/2x, 1x, 2x)."),
    seed: int = typer.Option(0, "--seed", help="Random seed for data and every run."),
    json_out: bool = typer.Option(False, "--json", help="Print the runs as JSON."),
) -> None:
    """The plan's comparisons (lr, batch size, epochs, blocks, optimizer) of SimpleCNN on phantom knees."""
    from rich.progress import Progress

    from nmkit.workflows.bonescan.sweep import run_sweep

    with Progress(transient=True) as progress:
        job = progress.add_task("sweep runs", total=None)
        rows = run_sweep(out, n, epochs, seed, progress=lambda done, total: progress.update(job, completed=done,
                                                                                              total=total))
    if json_out:
        print_json(rows)
    else:
        for row in rows:
            qwk = "n/a" if row["val_qwk"] is None else f"{row['val_qwk']:.3f}"
            typer.echo(f"{row['factor']:>10} = {row['value']!s:<12} train acc {row['train_accuracy']:.3f}  "
                       f"val acc {row['val_accuracy']:.3f}  QWK {qwk}")
        typer.echo(f"table and plot written to {out}")
