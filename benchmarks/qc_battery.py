"""The QC battery (part A) on the real images, beside pylinac 3.49 where it has the test.

Usage: ``python benchmarks/qc_battery.py [--pylinac /tmp/pylinac-a/bin/python] [--repeats 7]``

Runs nmkit's four-bar, quadrant, linearity, tomographic uniformity and contrast analyses on the images in
../shared/data/nmqc, times each ``analyze()`` on one core (images of 512x512 are also timed at 1024x1024, upsampled),
and runs pylinac 3.49 in its own venv (it pins pydicom < 3, so it cannot be a dependency) in a subprocess; without
that venv its column is skipped. Make the venv with
``python3.11 -m venv /tmp/pylinac-a && /tmp/pylinac-a/bin/pip install 'pylinac==3.49.*'``.
Writes the ``qc-battery`` section of BENCHMARKS.md and benchmarks/results/qc_battery.json.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # one core, as the target says

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, repeat_timing, write_section  # noqa: E402

from nmkit.io import Image, load_image  # noqa: E402
from nmkit.workflows.qc.battery.fourbar import FourBarQC  # noqa: E402
from nmkit.workflows.qc.battery.linearity import LinearityQC  # noqa: E402
from nmkit.workflows.qc.battery.quadrant import QuadrantQC  # noqa: E402
from nmkit.workflows.qc.battery.tomo import TomoContrastQC, TomoUniformityQC  # noqa: E402

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "nmqc"
RESULTS = Path(__file__).resolve().parent / "results" / "qc_battery.json"
BAR_WIDTHS = [4.23, 3.18, 2.54, 2.12]

# pylinac 3.49, run in its own interpreter; prints one JSON object. The uniform slices are passed in.
PYLINAC_SCRIPT = r"""
import json, sys, time, warnings
warnings.filterwarnings("ignore")
from pylinac.nuclear import FourBarResolution, QuadrantResolution, TomographicContrast, TomographicUniformity
data, first, last = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
out = {}
def timed(make):
    start = time.perf_counter(); value = make(); return value, time.perf_counter() - start
m = FourBarResolution(f"{data}/FourBar.dcm")
_, t = timed(lambda: m.analyze(separation_mm=100, roi_width_mm=10))
r = m.results_data()
out["fourbar"] = {"x_fwhm_mm": r.x_fwhm, "y_fwhm_mm": r.y_fwhm, "x_fwtm_mm": r.x_fwtm, "y_fwtm_mm": r.y_fwtm,
                  "x_pixel_mm": r.x_measured_pixel_size, "y_pixel_mm": r.y_measured_pixel_size, "seconds": t}
m = QuadrantResolution(f"{data}/QuadrantBar.dcm")
_, t = timed(lambda: m.analyze(bar_widths=(4.23, 3.18, 2.54, 2.12)))
out["quadrant"] = {"quadrants": [{"bar_width_mm": 1 / (2 * lpmm), "mtf": mtf, "fwhm_mm": m.mtf.fwhms[lpmm]}
                                 for lpmm, mtf in m.mtf.mtfs.items()], "seconds": t}
for key, kwargs in (("tomo_uniformity_default", {}), ("tomo_uniformity_same_slices",
                                                       {"first_frame": first, "last_frame": last + 1})):
    m = TomographicUniformity(f"{data}/Jaszack.dcm")
    _, t = timed(lambda: m.analyze(**kwargs))
    r = m.results_data()
    out[key] = {"ufov_iu": r.ufov_integral_uniformity, "ufov_du": r.ufov_differential_uniformity,
                "cfov_iu": r.cfov_integral_uniformity, "cfov_du": r.cfov_differential_uniformity,
                "centre_border_ratio": r.center_border_ratio, "first_slice": r.first_frame - 1,
                "last_slice": r.last_frame - 1, "seconds": t}
m = TomographicContrast(f"{data}/Jaszack.dcm")
_, t = timed(lambda: m.analyze())
out["tomo_contrast"] = {"baseline": m.uniformity_value, "seconds": t, "spheres": [
    {"row": roi.y, "col": roi.x, "slice": roi.z, "michelson_pct": roi.mean_contrast} for roi in m.rois.values()]}
