"""nmkit: deep learning workflows for nuclear medicine imaging."""

__version__ = "0.1.0"
