"""The `nmkit` command: shared commands (train, models, demo) and one sub-command per workflow."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from nmkit.console import print_json, reports_input_errors
from nmkit.workflows.bonescan.cli import app as bonescan_app
from nmkit.workflows.gbp.cli import app as gbp_app
from nmkit.workflows.pet.cli import app as pet_app
from nmkit.workflows.qc.cli import app as qc_app
from nmkit.workflows.rds.cli import app as rds_app

app = typer.Typer(help="nmkit: deep learning workflows for nuclear medicine imaging.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)
app.add_typer(qc_app, name="qc")
app.add_typer(gbp_app, name="gbp")
app.add_typer(pet_app, name="pet")
app.add_typer(bonescan_app, name="bonescan")
app.add_typer(rds_app, name="rds")


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
) -> None:
    """The web page and JSON API for every workflow (API documentation at /docs)."""
    import uvicorn

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
    settings = Settings(data_dir=data_dir, database_url=db_url, max_upload_mb=max_upload_mb, models=models,
                        iu_limit=iu_limit, du_limit=du_limit, gbp_background=gbp_background, workers=workers)
    typer.echo(f"nmkit serving on http://{host}:{port} (data in {data_dir})")
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