print(json.dumps(out, default=float))
"""


def upsampled(path: Path) -> Image:
    """A 512x512 image as 1024x1024 (each pixel split into four, pixel size halved), for the timing target."""
    image = load_image(path)
    array = np.kron(image.array[0], np.ones((2, 2), dtype=np.float32)) / 4
    return Image(np.round(array * 4), pixel_spacing=tuple(s / 2 for s in image.pixel_spacing), modality="NM",
                 path=image.path)


def run_nmkit(repeats: int) -> dict:
    """nmkit's results on the real images, and analyze() times (median, one core)."""
    out: dict = {}
    images = {name: load_image(DATA / name) for name in ("FourBar.dcm", "QuadrantBar.dcm", "Lin_X", "Lin_Y",
                                                           "Spatial_Resol_X.dcm", "Spatial_Resol_Y.dcm", "Jaszack.dcm")}
    cases = {
        "fourbar": lambda: FourBarQC(images["FourBar.dcm"], 100.0),
        "two-line X (50 mm)": lambda: FourBarQC(images["Spatial_Resol_X.dcm"], 50.0),
        "two-line Y (50 mm)": lambda: FourBarQC(images["Spatial_Resol_Y.dcm"], 50.0),
        "quadrant": lambda: QuadrantQC(images["QuadrantBar.dcm"], BAR_WIDTHS),
        "linearity Lin_X": lambda: LinearityQC(images["Lin_X"]),
        "linearity Lin_Y": lambda: LinearityQC(images["Lin_Y"]),
        "tomo-uniformity": lambda: TomoUniformityQC(images["Jaszack.dcm"]),
        "tomo-uniformity, slices 0-43": lambda: TomoUniformityQC(images["Jaszack.dcm"], slices=(0, 43)),
        "tomo-contrast": lambda: TomoContrastQC(images["Jaszack.dcm"]),
    }
    for name, make in cases.items():
        qc = make()
        out[name] = {"result": qc.analyze().results_data().as_dict(),
                     "seconds": repeat_timing(lambda: make().analyze(), repeats)["median"],
                     "shape": list(qc.image.shape)}
    big = {"fourbar": upsampled(DATA / "FourBar.dcm"), "quadrant": upsampled(DATA / "QuadrantBar.dcm")}
    out["timing_1024"] = {
        "fourbar (FourBar.dcm upsampled)": repeat_timing(
            lambda: FourBarQC(big["fourbar"]).analyze(), repeats)["median"],
        "quadrant (QuadrantBar.dcm upsampled)": repeat_timing(
            lambda: QuadrantQC(big["quadrant"], BAR_WIDTHS).analyze(), repeats)["median"],
        "linearity (Lin_X)": out["linearity Lin_X"]["seconds"],
        "linearity (Lin_Y)": out["linearity Lin_Y"]["seconds"],
    }
    return out


def run_pylinac(python: Path, first: int, last: int) -> dict | None:
    if not python.is_file():
        return None
    done = subprocess.run([str(python), "-c", PYLINAC_SCRIPT, str(DATA), str(first), str(last)],
                          capture_output=True, text=True, check=True, env={**os.environ, "MPLBACKEND": "Agg"})
    return json.loads(done.stdout.strip().splitlines()[-1])


def version(python: Path) -> str:
    done = subprocess.run([str(python), "-c", "import pylinac; print(pylinac.__version__)"], capture_output=True,
                          text=True)
    return done.stdout.strip() or "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pylinac", type=Path, default=Path("/tmp/pylinac-a/bin/python"))
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    started = machine()
    ours = run_nmkit(args.repeats)
    section = ours["tomo-uniformity"]["result"]
    theirs = run_pylinac(args.pylinac, section["first_slice"], section["last_slice"])
    payload = {"machine": started, "nmkit": ours, "pylinac": theirs,
               "pylinac_version": version(args.pylinac) if theirs else None}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(payload, indent=1, default=float) + "\n")
    write_section("qc-battery", render(payload, args))
    print(render(payload, args))


def _row(name: str, ours: float | None, theirs: float | None, target: str, check=None) -> str:
    if ours is None:
        return f"| {name} | n/a | {theirs} | {target} | |"
    if theirs is None:
        return f"| {name} | {ours:.3f} | not run | {target} | |"
    verdict = "" if check is None else "yes" if check(ours, theirs) else "**no**"
    return f"| {name} | {ours:.3f} | {theirs:.3f} | {target} | {verdict} |"


