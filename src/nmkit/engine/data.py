"""What every workflow's LightningDataModule shares: the config's data section, a seed, and the two loaders."""

from __future__ import annotations

from typing import Any

import lightning as L
from torch.utils.data import DataLoader, Dataset


class TrainValDataModule(L.LightningDataModule):
    """Subclasses build ``self.train_set`` and ``self.val_set`` in ``setup``; this serves them.

    Training batches are shuffled, and a last partial batch is dropped (``drop_last``) when there is at
    least one full batch.
    """

    drop_last = True
    train_set: Dataset
    val_set: Dataset

    def __init__(self, data: dict[str, Any], seed: int):
        super().__init__()
        self.data, self.seed = data, seed

    def train_dataloader(self) -> DataLoader:
        batch = int(self.data["batch_size"])
        return DataLoader(self.train_set, batch_size=batch, shuffle=True, num_workers=int(self.data["num_workers"]),
                          drop_last=self.drop_last and len(self.train_set) > batch)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_set, batch_size=int(self.data["batch_size"]),
                          num_workers=int(self.data["num_workers"]))
