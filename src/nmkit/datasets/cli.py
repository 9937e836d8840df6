"""``nmkit <workflow> dataset check DIR [--json]``: one Typer sub-app per workflow, made from its spec."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer

from nmkit.console import EXIT_BAD_INPUT, print_json, reports_input_errors
from nmkit.datasets.table import DatasetSpec


def dataset_app(get_spec: Callable[[], DatasetSpec]) -> typer.Typer:
    """The ``dataset`` sub-command of a workflow; ``get_spec`` returns its DatasetSpec (imported lazily)."""
    app = typer.Typer(help="Own-data folders (dataset.csv): check one before training.", no_args_is_help=True)

    @app.command()
    @reports_input_errors
    def check(folder: Path = typer.Argument(..., help="Folder holding dataset.csv (paths relative to it)."),
              json_out: bool = typer.Option(False, "--json", help="Print the report as JSON.")) -> None:
        """Read every row and list every problem at once; exit 2 when there are errors."""
        from nmkit.datasets.check import check_dataset

        report = check_dataset(folder, get_spec())
        print_json(report.as_dict()) if json_out else typer.echo(report.format())
        if not report.ok:
            raise typer.Exit(EXIT_BAD_INPUT)

    return app
