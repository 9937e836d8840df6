from __future__ import annotations

import pytest

from nmkit.engine.config import DEFAULTS, load_config, merge
from nmkit.errors import InputError


def test_merge_is_deep_and_leaves_base_alone():
    merged = merge(DEFAULTS, {"trainer": {"max_epochs": 3}})
    assert merged["trainer"]["max_epochs"] == 3 and merged["trainer"]["devices"] == 1
    assert DEFAULTS["trainer"]["max_epochs"] == 10


def test_load_config_fills_defaults(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("workflow: qc\nmodel: {name: qc-compact}\n")
    cfg = load_config(p)
    assert cfg["optim"]["name"] == "adamw" and cfg["source"] == str(p)


@pytest.mark.parametrize("text, problem", [
    ("workflow: qc\n", "model"),
    ("model: {name: qc-compact}\n", "workflow"),
    ("[1, 2]\n", "mapping"),
    ("workflow: [unclosed\n", "not valid YAML"),
])
def test_bad_configs_name_the_file(tmp_path, text, problem):
    p = tmp_path / "bad.yaml"
    p.write_text(text)
    with pytest.raises(InputError, match=f"bad.yaml: .*{problem}"):
        load_config(p)


def test_shipped_configs_load():
    from pathlib import Path

    configs = sorted((Path(__file__).resolve().parents[2] / "configs").glob("*.yaml"))
    assert configs
    for path in configs:
        cfg = load_config(path)
        assert cfg["workflow"] and cfg["model"]["name"]
