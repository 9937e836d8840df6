"""An analysis command (`qc check`, `gbp ef`, `pet predict`, `rds predict`, `bonescan predict`) over many inputs.

Each command gives one function that analyses one input, ``analyse(input, out, model, options)``, returning that
input's results as ``[(result, text), ...]`` (one per head and energy window of a dual-head flood, else one).
:func:`analyse_inputs` runs it:

- on ONE input (a file; a folder that is one series or one study of frames) exactly as the command always did:
  each result printed as text or ``--json``, a bad input an InputError (one sentence, exit code 2);
- on several (files, folders searched recursively) as a batch: one JSON line per item (its result, or
  ``error``), a progress bar on stderr, ``--jobs`` worker processes, ``--skip-done``; exit code 0, 1 when some
  item failed, 2 when none could be read. Outputs are named by the item's path relative to the common folder
  of all inputs, so two patients' files of the same name never overwrite each other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path
from typing import Any

import typer

from nmkit.atomic import atomic_path
from nmkit.batch.discover import Item, discover
from nmkit.batch.run import ItemTask, exit_code, loaded, run_batch
from nmkit.console import json_line, print_json, warn_if_out_of_domain

Results = list[tuple[dict[str, Any], str]]
Analyse = Callable[[Any, Path, Any, dict[str, Any]], Results]

SOURCES_HELP = ("Several inputs, or folders (searched recursively), make a batch: one JSON line per item, "
                "its error instead of a result for a bad one, outputs under --out by the item's relative path.")


def jobs_option() -> Any:
    return typer.Option(1, "--jobs", min=1, help="Worker processes for several inputs.")


def skip_done_option() -> Any:
    return typer.Option(False, "--skip-done", help="Several inputs: do not analyse again an item whose result "
                                                   "(OUT/<relative path>.json) exists; resume a stopped batch.")


def item_folder(out: Path, item: Item) -> Path:
    """Where an item's outputs go: ``out`` plus the folders of its relative path (its own name stays the file
    name's stem, as for one input)."""
    return out / Path(item.key).parent


@dataclass
class CommandTask(ItemTask):
    """A command's per-input function as a batch task (picklable: top-level functions and plain values)."""

    analyse: Analyse
    load_model: str  # "module:function" taking ``model``, imported only where a model is loaded (so the parent of
    # worker processes never imports torch and the workflow's models)
    model: Any  # what load_model takes: a path, a list of paths, or None for the shipped model
    out: Path
    options: dict[str, Any] = field(default_factory=dict)
    output_of: Callable[[Path, Item], Path] = item_folder

    def stored(self, item: Item) -> Path:
        return self.out / f"{item.key}.json"

    def loader(self) -> Callable[[Any], Any]:
        module, _, name = self.load_model.partition(":")
        return getattr(import_module(module), name)

    def _analyse(self, item: Item) -> dict[str, Any]:
        results = [result for result, _ in self.analyse(item.path, self.output_of(self.out, item),
                                                        loaded(self.loader(), self.model), self.options)]
        record = results[0] if len(results) == 1 else {"heads": results}
        with atomic_path(self.stored(item)) as tmp:
            tmp.write_text(json_line(record))
        return record


def batch_items(sources: list[Path], group_series: bool = False, group_frames: bool = False,
                one_input: Callable[[list[Path]], bool] = lambda sources: False) -> list[Item] | None:
    """The items of a batch, or None when ``sources`` are one input: one file, a folder that is one item (a DICOM
    series, a study's frames), or what ``one_input`` says is one (bonescan's anterior and posterior files)."""
    if (len(sources) == 1 and not sources[0].is_dir()) or one_input(sources):
        return None
    items = discover(sources, group_series=group_series, group_frames=group_frames)
    if len(sources) == 1 and len(items) == 1 and items[0].path == sources[0].resolve():
        return None
    return items


def analyse_inputs(task: CommandTask, sources: list[Path], items: list[Item] | None, *, json_out: bool,
                   jobs: int = 1, skip_done: bool = False) -> None:
    """Run ``task`` on ``sources``: as the command always did when they are one input (``items`` None; its outputs
    go to ``task.out`` itself), else on ``items`` as a batch, exiting with the batch's exit code."""
    if items is None:
        model = task.loader()(task.model)
        for result, text in task.analyse(sources[0] if len(sources) == 1 else sources, task.out, model,
                                         task.options):
            print_json(result) if json_out else typer.echo(text)
            warn_if_out_of_domain(sources[0], result)
        return
    raise typer.Exit(report_batch(run_batch(task, items, jobs, skip_done), len(items), task.out))


def report_batch(records: Iterator[dict[str, Any]], total: int, out: Path, label: str = "") -> int:
    """Print each record as a JSON line with a progress bar on stderr, then a one-line summary; the exit code."""
    from rich.console import Console
    from rich.progress import Progress

    done = []
    with Progress(console=Console(stderr=True), transient=True) as bar:
        job = bar.add_task(f"{label}{total} items".strip(), total=total)
        for record in records:
            bar.advance(job)
            done.append(record)
            print_json(record)
    failed = sum("error" in r for r in done)
    typer.echo(f"{len(done) - failed} of {len(done)} items analysed; results in {out}", err=True)
    return exit_code(done)


