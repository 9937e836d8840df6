"""`nmkit gbp`: make gated blood-pool phantoms, evaluate an LV model, compute the LVEF of a study."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from nmkit.batch.command import SOURCES_HELP, CommandTask, analyse_inputs, batch_items, jobs_option, skip_done_option
from nmkit.console import output_folder, print_json, reports_input_errors, require_positive
from nmkit.dicom import DICOM_OUT_HELP, save_results, sources_for
from nmkit.datasets.cli import dataset_app

app = typer.Typer(help="ECG-gated blood pool (MUGA): LV segmentation and ejection fraction.", no_args_is_help=True)


def _dataset_spec():
    from nmkit.workflows.gbp.data import DATASET

    return DATASET


app.add_typer(dataset_app(_dataset_spec), name="dataset")

BACKGROUND_HELP = ("Background ROI: 'study' (4th quadrant of a dilated ES ring, the paper's), 'crescent' (guideline) "
                   "or 'spill' (inferolateral, 1-2 system FWHM beyond the ES border, with the LV counts corrected "
                   "for the camera blur's spill out of the ROI).")


@app.command()
@reports_input_errors
def synth(
    out: Path = typer.Option(..., "--out", help="Folder to write studies/, masks/ and manifest.csv into."),
    n: int = typer.Option(100, "--n", min=1, help="Number of gated studies."),
    seed: int = typer.Option(0, "--seed", help="Random seed (same seed, same bytes)."),
    frames: int = typer.Option(24, "--frames", min=8, max=32, help="Frames (time slots) per cardiac cycle."),
    fmt: str = typer.Option("dicom", "--format", help="dicom (multi-frame gated NM) or npy."),
    observers: int = typer.Option(0, "--observers", min=0, help="Simulated observers' LabelMe ROIs per training frame."),
) -> None:
    """Write N phantom gated studies with true LV masks and true EF."""
    import dataclasses

    from rich.progress import Progress

    from nmkit.errors import InputError
    from nmkit.phantoms.gated import GatedSpec, write_gated_set

    if fmt not in ("dicom", "npy"):
        raise InputError("--format", f"must be dicom or npy, not {fmt!r}")
    output_folder(out)
    spec = dataclasses.replace(GatedSpec(), frames=frames)
    with Progress(transient=True) as progress:
        job = progress.add_task("studies", total=n)
        write_gated_set(out, spec, n, seed, fmt=fmt, observers=observers,
                        progress=lambda done: progress.update(job, completed=done))
    typer.echo(f"{n} gated studies written to {out}")


@app.command()
@reports_input_errors
def evaluate(
    data: Path = typer.Option(..., "--data", help="An own-data folder (dataset.csv; its test rows are scored) or "
                              "a folder written by `nmkit gbp synth`."),
    model: Optional[Path] = typer.Option(None, "--model", help="Model bundle or shipped model name (default: the "
                                         "shipped model)."),
    background: str = typer.Option("study", "--background", help=BACKGROUND_HELP),
    out: Optional[Path] = typer.Option(None, "--out", help="Folder for the Bland-Altman plot and per-study CSV."),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Dice/IoU/pixel accuracy at ED and ES, EF against the true EF, and the classical baseline."""
    from nmkit.workflows.gbp.evaluate import evaluate_folder, format_evaluation

    result = evaluate_folder(data, model, out or data / "evaluation", background)
    print_json(result) if json_out else typer.echo(format_evaluation(result))


@app.command()
@reports_input_errors
def ef(
    studies: list[Path] = typer.Argument(..., help="A gated study: multi-frame DICOM/NIfTI/.npy, or a folder of "
                                         "frames. " + SOURCES_HELP),
    model: Optional[Path] = typer.Option(None, "--model", help="Model bundle (default: the shipped model)."),
    background: str = typer.Option("study", "--background", help=BACKGROUND_HELP),
    fwhm_mm: float = typer.Option(12.0, "--fwhm-mm", help="System resolution (FWHM, mm) for --background spill."),
    out: Path = typer.Option(Path("gbp-ef"), "--out", help="Folder for the ROI overlay and the curve PNGs."),
    json_out: bool = typer.Option(False, "--json", help="Print the result as one JSON object."),
    dicom_out: Optional[Path] = typer.Option(None, "--dicom-out", help=DICOM_OUT_HELP),
    force: bool = typer.Option(False, "--force", help="Analyse a file that is not a gated study anyway."),
    jobs: int = jobs_option(),
    skip_done: bool = skip_done_option(),
) -> None:
    """LV ejection fraction: LV ROI on every frame, ED/ES, background ROI, time-activity curve."""
    require_positive("--fwhm-mm", fwhm_mm)
    output_folder(out)
    options = {"background": background, "fwhm_mm": fwhm_mm, "force": force, "dicom_out": dicom_out}
    items = batch_items(studies, group_series=True, group_frames=True)
    task = CommandTask(ef_of_study, "nmkit.workflows.gbp.analyse:load_gbp_model", model, out, options)
    analyse_inputs(task, studies, items, json_out=json_out, jobs=jobs, skip_done=skip_done)


def ef_of_study(study: Path, out: Path, model, options: dict) -> list[tuple[dict, str]]:
    """One study's LVEF: the ROI overlay and the curve into ``out``, and with ``dicom_out`` its DICOM results."""
    from nmkit.workflows.gbp.analyse import GatedEF

    net, info = model
    sources = sources_for(study, options["dicom_out"])
    analysis = GatedEF(study, background=options["background"], fwhm_mm=options["fwhm_mm"],
                       force=options["force"]).analyze(net, info)
    analysis.plot_analyzed_image(out / f"{study.name}.rois.png")
    analysis.plot_curve(out / f"{study.name}.curve.png")
    result = analysis.results_data().as_dict()
    if options["dicom_out"]:
        from nmkit.workflows.gbp.dicom_results import dicom_results

        result["dicom_files"] = save_results(dicom_results(analysis, sources, info), options["dicom_out"])
    return [(result, analysis.results())]
