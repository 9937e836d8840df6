"""Battery tests reuse the qc tests' tiny model."""

from __future__ import annotations

from tests.workflows.qc.conftest import tiny_model  # noqa: F401
