"""The gamma-camera QC battery beyond flood uniformity: one module per NEMA NU 1 / IAEA test."""
