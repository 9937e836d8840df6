"""The `nmkit` command: shared commands (train, models, demo) and one sub-command per workflow."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from importlib import import_module
from pathlib import Path
from typing import Optional

import typer

from nmkit.console import EXIT_BAD_INPUT, print_json, reports_input_errors
from nmkit.errors import InputError
from nmkit.workflows.bonescan.cli import app as bonescan_app
from nmkit.workflows.gbp.cli import app as gbp_app
from nmkit.workflows.pet.cli import app as pet_app
from nmkit.workflows.qc.cli import app as qc_app
from nmkit.workflows.rds.cli import app as rds_app

app = typer.Typer(help="nmkit: deep learning workflows for nuclear medicine imaging.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)


def _pixel_cap(key: str) -> Callable[..., None]:
    """The workflow group's callback: its pixel cap (``--max-pixel-mb``, else the workflow's own) for every
    file its command reads."""
    def callback(ctx: typer.Context, max_pixel_mb: Optional[float] = typer.Option(
            None, "--max-pixel-mb", help="Refuse images that decode to more than this many MB (rows x columns x "
                                         "frames x bytes per sample; default: the workflow's cap).")) -> None:
        from nmkit.limits import pixel_limit

        cap = import_module(f"nmkit.workflows.{key}").MAX_PIXEL_MB if max_pixel_mb is None else max_pixel_mb
        if not (math.isfinite(cap) and cap > 0):
            typer.echo(f"error: --max-pixel-mb: must be a positive number, not {cap!r}.", err=True)
            raise typer.Exit(EXIT_BAD_INPUT)
        ctx.with_resource(pixel_limit(cap))

    return callback


for _key, _app in {"qc": qc_app, "gbp": gbp_app, "pet": pet_app, "bonescan": bonescan_app, "rds": rds_app}.items():
    app.add_typer(_app, name=_key, callback=_pixel_cap(_key))



@app.callback()
def options(device: str = typer.Option("cpu", "--device", envvar="NMKIT_DEVICE",
                                       help="Where models run: cpu, cuda (or cuda:N) or auto (a GPU when there is one). "
                                            "Goes before the command: nmkit --device cuda qc check FILE.")) -> None:
    """nmkit: deep learning workflows for nuclear medicine imaging."""
    if device.strip().lower() != "cpu":
        from nmkit.models.device import set_device

        try:
            set_device(device)
            os.environ["NMKIT_DEVICE"] = device  # batch worker processes follow the same choice
        except InputError as err:
            typer.echo(f"error: {err}", err=True)
            raise typer.Exit(EXIT_BAD_INPUT) from None

@app.command()
@reports_input_errors
def train(
    config: Path = typer.Argument(..., help="Experiment YAML, e.g. configs/qc-fast.yaml."),
    out: Path = typer.Option(None, "--out", help="Run folder (default runs/<config name>)."),
    data: Optional[Path] = typer.Option(None, "--data", help="Data folder: an own-data folder (dataset.csv) or a "
                                        "synth folder; overrides data.root."),
    folds: Optional[int] = typer.Option(None, "--folds", help="K-fold cross-validation on patient-level folds "
                                        "(own data): mean and sd of each validation metric."),
    devices: Optional[int] = typer.Option(None, help="Number of devices (processes for DDP on CPU)."),
    strategy: Optional[str] = typer.Option(None, help="Lightning strategy, e.g. ddp."),
    max_epochs: Optional[int] = typer.Option(None, help="Override trainer.max_epochs."),
    resume: bool = typer.Option(False, help="Continue from RUN/checkpoints/last.ckpt."),
) -> None:
    """Train the experiment described by CONFIG; writes checkpoints, logs/metrics.csv and model.pt.

    An own-data folder is checked first (as `nmkit WORKFLOW dataset check`): any problem stops here, exit 2.
    """
    from nmkit.engine import load_config
    from nmkit.engine import train as run_training
    from nmkit.engine.train import train_folds

    cfg = load_config(config, data=data)
    out = out or Path("runs") / config.stem
    if folds is not None:
        result = train_folds(cfg, out, folds, max_epochs=max_epochs, log=typer.echo)
        for name, mean in result["mean"].items():
            typer.echo(f"{name}: {mean:.4f} +/- {result['sd'][name]:.4f} (mean +/- sd over {folds} folds)")
        typer.echo(f"folds written to {out / 'folds.json'}")
        return
    bundle = run_training(cfg, out, devices=devices, strategy=strategy, resume=resume, max_epochs=max_epochs,
                          log=typer.echo)
    typer.echo(f"model written to {bundle}")


@app.command("models")
def models_command(pattern: str = typer.Argument("*", help="Shell-style filter, e.g. 'qc-*'."),
                   shipped: bool = typer.Option(False, "--shipped", help="List the shipped trained models (usable "
                                                "by name with --model and model.init) instead of architectures."),
                   json_out: bool = typer.Option(False, "--json")) -> None:
    """List the registered model architectures, or the shipped trained models."""
    import fnmatch

    from nmkit.models import list_models, shipped_catalogue

    if shipped:
        rows = [r for r in shipped_catalogue() if fnmatch.fnmatch(r["name"], pattern)]
        if json_out:
            print_json(rows)
        for r in [] if json_out else rows:
            metrics = ", ".join(f"{k} {v:g}" for k, v in r["metrics"].items())
            typer.echo(f"{r['name']:<22} {r['workflow']:<9} {r['model']:<22} {r['sha256'][:12]}  "
                       f"nmkit {r['nmkit_version'] or '?'}  {r['training_data'] or '?'}  {metrics}")
        return
    names = list_models(pattern)
    if json_out:
        print_json(names)
    else:
        typer.echo("\n".join(names))


@app.command("batch")
@reports_input_errors
def batch_command(
    workflow: str = typer.Argument(..., help="qc, gbp, pet, bonescan or rds."),
    sources: list[Path] = typer.Argument(..., help="Files and folders (searched recursively; for pet, the DICOM "
                                         "files of one series form one item)."),
    out: Path = typer.Option(Path("nmkit-batch"), "--out", help="Results: OUT/<input's relative path>/result.json "
                             "and figures."),
    model: Optional[list[Path]] = typer.Option(None, "--model", help="Model bundle(s) (default: the shipped ones)."),
    jobs: int = typer.Option(1, "--jobs", min=1, help="Worker processes."),
    skip_done: bool = typer.Option(False, "--skip-done", help="Do not analyse again an item whose result.json "
                                   "exists (resume a stopped batch)."),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="qc: also store each flood in the QC history "
                                            "in this folder."),
    db_url: Optional[str] = typer.Option(None, "--db-url", help="qc: store each flood in this QC history database "
                                         "(PostgreSQL in production)."),
    ray_address: Optional[str] = typer.Option(None, "--ray", help="Run the items as Ray tasks on this cluster "
                                              "(`auto`, ray://HOST:PORT, or `local`)."),
) -> None:
    """Analyse many inputs: one JSON line per item on stdout (its result, or `error`), a progress bar on stderr.

    Exit code 0 when every item succeeded, 1 when some failed, 2 when none could be read.
    """
    from nmkit.batch import BatchTask, discover, run_batch, run_on_ray
    from nmkit.batch.command import report_batch
    from nmkit.batch.run import WORKFLOWS

    if workflow not in WORKFLOWS:
        raise InputError(workflow, f"is not a workflow (one of {', '.join(WORKFLOWS)})")
    for path in model or []:
        if not path.is_file():
            raise InputError(path, "model file not found")
    items = discover(sources, group_series=workflow == "pet")
    history = None
    if workflow == "qc" and (data_dir or db_url):
        from nmkit.workflows.qc.history import database_url

        history = database_url(data_dir, db_url)
    task = BatchTask(workflow, out.resolve(), [p.resolve() for p in model or []], history_url=history)
    records = run_on_ray(task, items, ray_address) if ray_address else run_batch(task, items, jobs, skip_done)
    raise typer.Exit(report_batch(records, len(items), out, f"{workflow}: "))


@app.command("export")
@reports_input_errors
def export_command(
    model: str = typer.Argument(..., help="A model bundle (model.pt) or a shipped model's name, e.g. qc-default."),
    out: Path = typer.Option(..., "--out", help="File to write (.onnx or .pt2)."),
    fmt: Optional[str] = typer.Option(None, "--format", help="onnx or pt2 (torch.export); default from --out."),
    input_size: Optional[str] = typer.Option(None, "--input-size", help="H,W of the exported grid (default: the "
                                             "grid the model was trained on)."),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Export a model for onnxruntime (ONNX) or torch.export (.pt2); the batch size stays free."""
    from nmkit.models import load_bundle
    from nmkit.models.bundle import resolve_model_path
    from nmkit.models.export import export_model

    size = None
    if input_size is not None:
        parts = input_size.split(",")
        if len(parts) != 2 or not all(p.strip().isdigit() and int(p) > 0 for p in parts):
            raise InputError("--input-size", f"must be two positive whole numbers H,W, not {input_size!r}")
        size = (int(parts[0]), int(parts[1]))
    net, info = load_bundle(resolve_model_path(model))
    written = export_model(net, info, out, fmt, size)
    if json_out:
        print_json(written)
    else:
        typer.echo(f"{written['format']} model written to {written['path']}")


