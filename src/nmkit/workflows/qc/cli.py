"""`nmkit qc`: make phantom floods, evaluate a model against the ideal observer, check real floods."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Optional

import typer

from nmkit.batch.command import SOURCES_HELP, CommandTask, analyse_inputs, batch_items, jobs_option, skip_done_option
from nmkit.console import output_folder, print_json, reports_input_errors, require_positive
from nmkit.dicom import DICOM_OUT_HELP, save_results, sources_for
from nmkit.datasets.cli import dataset_app

app = typer.Typer(help="Gamma-camera flood-field uniformity QC (NEMA NU 1 + CNN).", no_args_is_help=True)


def _dataset_spec():
    from nmkit.workflows.qc.data import DATASET

    return DATASET


app.add_typer(dataset_app(_dataset_spec), name="dataset")


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

    require_positive("--counts", counts)
    output_folder(out)
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
    data: Path = typer.Option(..., "--data", help="An own-data folder (dataset.csv; its test rows are scored) or "
                              "a folder written by `nmkit qc synth`."),
    model: Optional[Path] = typer.Option(None, "--model", help="Model bundle or shipped model name (default: the "
                                         "shipped model)."),
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
    files: list[Path] = typer.Argument(..., help="Flood images (DICOM, MetaImage, NIfTI, PNG/TIFF, .npy). "
                                       + SOURCES_HELP),
    model: Optional[Path] = typer.Option(None, "--model", help="Model bundle (default: the shipped model)."),
    out: Path = typer.Option(Path("qc-check"), "--out", help="Folder for the defect-map PNGs."),
    iu_limit: float = typer.Option(5.0, "--iu-limit", help="Fail when UFOV or CFOV integral uniformity exceeds this (%)."),
    du_limit: Optional[float] = typer.Option(None, "--du-limit", help="Fail when differential uniformity exceeds this (%)."),
    bin_factor: Optional[int] = typer.Option(None, "--bin", help="Force k x k summing for NEMA (else chosen for 6.4 mm)."),
    json_out: bool = typer.Option(False, "--json", help="One JSON object per file."),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="Also store each check in the QC history "
                                            "in this folder (as `nmkit serve` does)."),
    db_url: Optional[str] = typer.Option(None, "--db-url", help="Store each check in this QC history database."),
    dicom_out: Optional[Path] = typer.Option(None, "--dicom-out", help=DICOM_OUT_HELP),
    force: bool = typer.Option(False, "--force", help="Analyse files that are not floods anyway (never stored "
                                                     "in the QC history)."),
    jobs: int = jobs_option(),
    skip_done: bool = skip_done_option(),
) -> None:
    """NEMA NU 1 uniformity, AI defect probability and a defect map for each flood."""
    from nmkit.workflows.qc.history import database_url

    require_positive("--iu-limit", iu_limit)
    require_positive("--du-limit", du_limit)
    output_folder(out)
    options = {"iu_limit": iu_limit, "du_limit": du_limit, "bin_factor": bin_factor, "force": force,
               "dicom_out": dicom_out, "history_url": database_url(data_dir, db_url) if data_dir or db_url else None}
    task = CommandTask(check_flood, "nmkit.workflows.qc.analyse:load_qc_model", model, out, options)
    analyse_inputs(task, files, batch_items(files), json_out=json_out, jobs=jobs, skip_done=skip_done)


def check_flood(path: Path, out: Path, model, options: dict) -> list[tuple[dict, str]]:
    """One flood file's checks, one per head and energy window (a file of several gives several): defect maps
    into ``out``, each check in the QC history and, with ``dicom_out``, its DICOM results. Every head is analysed
    before anything is written, so bad input leaves no half-written output."""
    from nmkit.batch.run import history
    from nmkit.workflows.qc.analyse import FloodQC
    from nmkit.workflows.qc.battery._frames import head_images

    net, info = model
    sources = sources_for(path, options["dicom_out"])
    analyses = [(FloodQC(image, iu_limit=options["iu_limit"], du_limit=options["du_limit"],
                         bin_factor=options["bin_factor"], force=options["force"]).analyze(net, info), group)
                for group, image in head_images(path) or [(None, path)]]
    store = history(options["history_url"]) if options["history_url"] else None
    done = []
    for qc, group in analyses:
        qc.plot_analyzed_image(out / f"{path.name}{'' if group is None else '.' + group.tag}.qc.png")
        result = qc.results_data().as_dict()
        if group is not None:
            result |= {"detector": group.detector, "energy_window": group.energy_window}
        if options["dicom_out"]:
            from nmkit.workflows.qc.dicom_results import dicom_results

            result["dicom_files"] = save_results(dicom_results(qc, sources, info), options["dicom_out"])
        if store is not None and not result["forced"]:
            result["history_id"] = store.record(result, qc.image.metadata, path)
        done.append((result, qc.results()))
    return done


@app.command()
@reports_input_errors
def history(
    data_dir: Path = typer.Option(Path("nmkit-data"), "--data-dir", help="The folder `nmkit serve` keeps its data in."),
    db_url: Optional[str] = typer.Option(None, "--db-url", help="QC history database URL (default SQLite in --data-dir)."),
    iu_limit: float = typer.Option(5.0, "--iu-limit", help="Acceptance limit for integral uniformity (%)."),
    du_limit: Optional[float] = typer.Option(None, "--du-limit", help="Acceptance limit for differential uniformity (%)."),
    horizon: float = typer.Option(30.0, "--horizon-days", help="Flag a trend that reaches a limit within this many days."),
    json_out: bool = typer.Option(False, "--json", help="Print every camera head with its checks as JSON."),
) -> None:
    """Uniformity trend per camera and head: latest values, slope, and ok / rising / fail (--json: with the battery
    tests' trends too)."""
    from nmkit.workflows.qc.history import TREND_COLUMNS, FloodHistory, database_url, trend_row

    for option, value in (("--iu-limit", iu_limit), ("--du-limit", du_limit), ("--horizon-days", horizon)):
        require_positive(option, value)
    if not db_url and not (data_dir / "nmkit.db").is_file():
        from nmkit.errors import InputError

        raise InputError(data_dir, "holds no QC history (nmkit.db); check floods with `nmkit serve` or "
                                   "`nmkit qc check --data-dir` first")
    store = FloodHistory(database_url(data_dir, db_url))
    trends = store.trends(iu_limit, du_limit, horizon)
    if json_out:
        print_json({"iu_limit": iu_limit, "du_limit": du_limit, "horizon_days": horizon, "cameras": trends,
                    "battery": store.battery_trends(horizon)})
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"QC history (IU limit {iu_limit:g} %)")
    for name in TREND_COLUMNS:
        table.add_column(name)
    for cam in trends:
        table.add_row(*trend_row(cam))
    Console().print(table)


