"""The seed and set ledger (benchmarks/sets.py): no item in two roles, every config trains where the ledger says,
and every benchmark takes its test seed from the ledger."""

from __future__ import annotations

import importlib
import itertools
from pathlib import Path

import numpy as np
import pneumoniamnist
import pytest
import sets

from nmkit.engine import load_config
from nmkit.workflows.gbp.data import split_studies
from nmkit.workflows.pet.data import split_patients
from nmkit.workflows.qc.data import VARIED_KEYS

ROOT = Path(__file__).resolve().parents[2]
GENERATORS = {"qc": "flood", "gbp": "gated", "pet": "fdg", "bonescan": "bone", "rds": "chest"}
REAL_SETS = {"pneumoniamnist": "rds"}
SPLITTERS = {"gbp": split_studies, "pet": split_patients}
CONFIGS = sorted(p for p in (ROOT / "configs").glob("*.yaml") if not p.stem.endswith("-paper"))


def items(draw: sets.Draw) -> set[int] | None:
    """The item indices of a draw; None for all of them."""
    if draw.items == "all":
        return None
    if isinstance(draw.items, range):
        return set(draw.items)
    _, config, part = draw.items.split(":")
    if draw.generator == "pneumoniamnist":
        return {int(i) for i in pneumoniamnist.splits(*pneumoniamnist_labels(), seed=draw.seed)[part]}
    cfg = load_config(ROOT / "configs" / f"{config}.yaml")
    parts = SPLITTERS[draw.workflow](int(cfg["data"]["phantom"]["n"]), int(cfg["seed"]), tuple(cfg["data"]["split"]))
    return {int(i) for i in parts[part]}


def pneumoniamnist_labels() -> tuple[np.ndarray, int]:
    """The official train labels and the val count; where the data is absent, stand-ins of the official sizes
    (the splits' disjointness does not depend on the labels)."""
    if pneumoniamnist.NPZ.is_file():
        arrays = np.load(pneumoniamnist.NPZ)
        return arrays["train_labels"][:, 0], len(arrays["val_labels"])
    return np.arange(4682) % 4 > 0, 524


def test_every_draw_has_a_known_role_and_generator():
    assert {d.role for d in sets.LEDGER} <= set(sets.ROLES)
    assert all(GENERATORS[d.workflow] == d.generator or REAL_SETS.get(d.generator) == d.workflow for d in sets.LEDGER)


def test_no_item_has_two_roles():
    for a, b in itertools.combinations(sets.LEDGER, 2):
        if (a.generator, a.seed) != (b.generator, b.seed) or a.role == b.role:
            continue
        first, second = items(a), items(b)
        shared = first is None or second is None or first & second
        assert not shared, f"{a.generator} seed {a.seed}: {a.role} ({a.items}) and {b.role} ({b.items}) overlap"


def config_seeds(config: dict) -> list[int]:
    """The phantom seeds a config's training data is made with (qc: one per combination of its varied options;
    a list of phantom sections: each its own seed or the config's; none for a config on real data)."""
    seed = int(config["seed"])
    phantom = (config.get("data") or {}).get("phantom")
    if phantom is None:
        return []
    if isinstance(phantom, list):
        return sorted({int(section.get("seed", seed)) for section in phantom})
    if config["workflow"] != "qc":
        return [seed]
    combos = len(list(itertools.product(*(phantom[k] for k in VARIED_KEYS if isinstance(phantom.get(k), list)))))
    return [seed + 1000 * i for i in range(combos)]


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_every_config_trains_on_its_ledger_train_and_validation_seeds_only(path):
    config = load_config(path)
    name = f"configs/{path.name}"
    for seed in config_seeds(config):
        drawn = [d for d in sets.LEDGER if d.generator == GENERATORS[config["workflow"]] and d.seed == seed]
        assert drawn and {d.role for d in drawn} <= {"train", "validation"}, f"{name} draws seed {seed}: {drawn}"
        assert any(name in d.used_by and d.role == "train" for d in drawn), f"the ledger does not give {name} seed {seed}"


@pytest.mark.parametrize("module, workflow, attribute, used_by", [
    ("qc", "qc", "TEST_SEED", "benchmarks/qc.py"),
    ("qc_default_model", "qc", "TEST_SEED", "benchmarks/qc_default_model.py"),
    ("gbp", "gbp", "TEST_SEED", "benchmarks/gbp.py"),
    ("pet", "pet", "TEST_SEED", "benchmarks/pet.py"),
    ("bonescan", "bonescan", "TEST_SEED", "benchmarks/bonescan.py"),
    ("rds", "rds", "TEST_SEED", "benchmarks/rds.py"),
    ("rds", "rds", "ROTATED_SEED", "benchmarks/rds.py:rotated"),
    ("pneumoniamnist", "rds", "TEST_SEED", "benchmarks/pneumoniamnist.py"),
])
def test_every_benchmark_reports_on_its_ledger_test_seed(module, workflow, attribute, used_by):
    assert getattr(importlib.import_module(module), attribute) == sets.seed(workflow, "test", used_by)


def test_every_user_named_in_the_ledger_exists():
    for used_by in {u.split(":")[0] for d in sets.LEDGER for u in d.used_by}:
        assert (ROOT / used_by).is_file(), used_by