@app.command()
@reports_input_errors
def demo(out: Path = typer.Option(Path("demo-out"), "--out", help="Folder for the demo's outputs and report.html.")) -> None:
    """Run every workflow on built-in samples and write OUT/report.html."""
    from nmkit.demo import run_demo

    report = run_demo(out)
    typer.echo(f"report written to {report}")


@app.command()
@reports_input_errors
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (only this machine unless you change it)."),
    port: int = typer.Option(8000, "--port"),
    data_dir: Path = typer.Option(Path("nmkit-data"), "--data-dir", help="Results and the QC history database."),
    db_url: Optional[str] = typer.Option(None, "--db-url", help="QC history database URL (SQLAlchemy, e.g. "
                                         "postgresql+psycopg://user@host/nmkit); default SQLite in --data-dir."),
    model: Optional[list[str]] = typer.Option(None, "--model", help="WORKFLOW=PATH, e.g. pet=runs/pet/model.pt "
                                              "(repeat; rds takes one per role)."),
    max_upload_mb: float = typer.Option(512.0, "--max-upload-mb", help="Largest upload accepted (MB)."),
    iu_limit: float = typer.Option(5.0, "--iu-limit", help="QC acceptance limit for integral uniformity (%)."),
    du_limit: Optional[float] = typer.Option(None, "--du-limit", help="QC acceptance limit for differential "
                                             "uniformity (%)."),
    gbp_background: str = typer.Option("study", "--gbp-background", help="gbp background ROI: study (the paper's), "
                                        "crescent or spill (see `nmkit gbp ef --help`)."),
    workers: int = typer.Option(2, "--workers", help="Analyses run at once."),
    allowed_host: Optional[list[str]] = typer.Option(None, "--allowed-host", help="Another host name the server "
                                                     "answers to (repeat; default: the bound address, localhost, "
                                                     "127.0.0.1)."),
    token: Optional[str] = typer.Option(None, "--token", envvar="NMKIT_TOKEN", show_envvar=True,
                                        help="Require this token (Authorization: Bearer TOKEN) on every request."),
    max_pixel_mb: Optional[list[str]] = typer.Option(None, "--max-pixel-mb", help="WORKFLOW=MB: refuse uploads that "
                                                     "decode to more (repeat; default: each workflow's cap)."),
) -> None:
    """The web page and JSON API for every workflow (API documentation at /docs)."""
    import uvicorn

    from nmkit.console import require_positive
    from nmkit.errors import InputError
    from nmkit.web.app import Settings, create_app
    from nmkit.web.workflows import ANALYSES
    from nmkit.workflows.gbp.analyse import BACKGROUND_METHODS

    if gbp_background not in BACKGROUND_METHODS:
        raise InputError("--gbp-background", f"must be one of {', '.join(BACKGROUND_METHODS)}, not {gbp_background!r}")
    models: dict[str, list[Path]] = {}
    for item in model or []:
        key, _, path = item.partition("=")
        if key not in ANALYSES or not path:
            raise InputError("--model", f"{item!r} is not WORKFLOW=PATH with WORKFLOW one of {', '.join(ANALYSES)}")
        if not Path(path).is_file():
            raise InputError(path, "file not found")
        models.setdefault(key, []).append(Path(path))
    limits: dict[str, float] = {}
    for item in max_pixel_mb or []:
        key, _, mb = item.partition("=")
        try:
            limits[key] = float(mb)
        except ValueError:
            limits[key] = math.nan
        if key not in ANALYSES or not (math.isfinite(limits[key]) and limits[key] > 0):
            raise InputError("--max-pixel-mb", f"{item!r} is not WORKFLOW=MB with WORKFLOW one of "
                                               f"{', '.join(ANALYSES)} and MB a positive number")
    for name, value in (("--max-upload-mb", max_upload_mb), ("--iu-limit", iu_limit), ("--du-limit", du_limit)):
        require_positive(name, value)
    if workers < 1:
        raise InputError("--workers", f"must be at least 1, not {workers}")
    settings = Settings(data_dir=data_dir, database_url=db_url, max_upload_mb=max_upload_mb, models=models,
                        iu_limit=iu_limit, du_limit=du_limit, gbp_background=gbp_background, workers=workers,
                        host=host, allowed_hosts=list(allowed_host or []), token=token or None,
                        pixel_limits_mb=limits)
    typer.echo(f"nmkit serving on http://{host}:{port} (data in {data_dir})")
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")


