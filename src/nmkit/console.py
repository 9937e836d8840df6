"""What every CLI command shares: bad input -> one sentence and exit code 2; JSON output."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any

import typer

from nmkit.errors import InputError

EXIT_BAD_INPUT = 2


def reports_input_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a CLI command: an InputError prints ``error: <sentence>`` to stderr and exits with 2."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except InputError as err:
            typer.echo(f"error: {err}", err=True)
            raise typer.Exit(EXIT_BAD_INPUT) from None

    return wrapper


def warn_if_out_of_domain(source: Any, result: dict[str, Any]) -> None:
    """On stderr, one warning line when a result is outside the model's domain (``in_domain`` false)."""
    if not result.get("in_domain", True):
        typer.echo(f"warning: {source}: outside what the model was made for, so its output is unreliable: "
                   f"{'; '.join(result.get('domain_notes') or [])}.", err=True)


def print_json(obj: Any) -> None:
    """Print ``obj`` as one line of JSON with stable key order."""
    sys.stdout.write(json.dumps(obj, default=_plain) + "\n")
    sys.stdout.flush()


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)
