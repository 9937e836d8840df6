"""`nmkit rds`: make neonatal chest X-ray phantoms, prepare a set as the study, evaluate and predict."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from nmkit.batch.command import SOURCES_HELP, CommandTask, analyse_inputs, batch_items, jobs_option, skip_done_option
from nmkit.console import output_folder, print_json, reports_input_errors
from nmkit.dicom import DICOM_OUT_HELP, save_results, sources_for

app = typer.Typer(help="Neonatal respiratory distress syndrome on chest X-ray: lungs, then RDS.", no_args_is_help=True)

MODEL_HELP = ("Model bundle or shipped model's name (e.g. rds-pneumoniamnist); repeat for the lung segmenter, the "
              "lung classifier and the whole-image classifier (default: the shipped segmenter and lung classifier).")

dataset_app = typer.Typer(help="Own-data folders (dataset.csv with image, rds or another finding, mask, split, "
                               "patient_id): check one before training.", no_args_is_help=True)
app.add_typer(dataset_app, name="dataset")


@dataset_app.command("check")
@reports_input_errors
def dataset_check(
    folder: Path = typer.Argument(..., help="Folder holding dataset.csv (paths relative to it)."),
    label_column: str = typer.Option("rds", "--label-column", help="The binary finding's column (data.label_column)."),
    json_out: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Read every row (image, mask) and list every problem at once; exit 2 when there are errors."""
    from nmkit.console import EXIT_BAD_INPUT
    from nmkit.datasets import check_dataset
    from nmkit.workflows.rds.data import rds_spec

    report = check_dataset(folder, rds_spec(label_column))
    print_json(report.as_dict()) if json_out else typer.echo(report.format())
    if not report.ok:
        raise typer.Exit(EXIT_BAD_INPUT)


@app.command()
@reports_input_errors
def synth(
    out: Path = typer.Option(..., "--out", help="Folder to write images/, masks/, json/ and dataset.csv into."),
    n: int = typer.Option(100, "--n", min=1, help="Number of radiographs."),
    seed: int = typer.Option(0, "--seed", help="Random seed (same seed, same bytes)."),
    confounded: bool = typer.Option(False, "--confounded", help="Tie devices to RDS (90 % of RDS, 10 % of others)."),
    size: int = typer.Option(512, "--size", min=32, max=4096, help="Image rows (and columns unless --width)."),
    width: Optional[int] = typer.Option(None, "--width", min=32, max=4096, help="Image columns (default: --size)."),
    fmt: str = typer.Option("png", "--format", help="png (8-bit) or dicom (DX, 12-bit)."),
    photometric: str = typer.Option("MONOCHROME2", "--photometric", help="MONOCHROME2 or MONOCHROME1 (DICOM only)."),
) -> None:
    """Write N phantom neonatal chest radiographs with lung masks, LabelMe outlines, RDS label and grade."""
    import dataclasses

    from rich.progress import Progress

    from nmkit.errors import InputError
    from nmkit.phantoms.chest import FORMATS, ChestSpec, write_chest_set

    if fmt not in FORMATS:
        raise InputError("--format", f"must be png or dicom, not {fmt!r}")
    if photometric not in ("MONOCHROME1", "MONOCHROME2"):
        raise InputError("--photometric", f"must be MONOCHROME1 or MONOCHROME2, not {photometric!r}")
    output_folder(out)
    spec = dataclasses.replace(ChestSpec(), shape=(size, width or size), confounded=confounded)
    with Progress(transient=True) as progress:
        job = progress.add_task("radiographs", total=n)
        write_chest_set(out, spec, n, seed, fmt=fmt, photometric=photometric,
                        progress=lambda done: progress.update(job, completed=done))
    typer.echo(f"{n} chest radiographs written to {out}")


@app.command()
@reports_input_errors
def prepare(
    data: Path = typer.Option(..., "--data", help="A folder with dataset.csv, images and LabelMe lung files."),
    out: Path = typer.Option(..., "--out", help="Folder for png/, masks/, json/ and dataset.csv with the split."),
    seed: int = typer.Option(0, "--seed", help="Seed of the 5-group split."),
) -> None:
    """DICOM/PNG -> 8-bit PNG (window, MONOCHROME1 inverted), lung masks, and the 5-group split by lung area."""
    from nmkit.workflows.rds.prepare import prepare_set

    prepare_set(data, out, seed)
    typer.echo(f"prepared set written to {out}")


