"""What every CLI command shares: bad input -> one sentence and exit code 2; JSON output."""

from __future__ import annotations

import functools
import json
import math
import os
import sys
from pathlib import Path
from collections.abc import Callable
from typing import Any

import typer

from nmkit.errors import InputError

EXIT_BAD_INPUT = 2


def reports_input_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a CLI command: an InputError, or an OSError on a named path (an output under a file, in /proc, on a
    full or read-only disk), prints ``error: <sentence>`` to stderr and exits with 2."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except InputError as err:
            typer.echo(f"error: {err}", err=True)
            raise typer.Exit(EXIT_BAD_INPUT) from None
        except OSError as err:
            if err.filename is None:
                raise
            typer.echo(f"error: {InputError(err.filename, f'cannot be read or written ({_os_reason(err)})')}", err=True)
            raise typer.Exit(EXIT_BAD_INPUT) from None

    return wrapper


def _os_reason(err: OSError) -> str:
    text = err.strerror or type(err).__name__
    return text[0].lower() + text[1:]


def require_positive(option: str, value: float | None) -> None:
    """InputError unless ``value`` (when given) is a finite number above zero (NaN and inf are refused)."""
    if value is not None and not (math.isfinite(value) and value > 0):
        raise InputError(option, f"must be a finite number above zero, not {value!r}")


def output_folder(path: str | Path) -> Path:
    """``path`` as a Path, once it is known that it is, or can be made, a writable folder; InputError otherwise
    (checked before any work, so a long run does not end on an unwritable output)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputError(path, "exists and is not a folder")
    existing = next(p for p in (path, *path.absolute().parents) if p.exists())
    if not existing.is_dir():
        raise InputError(path, f"cannot be created because {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InputError(path, f"cannot be written ({existing} is not writable)")
    return path


def output_file(path: str | Path) -> Path:
    """``path`` as a Path, once it is known that it is not a folder and that its folder can be written."""
    path = Path(path)
    if path.is_dir():
        raise InputError(path, "is a folder; give the name of the file to write")
    output_folder(path.parent)
    return path


def warn_if_out_of_domain(source: Any, result: dict[str, Any]) -> None:
    """On stderr, one warning line when a result is outside the model's domain (``in_domain`` false)."""
    if not result.get("in_domain", True):
        typer.echo(f"warning: {source}: outside what the model was made for, so its output is unreliable: "
                   f"{'; '.join(result.get('domain_notes') or [])}.", err=True)


def print_json(obj: Any) -> None:
    """Print ``obj`` as one line of JSON with stable key order."""
    sys.stdout.write(json_line(obj) + "\n")
    sys.stdout.flush()


def json_line(obj: Any) -> str:
    """``obj`` as one line of JSON (NumPy numbers and arrays as plain ones, anything else as its text)."""
    return json.dumps(obj, default=_plain)


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)
