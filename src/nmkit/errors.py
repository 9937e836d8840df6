"""The one error type for bad user input: the CLI turns it into one sentence and exit code 2."""

from __future__ import annotations

from pathlib import Path


class InputError(ValueError):
    """Bad input from the user. ``str(err)`` is one sentence naming the file and the problem."""

    def __init__(self, source: str | Path | None, problem: str):
        self.source = None if source is None else str(source)
        self.problem = problem.rstrip(".")
        where = f"{self.source}: " if self.source else ""
        super().__init__(f"{where}{self.problem}.")