@app.command()
@reports_input_errors
def node(
    aet: str = typer.Option("NMKIT", "--aet", help="This node's AE title (up to 16 characters)."),
    port: int = typer.Option(11112, "--port", min=0, max=65535, help="Port to listen on (0: any free port)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (only this machine unless you change it)."),
    data_dir: Path = typer.Option(Path("nmkit-node"), "--data-dir", help="Received instances, results, rejected "
                                  "series and the QC history database."),
    forward_to: Optional[str] = typer.Option(None, "--forward", help="AET@HOST:PORT: C-STORE every SEG, SR, SC "
                                             "(and predicted PT series) there."),
    idle_s: float = typer.Option(5.0, "--idle-s", min=0.1, help="A series is complete after this many seconds "
                                 "without a new instance."),
    queue_size: int = typer.Option(64, "--queue", min=1, help="Complete series waiting for analysis, at most."),
) -> None:
    """A DICOM node: receive series (C-STORE, C-ECHO), analyse each with its workflow, store and forward results."""
    import logging

    from nmkit.dicom.forward import Destination
    from nmkit.dicom.node import Node
    from nmkit.errors import InputError
    from nmkit.workflows.routes import node_routes

    if not 0 < len(aet) <= 16:
        raise InputError("--aet", f"{aet!r} is not an AE title of 1 to 16 characters")
    destination = Destination.parse(forward_to) if forward_to else None
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("nmkit.node").setLevel(logging.INFO)
    logging.getLogger("pynetdicom").setLevel(logging.ERROR)
    typer.echo(f"nmkit node {aet} on {host}:{port} (data in {data_dir}); Ctrl-C stops it")
    Node(data_dir, node_routes(data_dir), aet, destination, idle_s, queue_size).serve(host, port)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