@app.command()
@reports_input_errors
def evaluate(
    data: Path = typer.Option(..., "--data", help="An own-data folder (dataset.csv with an image column; its test "
                                                   "rows), or one from `nmkit rds synth` / `prepare`."),
    model: Optional[list[Path]] = typer.Option(None, "--model", help=MODEL_HELP),
    median: bool = typer.Option(True, "--median/--no-median", help="Median filter on the predicted mask."),
    tta: bool = typer.Option(True, "--tta/--no-tta", help="Rotation TTA when the predicted lung is small."),
    islands: bool = typer.Option(True, "--islands/--no-islands", help="Drop regions under 10 % of the largest lung."),
    holes: bool = typer.Option(True, "--holes/--no-holes", help="Fill holes inside a lung (vessels, nodules)."),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Lung mIoU/Dice, RDS accuracy, sensitivity, specificity, AUC, and the device shortcut test."""
    from nmkit.workflows.rds.evaluate import evaluate_folder, format_evaluation
    from nmkit.workflows.rds.postprocess import PostProcess

    result = evaluate_folder(data, model, PostProcess(median=median, tta=tta, islands=islands, holes=holes))
    print_json(result) if json_out else typer.echo(format_evaluation(result))


@app.command()
@reports_input_errors
def predict(
    images: list[Path] = typer.Argument(..., help="A chest radiograph: DICOM (DX/CR) or PNG. " + SOURCES_HELP),
    model: Optional[list[Path]] = typer.Option(None, "--model", help=MODEL_HELP),
    out: Path = typer.Option(Path("rds-predict"), "--out", help="Folder for the lung mask PNG."),
    median: bool = typer.Option(True, "--median/--no-median", help="Median filter on the predicted mask."),
    tta: bool = typer.Option(True, "--tta/--no-tta", help="Rotation TTA when the predicted lung is small."),
    islands: bool = typer.Option(True, "--islands/--no-islands", help="Drop regions under 10 % of the largest lung."),
    holes: bool = typer.Option(True, "--holes/--no-holes", help="Fill holes inside a lung (vessels, nodules)."),
    json_out: bool = typer.Option(False, "--json", help="Print the result as one JSON object."),
    dicom_out: Optional[Path] = typer.Option(None, "--dicom-out", help=DICOM_OUT_HELP),
    force: bool = typer.Option(False, "--force", help="Analyse a file that is not a radiograph anyway."),
    jobs: int = jobs_option(),
    skip_done: bool = skip_done_option(),
) -> None:
    """Lung mask and RDS probability of one radiograph."""
    output_folder(out)
    options = {"post": {"median": median, "tta": tta, "islands": islands, "holes": holes}, "force": force,
               "dicom_out": dicom_out}
    task = CommandTask(predict_radiograph, "nmkit.workflows.rds.evaluate:load_rds_models", model, out, options)
    analyse_inputs(task, images, batch_items(images), json_out=json_out, jobs=jobs, skip_done=skip_done)


def predict_radiograph(image: Path, out: Path, models, options: dict) -> list[tuple[dict, str]]:
    """One radiograph's lung mask (a PNG in ``out``) and P(RDS), and with ``dicom_out`` its DICOM results."""
    from nmkit.workflows.rds.evaluate import predict_image
    from nmkit.workflows.rds.postprocess import PostProcess

    sources = sources_for(image, options["dicom_out"])
    result = predict_image(image, models, out, PostProcess(**options["post"]), force=options["force"])
    if options["dicom_out"]:
        from nmkit.workflows.rds.dicom_results import dicom_results_of_prediction

        result["dicom_files"] = save_results(dicom_results_of_prediction(image, result, models, sources, out),
                                             options["dicom_out"])
    p = result["rds_probability"]
    mark = "" if result["in_domain"] else " (unreliable)"
    return [(result, f"lung area {result['lung_area_px']} px, mask {result['mask_png']}, RDS probability "
                     f"{'-' if p is None else f'{p:.3f}'}{mark}")]
