"""Seeded phantom generators with known ground truth, one module per workflow."""