# --- QC battery: count rate, sensitivity, centre of rotation (one result per head and energy window) and the
# monthly report. Each command analyses everything before it writes anything.

def _battery_outputs(test: str, analyses: list, out: Path, json_out: bool, data_dir: Optional[Path],
                     db_url: Optional[str]) -> None:
    """Figures into ``out``, one result per head and window printed (JSON or text), stored in the history."""
    from nmkit.workflows.qc.history import FloodHistory, database_url

    store = FloodHistory(database_url(data_dir, db_url)) if data_dir or db_url else None
    several = len(analyses) > 1
    for qc in analyses:
        acq, group = qc.acquisition, qc.group
        qc.plot_analyzed_image(out / f"{acq.path.name}{'.' + group.tag if several else ''}.{test}.png")
        result = qc.results_data().as_dict()
        if store is not None:
            result["history_id"] = store.record_battery(test, result, acq.image.metadata, acq.path, group.detector,
                                                        group.energy_window)
        print_json(result) if json_out else typer.echo(qc.results())


@app.command()
@reports_input_errors
def countrate(
    file: Path = typer.Argument(..., help="A dynamic NM acquisition (DICOM; frame time read from the file)."),
    out: Path = typer.Option(Path("qc-countrate"), "--out", help="Folder for the count-rate curve PNG."),
    frame_s: Optional[float] = typer.Option(None, "--frame-s", help="Frame duration (s), overriding the file's."),
    nuclide: Optional[str] = typer.Option(None, "--nuclide", help="Decaying source's nuclide (Tc-99m, I-131, ...): "
                                          "adds the observed count rate at 20 % loss."),
    half_life: Optional[float] = typer.Option(None, "--half-life-s", help="Or the source's half-life in seconds."),
    json_out: bool = typer.Option(False, "--json", help="One JSON object per head and energy window."),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="Also store the result in this QC history."),
    db_url: Optional[str] = typer.Option(None, "--db-url", help="Store the result in this QC history database."),
) -> None:
    """NEMA NU 1 count rate: counts per second of every frame, the maximum and its frame (0-based)."""
    from nmkit.workflows.qc.battery.countrate import CountRateQC
    from nmkit.workflows.qc.battery.nuclides import half_life_s

    if nuclide is not None and half_life is None:
        half_life = half_life_s(nuclide)
    analyses = [qc.analyze() for qc in CountRateQC.per_head(file, frame_s=frame_s, half_life_s=half_life)]
    _battery_outputs("countrate", analyses, out, json_out, data_dir, db_url)


