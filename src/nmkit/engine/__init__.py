"""The training engine shared by every workflow, on Lightning."""

from nmkit.engine.config import load_config
from nmkit.engine.train import train

__all__ = ["load_config", "train"]
