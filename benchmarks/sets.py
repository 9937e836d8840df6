"""The seed and set ledger: per workflow, which phantom seeds (and which items of them) are training, validation
and test, and what draws on each.

- train: what a config learns from;
- validation: anything looked at to choose (epochs, weights, thresholds, options, configs), the configs'
  validation splits included;
- test: touched once, to report; never looked at for a choice;
- timing: sets only timed (phantom rates, latencies, load tests), never scored.

A set is a phantom generator, a seed and items (``all``, a ``range`` of indices, or one part of the patient or study
split a config makes of that seed), or a real data set (``pneumoniamnist``: its rows, official train then official
val, split by benchmarks/pneumoniamnist.py with the seed given). tests/benchmarks/test_sets.py checks that no item has two roles, that every
config trains on the seeds the ledger gives it, and that every benchmark's test seed is the ledger's.
Benchmarks take their seeds from here (``seed(workflow, role)``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

ROLES = ("train", "validation", "test", "timing")


@dataclass(frozen=True)
class Draw:
    """Items ``items`` of ``generator``'s set made with ``seed``, in ``role``, and what uses them (and why)."""

    workflow: str
    role: str
    generator: str
    seed: int
    items: str | range = "all"  # "all", a range of indices, or "split:<config>:<part>"
    used_by: tuple[str, ...] = field(default_factory=tuple)
    note: str = ""


def _qc_sections(config: str, seed: int, sections: int, role: str = "train") -> list[Draw]:
    """qc configs make one flood set per combination of their varied options, with seeds seed + 1000 * i; the
    validation fraction is a random share of all of them."""
    return [Draw("qc", role, "flood", seed + 1000 * i, "all", (f"configs/{config}.yaml",),
                 "training and its validation fraction") for i in range(sections)]


_RDS_DENSE = tuple(f"configs/rds-seg-dense{k}.yaml" for k in ("", "2", "3", "4"))
"""The rds segmenters trained on the dense-style phantoms too (each started from the one before it)."""
_RDS_VARIED = ("configs/rds-seg-varied.yaml", "configs/rds-seg-varied-simple.yaml", *_RDS_DENSE)
"""The rds segmenters trained on the varied-style phantoms too (each started from the one before it)."""