def render(payload: dict, args) -> str:
    ours, theirs = payload["nmkit"], payload["pylinac"]
    rel = lambda limit: (lambda a, b: abs(a - b) <= limit * abs(b))  # noqa: E731
    absolute = lambda limit: (lambda a, b: abs(a - b) <= limit)  # noqa: E731
    fb, q = ours["fourbar"]["result"], ours["quadrant"]["result"]["quadrants"]
    tu, tu_all = ours["tomo-uniformity"]["result"], ours["tomo-uniformity, slices 0-43"]["result"]
    lines = [
        "## qc battery: four-bar, quadrant, linearity, tomographic uniformity and contrast (real images)",
        "",
        f"Command: `python benchmarks/qc_battery.py --pylinac {args.pylinac} --repeats {args.repeats}` on "
        f"{payload['machine']}. Images: ../shared/data/nmqc (IAEA NMQC test images, Mediso). pylinac "
        f"{payload['pylinac_version'] or '(not installed: column skipped)'} ran in its own venv (it pins pydicom < 3).",
        "",
        "| measure | nmkit | pylinac | target | met |",
        "|---|---|---|---|---|",
    ]
    if theirs:
        pfb, pq = theirs["fourbar"], theirs["quadrant"]["quadrants"]
        for key in ("x_fwhm_mm", "y_fwhm_mm", "x_fwtm_mm", "y_fwtm_mm"):
            lines.append(_row(f"FourBar {key}", fb[key], pfb[key], "within 5 %", rel(0.05)))
        for key in ("x_pixel_mm", "y_pixel_mm"):
            lines.append(_row(f"FourBar {key}", fb[key], pfb[key], "within 0.5 %", rel(0.005)))
        for mine, other in zip(q, pq):
            lines.append(_row(f"QuadrantBar MTF, {mine['bar_width_mm']:g} mm bars", mine["mtf"], other["mtf"],
                              "within 0.05", absolute(0.05)))
            lines.append(_row(f"QuadrantBar FWHM, {mine['bar_width_mm']:g} mm bars", mine["fwhm_mm"], other["fwhm_mm"],
                              "(none)", None))
        for label, mine, key in ((f"slices {tu['first_slice']}-{tu['last_slice']} (nmkit's uniform section)", tu,
                                  "tomo_uniformity_same_slices"),
                                 ("slices 0-43 (pylinac's default)", tu_all, "tomo_uniformity_default")):
            for measure in ("ufov_iu", "ufov_du", "cfov_iu", "cfov_du"):
                lines.append(_row(f"Jaszczak {measure}, {label}", mine[measure], theirs[key][measure],
                                  "within 1 point", absolute(1.0)))
            lines.append(_row(f"Jaszczak centre/border, {label}", mine["centre_border_ratio"],
                              theirs[key]["centre_border_ratio"], "(none)", None))
        pc = theirs["tomo_contrast"]["spheres"]
        for mine, other in zip(ours["tomo-contrast"]["result"]["spheres"], pc):
            lines.append(_row(f"Jaszczak sphere {mine['diameter_mm']:g} mm, Michelson contrast %",
                              mine["michelson_pct"], other["michelson_pct"], "(none)", None))
        where = ", ".join(f"{m['diameter_mm']:g} mm: ({m['row']}, {m['col']}) vs ({o['row']:.1f}, {o['col']:.1f})"
                          for m, o in zip(ours["tomo-contrast"]["result"]["spheres"], pc))
        lines += ["", f"Sphere centres (row, col), nmkit vs pylinac: {where}.", ""]
    lin = [ours["linearity Lin_X"]["result"], ours["linearity Lin_Y"]["result"]]
    lines += [
        "Linearity (pylinac has no such test; NMQC's method, no published figures for these files):",
        "",
        "| file | direction | lines | FOV | FWHM mm (worst) | FWTM mm | absolute linearity mm | differential linearity mm |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in zip(("Lin_X", "Lin_Y"), lin):
        for fov in ("ufov", "cfov"):
            lines.append(f"| {name} | {r['direction']} | {r['n_lines']} | {fov.upper()} | {r[f'{fov}_fwhm_mm']:.2f} "
                         f"({r[f'{fov}_worst_fwhm_mm']:.2f}) | {r[f'{fov}_fwtm_mm']:.2f} | "
                         f"{r[f'{fov}_absolute_linearity_mm']:.3f} | {r[f'{fov}_differential_linearity_mm']:.3f} |")
    two = [ours["two-line X (50 mm)"]["result"], ours["two-line Y (50 mm)"]["result"]]
    lines += ["", "Two-line images (`--separation-mm 50`, no pylinac run): Spatial_Resol_X FWHM "
                  f"{two[0]['x_fwhm_mm']:.2f} mm, pixel {two[0]['x_pixel_mm']:.4f} mm; Spatial_Resol_Y FWHM "
                  f"{two[1]['y_fwhm_mm']:.2f} mm, pixel {two[1]['y_pixel_mm']:.4f} mm.", "",
              "Speed of `analyze()` (median of the repeats, one core, file already read; target < 1 s on 1024x1024):", "",
              "| analysis | image | seconds | pylinac seconds |", "|---|---|---|---|"]
    pyl_seconds = {"fourbar": "fourbar", "quadrant": "quadrant", "tomo-uniformity": "tomo_uniformity_same_slices",
                   "tomo-contrast": "tomo_contrast"}
    for name in ("fourbar", "quadrant", "linearity Lin_X", "linearity Lin_Y", "tomo-uniformity", "tomo-contrast"):
        other = theirs[pyl_seconds[name]]["seconds"] if theirs and name in pyl_seconds else None
        shape = "x".join(str(v) for v in ours[name]["shape"])
        lines.append(f"| {name} | {shape} | {ours[name]['seconds']:.3f} | "
                     f"{'' if other is None else f'{other:.3f}'} |")
    for name, seconds in ours["timing_1024"].items():
        if "upsampled" in name:
            lines.append(f"| {name} | 1x1024x1024 | {seconds:.3f} | |")
    lines += ["", "Method differences (both sides read the same files):", "",
              "- Four-bar: pylinac takes a 10 mm band through the image centre and fits a sum of two Gaussians "
              "(no constant) to the whole profile; nmkit centres the band on the lines' extent and fits each line "
              "with its own Gaussian plus constant on its half of the profile. Both convert widths with the header's "
              "pixel size and compute the pixel size as separation / fitted peak distance.",
              "- Quadrant: the same Hander 1997 formulas (MTF = sqrt(2 (var - mean)) / mean, FWHM = 1.058 w "
              "sqrt(ln 1/MTF)). pylinac's disc ROIs are 70 px in radius at 130 px from the image centre (pixel "
              "units) and take the bar widths in a fixed angular order; nmkit's are 70 mm at 135 mm (here 67.8 and "
              "130.8 px) and give each width to the quadrant whose spectrum shows that period.",
              "- Tomographic uniformity: both average the chosen slices, sum to NEMA's 4.48-8.32 mm pixels (here "
              "2x2, 8.26 mm) and smooth with the 9-point kernel. pylinac averages slices 0-43 unless told, "
              "thresholds at 75 % of the mean and erodes the phantom by 10 % of its diameter for the UFOV; nmkit "
              "finds the uniform section from the slices' means and noise, takes the field at 50 % of the mean, "
              "scales it by 0.8 about its centroid for the UFOV (CFOV 0.75 of that), smooths with in-field "
              "neighbours only and takes DU over 5-pixel runs wholly inside the region. The centre ROI is 0.4 of "
              "the UFOV in both.",
              "- Tomographic contrast: pylinac places the spheres at fixed angles on a ring at 0.65 of the "
              "phantom's radius and moves each by Nelder-Mead to its highest Michelson contrast against the mean "
              "of the most uniform slice; nmkit finds each sphere (largest first) at the minimum of the ball mean "
              "near the noisiest slice, the smaller ones on the ring of the two largest, against the mean of the "
              "uniform section within 0.8 of the radius. nmkit's `contrast` is 100 (B - S) / B; its "
              "`michelson_pct` is pylinac's measure. No target: the table shows the difference.",
              "- Linearity: NMQC's bins (30 mm along the lines) and a Gaussian per line and bin; nmkit reads the "
              "line direction from the image, fits a straight line per slit (NMQC takes the deviation from the "
              "mean position, which a slightly tilted phantom inflates) and takes the CFOV samples from the UFOV's "
              "bins."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
