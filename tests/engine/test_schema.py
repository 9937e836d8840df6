"""Config validation: unknown keys name the nearest valid one, wrong types get one sentence, exit 2, no run folder."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from nmkit.cli import app
from nmkit.engine.config import load_config
from nmkit.errors import InputError

BASE = "workflow: qc\nmodel: {name: qc-compact}\n"


@pytest.mark.parametrize("text, message", [
    (BASE + "trainer: {max_epoch: 1}\n", "trainer.max_epoch: unknown key 'max_epoch' (did you mean 'max_epochs'?)"),
    (BASE + "optim: {nmae: sgd}\n", "optim.nmae: unknown key 'nmae' (did you mean 'name'?)"),
    (BASE + "trainr: {}\n", "trainr: unknown key 'trainr' (did you mean 'trainer'?)"),
    (BASE + "trainer: {max_epochs: ten}\n", "trainer.max_epochs: Input should be a valid integer, not 'ten'"),
    (BASE + "optim: {name: adamm}\n", "optim.name: Input should be 'sgd', 'adam', 'adamw' or 'adagrad', not 'adamm'"),
    (BASE + "data: {phantom: {n: 4, countz: 9}}\n", "data.phantom: unknown key 'countz' (did you mean 'counts'?)"),
    ("workflow: qcc\nmodel: {name: qc-compact}\n", "workflow: unknown workflow 'qcc' (did you mean 'qc'?)"),
    ("workflow: qc\nmodel: {name: qc-compat}\n", "model.name: unknown model 'qc-compat' (did you mean 'qc-compact'?)"),
    ("workflow: qc\nmodel: {name: qc-compact, widht: 4}\n", "model.widht: unknown key 'widht' (did you mean 'width'?)"),
    ("workflow: pet\nmodel: {name: pet-unet-generator}\ngan: {methd: pix2pix}\n", "gan.methd: unknown key 'methd' "
     "(did you mean 'method'?)"),
])
def test_config_errors_are_one_sentence(tmp_path, text, message):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        load_config(path)
    assert message in str(err.value)


def test_train_refuses_a_bad_config_with_exit_2_and_writes_no_run(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(BASE + "trainer: {max_epoch: 1}\n")
    result = CliRunner().invoke(app, ["train", str(path), "--out", str(tmp_path / "run")])
    assert result.exit_code == 2 and "did you mean 'max_epochs'" in result.output
    assert not (tmp_path / "run").exists()