@app.command()
@reports_input_errors
def sensitivity(
    file: Path = typer.Argument(..., help="A planar acquisition of a source of known activity (one frame per head)."),
    activity_mbq: float = typer.Option(..., "--activity-mbq", help="The source's activity in MBq."),
    nuclide: Optional[str] = typer.Option(None, "--nuclide", help="Tc-99m, I-123, I-131, In-111, Ga-67, Lu-177 "
                                          "or Tl-201."),
    half_life: Optional[float] = typer.Option(None, "--half-life-s", help="Or the half-life in seconds."),
    activity_time: Optional[str] = typer.Option(None, "--activity-time", help="When the activity was measured "
                                                "(2024-01-02T09:30 or 09:30 on the acquisition day; default: "
                                                "at the acquisition start)."),
    background: Optional[Path] = typer.Option(None, "--background", help="A background acquisition (one frame per "
                                              "head)."),
    out: Path = typer.Option(Path("qc-sensitivity"), "--out", help="Folder for the source image PNG."),
    json_out: bool = typer.Option(False, "--json", help="One JSON object per head and energy window."),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="Also store the result in this QC history."),
    db_url: Optional[str] = typer.Option(None, "--db-url", help="Store the result in this QC history database."),
) -> None:
    """NEMA NU 1 planar sensitivity in cps/MBq, decay-corrected over the acquisition and from --activity-time."""
    from nmkit.workflows.qc.battery.sensitivity import SensitivityQC

    analyses = [qc.analyze() for qc in SensitivityQC.per_head(
        file, activity_mbq=activity_mbq, nuclide=nuclide, half_life=half_life, background=background,
        activity_time=activity_time)]
    _battery_outputs("sensitivity", analyses, out, json_out, data_dir, db_url)


@app.command()
@reports_input_errors
def cor(
    file: Path = typer.Argument(..., help="SPECT projections (TOMO) of a point source, one or more heads."),
    out: Path = typer.Option(Path("qc-cor"), "--out", help="Folder for the sinusoid and residual PNG."),
    json_out: bool = typer.Option(False, "--json", help="One JSON object per head and energy window."),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="Also store the result in this QC history."),
    db_url: Optional[str] = typer.Option(None, "--db-url", help="Store the result in this QC history database."),
) -> None:
    """Centre-of-rotation offset per head and the x / y deviations of the point source's track."""
    from nmkit.workflows.qc.battery.cor import CenterOfRotationQC

    analyses = [qc.analyze() for qc in CenterOfRotationQC.per_head(file)]
    _battery_outputs("cor", analyses, out, json_out, data_dir, db_url)


@app.command()
@reports_input_errors
def report(
    out: Path = typer.Option(..., "--out", help="The report: FILE.html (self-contained) or FILE.pdf."),
    data_dir: Path = typer.Option(Path("nmkit-data"), "--data-dir", help="The folder holding the QC history."),
    db_url: Optional[str] = typer.Option(None, "--db-url", help="QC history database URL (default: SQLite in "
                                         "--data-dir)."),
    camera: Optional[str] = typer.Option(None, "--camera", help="Only this camera (station name or serial number)."),
    month: Optional[str] = typer.Option(None, "--month", help="YYYY-MM (default: the month of the latest check)."),
    iu_limit: float = typer.Option(5.0, "--iu-limit", help="Acceptance limit for flood integral uniformity (%)."),
    du_limit: Optional[float] = typer.Option(None, "--du-limit", help="Acceptance limit for differential "
                                             "uniformity (%)."),
) -> None:
    """Monthly QC report per camera head: every test's latest value, limit, trend figure and the AI flood verdicts."""
    from nmkit.workflows.qc.history import FloodHistory, database_url
    from nmkit.workflows.qc.report import write_monthly_report

    if not db_url and not (data_dir / "nmkit.db").is_file():
        from nmkit.errors import InputError

        raise InputError(data_dir, "holds no QC history (nmkit.db); store checks with --data-dir first")
    path = write_monthly_report(FloodHistory(database_url(data_dir, db_url)), out, month, camera, iu_limit, du_limit)
    typer.echo(f"report written to {path}")


# The QC battery, part A: four-bar, quadrant, linearity, tomographic uniformity and contrast.
from nmkit.workflows.qc.battery.cli_imaging import register as register_imaging_tests  # noqa: E402

register_imaging_tests(app)
