"""Many inputs, one analysis: find the items (files, folders, DICOM series), run each with its own error, in worker
processes or as Ray tasks on a cluster, and resume where a batch stopped.

- :func:`discover`: files and folders (recursive) -> :class:`Item` s; DICOM files grouped by SeriesInstanceUID.
- :func:`run_batch`: one JSON-ready record per item (the result, or ``error``), ``jobs`` worker processes.
- :func:`run_on_ray`: the same per-item function as Ray tasks (the ``ray`` extra).
- :func:`analyse_inputs`: an analysis command (``qc check``, ``gbp ef``, ...) on one input as always, on many as
  a batch of its own per-input function (:class:`CommandTask`).
Each item runs the workflow's analysis exactly as ``nmkit serve`` does (its ``WebAnalysis.run``), so the batch,
the page and the node agree.
"""

from nmkit.batch.command import CommandTask, analyse_inputs
from nmkit.batch.discover import Item, discover
from nmkit.batch.run import BatchTask, ItemTask, exit_code, run_batch, run_on_ray

__all__ = ["BatchTask", "CommandTask", "Item", "ItemTask", "analyse_inputs", "discover", "exit_code", "run_batch",
           "run_on_ray"]
