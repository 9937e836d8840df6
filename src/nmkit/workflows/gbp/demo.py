"""The gbp part of `nmkit demo`: phantom gated studies of known EF through `GatedEF` with the shipped model."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from nmkit.io import Image
from nmkit.phantoms.gated import GatedSpec, generate_gated_studies
from nmkit.report.html import Section
from nmkit.workflows.gbp.analyse import GatedEF, load_gbp_model

# (title, EF range of the phantom, seed): fixed so the demo is the same every run.
SAMPLES = [("normal LV function", (60.0, 70.0), 11), ("reduced LV function", (25.0, 35.0), 12)]


def gbp_demo(out: Path) -> list[Section]:
    """Analyse the sample studies; return a report section with a table, ROI overlays and curves."""
    model, info = load_gbp_model()
    rows, figures = [], []
    for title, ef_range, seed in SAMPLES:
        spec = dataclasses.replace(GatedSpec(), ef_range=ef_range)
        study = generate_gated_studies(spec, 1, seed=seed)[0]
        name = title.replace(" ", "_")
        image = Image(study.frames, (study.pixel_mm, study.pixel_mm), "NM", {"gated": True}, Path(f"{name}.npy"))
        analysis = GatedEF(image).analyze(model, info)
        figures += [analysis.plot_analyzed_image(out / f"{name}.rois.png"), analysis.plot_curve(out / f"{name}.curve.png")]
        r = analysis.results_data()
        interval = "-" if r.ef_low is None else f"{r.ef_low:.1f}-{r.ef_high:.1f}"
        rows.append({"sample": title, "true EF %": study.true_ef, "measured EF %": r.ef,
                     f"EF {100 * (r.ef_interval_level or 0.95):.0f} % interval": interval,
                     "in the model's domain": "yes" if r.in_domain else "no: " + "; ".join(r.domain_notes),
                     "true ED/ES frame": f"{study.ed_frame}/{study.es_frame}", "ED/ES frame": f"{r.ed_frame}/{r.es_frame}",
                     "background counts/pixel": r.background_per_pixel})
    text = (f"Phantom MUGA studies ({GatedSpec().frames} frames, LAO view) with known EF: LV ROI on every frame "
            f"(model: {Path(info['model_path']).name}), the study's background ROI and EF method.")
    return [Section("gbp: gated blood pool LVEF", text, [rows], figures)]