LEDGER: tuple[Draw, ...] = (
    # qc: flood phantoms (nmkit.phantoms.flood.generate_floods)
    *_qc_sections("qc-fast", 0, 3),
    *_qc_sections("qc-default", 1, 24),
    Draw("qc", "test", "flood", 987_654, "all", ("benchmarks/qc.py",), "CNN and observer on each count level"),
    Draw("qc", "test", "flood", 424_242, "all",
         ("benchmarks/qc_default_model.py", "benchmarks/calibration.py", "benchmarks/ood.py"),
         "the shipped model's card, its calibration and its OOD check"),
    *(Draw("qc", "timing", "flood", s, "all", ("benchmarks/qc.py",), "phantom rate") for s in range(100, 108)),
    Draw("qc", "timing", "flood", 5, "all", ("benchmarks/qc.py",), "qc check latency"),
    Draw("qc", "timing", "flood", 4321, "all", ("benchmarks/web.py",), "web latency and load test"),
    *(Draw("qc", "timing", "flood", 777_000 + s, "all", ("benchmarks/batch.py",), "batch throughput")
      for s in range(0, 500, 100)),
    # gbp: gated blood-pool phantoms (nmkit.phantoms.gated)
    Draw("gbp", "train", "gated", 0, "split:gbp-fast:train", ("configs/gbp-fast.yaml",)),
    Draw("gbp", "validation", "gated", 0, "split:gbp-fast:val", ("configs/gbp-fast.yaml",), "checkpoint choice"),
    Draw("gbp", "validation", "gated", 0, "split:gbp-fast:test", ("configs/gbp-fast.yaml",),
         "the config's own test split: unused by the benchmark, kept out of the test role"),
    Draw("gbp", "validation", "gated", 888_888, "all", ("benchmarks/calibration.py",), "the EF interval's scale"),
    Draw("gbp", "test", "gated", 777_777, "all", ("benchmarks/gbp.py", "benchmarks/calibration.py", "benchmarks/ood.py"),
         "Dice, EF agreement, decomposition; EF interval coverage; OOD check"),
    Draw("gbp", "timing", "gated", 1, "all", ("benchmarks/gbp.py",), "phantom rate"),
    Draw("gbp", "timing", "gated", 3, "all", ("benchmarks/gbp.py",), "ef latency"),
    # pet: FDG kinetic phantom patients (nmkit.phantoms.fdg)
    Draw("pet", "train", "fdg", 0, "split:pet-pix2pix-fast:train",
         ("configs/pet-pix2pix-fast.yaml", "configs/pet-cyclegan-fast.yaml", "benchmarks/pet.py"),
         "training; the benchmark fits the linear baseline and the population ratio on it"),
    Draw("pet", "validation", "fdg", 0, "split:pet-pix2pix-fast:val",
         ("configs/pet-pix2pix-fast.yaml", "configs/pet-cyclegan-fast.yaml"), "checkpoint choice (val L1)"),
    Draw("pet", "validation", "fdg", 0, "split:pet-pix2pix-fast:test",
         ("configs/pet-pix2pix-fast.yaml", "configs/pet-cyclegan-fast.yaml"),
         "the split's 6 'test' patients: epochs and options were chosen on their SSIM / PSNR"),
    Draw("pet", "validation", "fdg", 515_151, range(30), ("configs/pet-pix2pix-fast.yaml",),
         "the former 'independent' set: focal_weight, lesion_weight, epochs and lesion count chosen on it"),
    Draw("pet", "test", "fdg", 606_060, range(40), ("benchmarks/pet.py",), "drawn once, after every choice"),
    Draw("pet", "timing", "fdg", 1, "all", ("benchmarks/pet.py",), "phantom rate"),
    # bonescan: whole-body bone scan phantoms (nmkit.phantoms.bone)
    Draw("bonescan", "train", "bone", 0, "all", ("configs/bonescan-fast.yaml", "configs/bonescan-simplecnn-fast.yaml"),
         "training and its validation fraction (by patient)"),
    Draw("bonescan", "validation", "bone", 616_161, "all", ("benchmarks/calibration.py",), "the temperature"),
    Draw("bonescan", "test", "bone", 777_777, "all", ("benchmarks/bonescan.py",), "grades and knee localisation"),
    Draw("bonescan", "test", "bone", 424_242, "all", ("benchmarks/calibration.py", "benchmarks/ood.py"),
         "the shipped model's calibration and OOD check"),
    Draw("bonescan", "timing", "bone", 1, "all", ("benchmarks/bonescan.py",), "phantom rate"),
    # rds: neonatal chest radiograph phantoms (nmkit.phantoms.chest)
    Draw("rds", "train", "chest", 0, "all",
         ("configs/rds-seg-fast.yaml", "configs/rds-cls-fast.yaml", "configs/rds-whole-fast.yaml",
          "configs/rds-joint-fast.yaml", "configs/rds-seg-real.yaml", *_RDS_VARIED),
         "training and its lung-area validation split"),
    Draw("rds", "validation", "chest", 4242, "all", ("benchmarks/rds_real.py", "benchmarks/calibration.py"),
         "settings chosen on other phantoms (model card); the real-radiograph segmenter keeps its simple-phantom mIoU; "
         "the lung classifier's temperature"),
    Draw("rds", "validation", "chest", 4243, "all", ("benchmarks/rds_real.py",),
         "realistic-style phantoms: the real-radiograph segmenter chosen on them"),
    Draw("rds", "validation", "chest", 4244, "all", ("benchmarks/rds_real.py",),
         "varied-style phantoms: the real-radiograph segmenter chosen on them"),
    Draw("rds", "validation", "chest", 4245, "all", ("benchmarks/rds_real.py",),
         "dense-style phantoms: the real-radiograph segmenter chosen on them"),
    Draw("rds", "test", "chest", 888_888, "all", ("benchmarks/rds.py", "benchmarks/calibration.py", "benchmarks/ood.py"),
         "lungs, RDS and the shortcut; the lung classifier's calibration and OOD check"),
    Draw("rds", "test", "chest", 313_131, "all", ("benchmarks/rds.py:rotated",), "rotated test set: where rotation TTA acts"),
    Draw("rds", "train", "chest", 1, "all", ("configs/rds-seg-real.yaml", *_RDS_VARIED),
         "their realistic-style phantoms"),
    Draw("rds", "train", "chest", 2, "all", _RDS_VARIED, "their varied-style phantoms"),
    Draw("rds", "train", "chest", 3, "all", _RDS_DENSE, "their dense-style phantoms"),
    Draw("rds", "timing", "chest", 101, "all", ("benchmarks/rds.py",), "phantom rate"),
    # rds on real patients: PneumoniaMNIST (../shared/data/cxr/pneumoniamnist; benchmarks/pneumoniamnist.py:splits)
    Draw("rds", "train", "pneumoniamnist", 15, "split:rds-pneumoniamnist:train",
         ("configs/rds-pneumoniamnist.yaml",), "the official train split less the held-out test"),
    Draw("rds", "validation", "pneumoniamnist", 15, "split:rds-pneumoniamnist:val",
         ("configs/rds-pneumoniamnist.yaml", "benchmarks/pneumoniamnist.py"),
         "the official val split: the config's epochs and augmentation, each checkpoint, temperature and threshold"),
    Draw("rds", "test", "pneumoniamnist", 15, "split:rds-pneumoniamnist:test", ("benchmarks/pneumoniamnist.py",),
         "a stratified 15 % of the official train split, held out before any training; scored once"),
)


def draws(workflow: str, role: str | None = None) -> list[Draw]:
    return [d for d in LEDGER if d.workflow == workflow and (role is None or d.role == role)]


def seed(workflow: str, role: str, used_by: str) -> int:
    """The one seed of ``workflow``'s ``role`` that ``used_by`` (e.g. "benchmarks/pet.py") draws on."""
    found = {d.seed for d in draws(workflow, role) if used_by in d.used_by}
    if len(found) != 1:
        raise LookupError(f"the ledger gives {used_by} {len(found)} {role} seeds for {workflow}, not one")
    return found.pop()
