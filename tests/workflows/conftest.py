"""Shared by the workflows' own-data tests: a hospital-style folder through dataset check, one training epoch and
evaluate, all through the CLI, as a user would run them."""

from __future__ import annotations

import json

import pytest
import yaml
from typer.testing import CliRunner


@pytest.fixture
def own_data_roundtrip(tmp_path):
    """``roundtrip(workflow, folder, config)`` -> (check report, evaluation result, run folder); each step must
    exit 0; evaluation writes rows.csv into tmp_path / "eval"."""
    from nmkit.cli import app

    def roundtrip(workflow: str, folder, config: dict):
        runner = CliRunner()
        check = runner.invoke(app, [workflow, "dataset", "check", str(folder), "--json"])
        assert check.exit_code == 0, check.output
        path = tmp_path / f"{workflow}.yaml"
        path.write_text(yaml.safe_dump(config))
        run = tmp_path / "run"
        trained = runner.invoke(app, ["train", str(path), "--data", str(folder), "--max-epochs", "1", "--out",
                                      str(run)])
        assert trained.exit_code == 0, trained.output
        result = runner.invoke(app, [workflow, "evaluate", "--data", str(folder), "--model", str(run / "model.pt"),
                                     "--out", str(tmp_path / "eval"), "--json"])
        assert result.exit_code == 0, result.output
        return json.loads(check.output), json.loads(result.output), run

    return roundtrip
