"""`nmkit qc fourbar | quadrant | linearity | tomo-uniformity | tomo-contrast`: the battery's resolution,
linearity and SPECT phantom tests. ``register(app)`` mounts them on `nmkit qc`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from nmkit.console import print_json, reports_input_errors

JSON_HELP = "Print the result as one JSON object."
OUT_HELP = "Folder for the analysed-image figure (PNG); none without it."


DATA_DIR_HELP = "Also store the result in the QC history in this folder."
DB_URL_HELP = "Store the result in this QC history database."


def _emit(analysis, out: Optional[Path], test: str, json_out: bool, data_dir: Optional[Path] = None,
          db_url: Optional[str] = None) -> None:
    """Write the figure (only after a successful analysis), store the result in the QC history when asked (with
    the camera and head the file names), then print JSON or the summary."""
    if out is not None:
        analysis.plot_analyzed_image(out / f"{analysis.image.path.name}.{test}.png")
    result = analysis.results_data().as_dict()
    if data_dir or db_url:
        from nmkit.workflows.qc.history import FloodHistory, camera_identity, database_url

        metadata = analysis.image.metadata
        result["history_id"] = FloodHistory(database_url(data_dir, db_url)).record_battery(
            test, result, metadata, analysis.image.path, camera_identity(metadata)["detector"])
    print_json(result) if json_out else typer.echo(analysis.results())


def _numbers(text: str, option: str) -> list[float]:
    from nmkit.errors import InputError

    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise InputError(option, f"expected comma-separated numbers in mm, got {text!r}") from None


@reports_input_errors
def fourbar(
    file: Path = typer.Argument(..., help="A four-bar or two-line phantom image."),
    separation_mm: float = typer.Option(100.0, "--separation-mm", help="Distance between the two lines of a pair (mm)."),
    band_mm: float = typer.Option(10.0, "--band-mm", help="Width of the band averaged into each profile (mm)."),
    out: Optional[Path] = typer.Option(None, "--out", help=OUT_HELP),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
    db_url: Optional[str] = typer.Option(None, "--db-url", help=DB_URL_HELP),
) -> None:
    """System spatial resolution (FWHM, FWTM) and pixel size from a four-bar or two-line phantom (NEMA NU 1)."""
    from nmkit.workflows.qc.battery.fourbar import FourBarQC

    _emit(FourBarQC(file, separation_mm, band_mm).analyze(), out, "fourbar", json_out, data_dir, db_url)


@reports_input_errors
def quadrant(
    file: Path = typer.Argument(..., help="A four-quadrant bar phantom image."),
    bar_widths: str = typer.Option("4.23,3.18,2.54,2.12", "--bar-widths", help="The four bar widths (mm), any order."),
    roi_radius_mm: float = typer.Option(70.0, "--roi-radius-mm", help="Radius of each quadrant's disc ROI (mm)."),
    roi_distance_mm: float = typer.Option(135.0, "--roi-distance-mm",
                                          help="Distance of each ROI's centre from the image centre (mm)."),
    out: Optional[Path] = typer.Option(None, "--out", help=OUT_HELP),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
    db_url: Optional[str] = typer.Option(None, "--db-url", help=DB_URL_HELP),
) -> None:
    """Moment-based MTF and FWHM of each quadrant (Hander et al. 1997), largest bars first."""
    from nmkit.workflows.qc.battery.quadrant import QuadrantQC

    widths = _numbers(bar_widths, "--bar-widths")
    _emit(QuadrantQC(file, widths, roi_radius_mm, roi_distance_mm).analyze(), out, "quadrant", json_out, data_dir, db_url)


@reports_input_errors
def linearity(
    file: Path = typer.Argument(..., help="An intrinsic slit (line-grid) image; the line direction is found."),
    bin_mm: float = typer.Option(30.0, "--bin-mm", min=1.0, help="Length of the bins along the lines (mm)."),
    out: Optional[Path] = typer.Option(None, "--out", help=OUT_HELP),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
    db_url: Optional[str] = typer.Option(None, "--db-url", help=DB_URL_HELP),
) -> None:
    """Intrinsic resolution (FWHM, FWTM) and absolute and differential linearity, UFOV and CFOV (NMQC's method)."""
    from nmkit.workflows.qc.battery.linearity import LinearityQC

    _emit(LinearityQC(file, bin_mm).analyze(), out, "linearity", json_out, data_dir, db_url)


@reports_input_errors
def tomo_uniformity(
    file: Path = typer.Argument(..., help="A reconstructed SPECT volume of a phantom with a uniform section."),
    slices: Optional[str] = typer.Option(None, "--slices", help="FIRST:LAST uniform slices (0-based, inclusive); "
                                         "found from the image without it."),
    out: Optional[Path] = typer.Option(None, "--out", help=OUT_HELP),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
    db_url: Optional[str] = typer.Option(None, "--db-url", help=DB_URL_HELP),
) -> None:
    """Tomographic integral and differential uniformity (UFOV, CFOV) and the centre-to-border ratio."""
    from nmkit.workflows.qc.battery.tomo import TomoUniformityQC, parse_slices

    qc = TomoUniformityQC(file)
    qc.slices = parse_slices(slices, qc.volume.shape[0], file)
    _emit(qc.analyze(), out, "tomo-uniformity", json_out, data_dir, db_url)


@reports_input_errors
def tomo_contrast(
    file: Path = typer.Argument(..., help="A reconstructed SPECT volume of a phantom with cold spheres (Jaszczak)."),
    diameters: str = typer.Option("38,31.8,25.4,19.1,15.9,12.7", "--diameters", help="Sphere diameters (mm)."),
    uniform_slices: Optional[str] = typer.Option(None, "--uniform-slices", help="FIRST:LAST slices of the uniform "
                                                 "section for the background (0-based, inclusive)."),
    out: Optional[Path] = typer.Option(None, "--out", help=OUT_HELP),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
    db_url: Optional[str] = typer.Option(None, "--db-url", help=DB_URL_HELP),
) -> None:
    """Contrast of each cold sphere against the uniform section, largest sphere first."""
    from nmkit.workflows.qc.battery.tomo import TomoContrastQC, parse_slices

    qc = TomoContrastQC(file, tuple(_numbers(diameters, "--diameters")))
    qc.uniform_slices = parse_slices(uniform_slices, qc.volume.shape[0], file)
    _emit(qc.analyze(), out, "tomo-contrast", json_out, data_dir, db_url)


def register(app: typer.Typer) -> None:
    """Mount the five commands on ``app`` (`nmkit qc`)."""
    for name, command in (("fourbar", fourbar), ("quadrant", quadrant), ("linearity", linearity),
                          ("tomo-uniformity", tomo_uniformity), ("tomo-contrast", tomo_contrast)):
        app.command(name)(command)
