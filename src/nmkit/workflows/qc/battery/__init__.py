"""The gamma-camera QC battery beyond flood uniformity: one module per NEMA NU 1 / IAEA test.

Each module holds an analysis class in the pylinac shape (``analyze()``, ``results()``, ``results_data()``,
``plot_analyzed_image()``) and its typed result (a dataclass with ``as_dict()``).
"""
