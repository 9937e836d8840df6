"""SPECT phantom QC on a reconstructed volume (e.g. a Jaszczak phantom): `TomoUniformityQC` (NEMA-style
integral and differential uniformity and the centre-to-border ratio of the uniform section) and
`TomoContrastQC` (the contrast of each cold sphere)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import ndimage
from scipy.fft import irfftn, next_fast_len, rfftn

from nmkit.errors import InputError
from nmkit.io import Image
from nmkit.metrics.uniformity import (central_field_mask, choose_bin_factor, detect_field_mask,
                                      differential_uniformity, integral_uniformity, smooth_nine_point, sum_bin)
from nmkit.workflows.qc.battery._image import (Analysis, Result, read_image, require_spacing, rounded,
                                               volume_counts)

UFOV_SCALE, CFOV_SCALE, CENTRE_SCALE = 0.8, 0.75, 0.4  # of the phantom's, the UFOV's and the UFOV's diameter
FULL_SLICE = 0.95  # a uniform slice keeps at least this fraction of the brightest slice's mean
QUIET_SLICE = 1.25  # ... and at most this multiple of the quietest slice's smoothed coefficient of variation
SPHERE_SECTION = 1.5  # a sphere section is at least this much noisier than the quietest slice
SEARCH_SLICES = 4  # spheres are searched this many slices either side of the noisiest slice
JASZCZAK_SPHERES_MM = (38.0, 31.8, 25.4, 19.1, 15.9, 12.7)  # Deluxe Jaszczak, as pylinac's default


def parse_slices(text: str | None, n_slices: int, source: str | Path | None) -> tuple[int, int] | None:
    """"first:last" (0-based, inclusive) as a pair, None for None; InputError when it does not fit the volume."""
    if text is None:
        return None
    try:
        first, last = (int(v) for v in text.split(":"))
    except ValueError:
        raise InputError("--slices", f"expected FIRST:LAST (0-based, inclusive), got {text!r}") from None
    if not 0 <= first <= last < n_slices:
        raise InputError(source, f"has slices 0 to {n_slices - 1}; --slices {text} does not fit")
    return first, last


class PhantomVolume:
    """The volume's phantom geometry: cross-section mask, centre and radius (pixels), per-slice statistics."""

    def __init__(self, volume: np.ndarray):
        self.volume = volume
        mean_image = volume.mean(axis=0)
        self.mask = detect_field_mask(mean_image)
        rows, cols = np.nonzero(self.mask)
        self.centre = (float(rows.mean()), float(cols.mean()))
        self.radius = math.sqrt(self.mask.sum() / math.pi)
        rr, cc = np.indices(mean_image.shape)
        self.inner = np.hypot(rr - self.centre[0], cc - self.centre[1]) < UFOV_SCALE * self.radius
        smoothed = ndimage.gaussian_filter(volume, sigma=(0, 1.5, 1.5))
        self.slice_mean = volume[:, self.inner].mean(axis=1)
        self.slice_cv = smoothed[:, self.inner].std(axis=1) / np.maximum(self.slice_mean, 1e-12)

    def uniform_section(self) -> tuple[int, int]:
        """The longest run of full, quiet slices (first, last; inclusive); the earliest of equal runs."""
        full = self.slice_mean >= FULL_SLICE * self.slice_mean.max()
        good = full & (self.slice_cv <= QUIET_SLICE * self.slice_cv[full].min())
        edges = np.flatnonzero(np.diff(np.concatenate([[0], good.astype(int), [0]])))
        starts, stops = edges[::2], edges[1::2]  # each run is starts[i] .. stops[i] - 1
        longest = int(np.argmax(stops - starts))
        return int(starts[longest]), int(stops[longest] - 1)


@dataclass
class TomoUniformityResult(Result):
    """`nmkit qc tomo-uniformity`'s JSON keys (percent; the ratio has no unit)."""

    file: str
    first_slice: int
    last_slice: int
    ufov_iu: float
    ufov_du: float
    cfov_iu: float
    cfov_du: float
    centre_border_ratio: float
    bin_factor: int
    binned_pixel_mm: float
    figure: str | None = None


class TomoUniformityQC(Analysis):
    """Uniformity of the uniform section of a SPECT phantom: ``TomoUniformityQC(path).analyze()``, then
    ``results()``, ``results_data()``, ``plot_analyzed_image(path)``.

    The slices (``slices`` = (first, last), else the longest run of slices whose mean is within 5 % of the
    brightest and whose smoothed noise is within 25 % of the quietest) are averaged, summed into NEMA's
    4.48-8.32 mm pixels and smoothed with the 9-point kernel. The UFOV is the phantom's cross-section scaled by
    0.8, the CFOV the UFOV scaled by 0.75; IU and DU are NEMA NU 1's (DU over 5-pixel runs). The centre-to-border
    ratio is the mean of the central disc (0.4 of the UFOV) over the mean of the UFOV ring outside the CFOV.
    """

    def __init__(self, source: str | Path | Image | np.ndarray, slices: tuple[int, int] | None = None,
                 pixel_mm: float | None = None):
        self.image = read_image(source, pixel_mm)  # a volume as an array: voxels of pixel_mm
        self.volume = volume_counts(self.image, "tomo-uniformity")
        require_spacing(self.image, "tomo-uniformity")
        self.slices = slices

    def analyze(self) -> TomoUniformityQC:
        phantom = PhantomVolume(self.volume)
        first, last = self.slices or phantom.uniform_section()
        section = self.volume[first:last + 1].mean(axis=0)
        bin_factor = choose_bin_factor(self.image.pixel_spacing, source=str(self.image.path))
        binned = sum_bin(section, bin_factor)
        field_mask = detect_field_mask(binned)
        ufov = central_field_mask(field_mask, UFOV_SCALE)
        cfov = central_field_mask(ufov, CFOV_SCALE)
        centre = central_field_mask(ufov, CENTRE_SCALE)
        if ufov.sum() < 25 or not cfov.any():
            raise InputError(self.image.path, "shows a phantom too small for tomographic uniformity "
                                              f"({int(field_mask.sum())} binned pixels)")
        self.binned = smooth_nine_point(binned, field_mask)
        self.ufov, self.cfov, self.centre = ufov, cfov, centre
        ring = ufov & ~cfov
        iu = {name: rounded(integral_uniformity(self.binned, mask)[0]) for name, mask in (("ufov", ufov), ("cfov", cfov))}
        du = {name: rounded(differential_uniformity(self.binned, mask)) for name, mask in (("ufov", ufov), ("cfov", cfov))}
        self._result = TomoUniformityResult(
            file=str(self.image.path), first_slice=int(first), last_slice=int(last),
            ufov_iu=iu["ufov"], ufov_du=du["ufov"], cfov_iu=iu["cfov"], cfov_du=du["cfov"],
            centre_border_ratio=rounded(self.binned[centre].mean() / self.binned[ring].mean(), 4),
            bin_factor=bin_factor, binned_pixel_mm=round(bin_factor * self.image.pixel_spacing[1], 3))
        return self

    def results(self) -> str:
        """A short human-readable summary."""
        r = self.results_data()
        return self._summary([
            f"{r.file}: tomographic uniformity, slices {r.first_slice}-{r.last_slice} (0-based)",
            f"  UFOV IU {r.ufov_iu:.2f} %  DU {r.ufov_du:.2f} %   CFOV IU {r.cfov_iu:.2f} %  DU {r.cfov_du:.2f} %",
            f"  centre-to-border ratio {r.centre_border_ratio:.3f}  ({r.bin_factor}x{r.bin_factor} summing, "
            f"{r.binned_pixel_mm:.2f} mm pixels)"])

    def plot_analyzed_image(self, path: str | Path) -> Path:
        """The averaged uniform section with the UFOV, CFOV and centre outlines; sets ``figure``."""
        from nmkit.report.figures import contour_figure

        r = self.results_data()
        contour_figure(self.binned, {"UFOV": self.ufov, "CFOV": self.cfov, "centre": self.centre}, path,
                       f"{Path(r.file).name}: slices {r.first_slice}-{r.last_slice}, UFOV IU {r.ufov_iu:.1f} %",
                       image_label="summed counts (9-point smoothed)")
        r.figure = str(path)
        return Path(path)


@dataclass
class Sphere:
    """One cold sphere: its diameter, where it was found (0-based slice, row, col) and its contrast."""

    diameter_mm: float
    contrast: float  # percent: 100 (background - sphere) / background
    michelson_pct: float  # 100 (background - sphere) / (background + sphere), pylinac's "mean contrast"
    mean: float
    slice: int
    row: int
    col: int


@dataclass
class TomoContrastResult(Result):
    """`nmkit qc tomo-contrast`'s JSON keys; ``spheres`` runs from the largest to the smallest."""

    file: str
    background: float
    uniform_first_slice: int
    uniform_last_slice: int
    spheres: list[dict] = field(default_factory=list)
    figure: str | None = None


def ball(diameter_mm: float, spacing_mm: tuple[float, float, float]) -> np.ndarray:
    """A normalised ball kernel of ``diameter_mm`` on a (slice, row, col) grid of ``spacing_mm``."""
    half = [max(0, int(diameter_mm / 2 / s)) for s in spacing_mm]
    zz, yy, xx = np.ogrid[-half[0]:half[0] + 1, -half[1]:half[1] + 1, -half[2]:half[2] + 1]
    inside = (zz * spacing_mm[0]) ** 2 + (yy * spacing_mm[1]) ** 2 + (xx * spacing_mm[2]) ** 2 <= (diameter_mm / 2) ** 2
    return inside / inside.sum()


def ball_means(volume: np.ndarray, lo: int, hi: int, diameters: list[float],
               spacing: tuple[float, float, float]) -> list[np.ndarray]:
    """For each diameter, the mean over a ball centred on every voxel of slices ``lo:hi`` (zeros beyond the
    volume), by FFT over those slices and a ball's reach around them, the volume's spectrum computed once."""
    kernels = [ball(d, spacing) for d in diameters]
    largest = np.max([k.shape for k in kernels], axis=0)
    top, bottom = max(0, lo - largest[0] // 2), min(len(volume), hi + largest[0] // 2)
    shape = [next_fast_len(int(n + m - 1), real=True) for n, m in zip(volume[top:bottom].shape, largest)]
    spectrum = rfftn(volume[top:bottom], shape)
    means = []
    for kernel in kernels:
        full = irfftn(spectrum * rfftn(kernel, shape), shape)
        z, r, c = ((m - 1) // 2 for m in kernel.shape)  # where "same" output starts in the full convolution
        means.append(full[z + lo - top:z + hi - top, r:r + volume.shape[1], c:c + volume.shape[2]])
    return means


class TomoContrastQC(Analysis):
    """Cold-sphere contrast of a SPECT phantom: ``TomoContrastQC(path).analyze()``, then ``results()``,
    ``results_data()``, ``plot_analyzed_image(path)``.

    The background is the mean of the uniform section (as in `TomoUniformityQC`) inside 0.8 of the phantom's
    radius. The sphere section is the noisiest full slice. Each sphere, largest first, is found where the mean
    over a ball of its diameter is lowest within 4 slices of that section, away from the spheres already found;
    from the third sphere on, the search keeps to the ring (distance from the phantom's axis) and the slices of
    the first two, as the spheres of a Jaszczak phantom lie on one ring. Contrast = 100 (B - S) / B.
    """

    def __init__(self, source: str | Path | Image | np.ndarray, diameters_mm: tuple[float, ...] = JASZCZAK_SPHERES_MM,
                 uniform_slices: tuple[int, int] | None = None, pixel_mm: float | None = None):
        if not diameters_mm or min(diameters_mm) <= 0:
            raise InputError("--diameters", f"needs positive sphere diameters in mm, got {list(diameters_mm)}")
        self.image = read_image(source, pixel_mm)  # a volume as an array: voxels of pixel_mm
        self.volume = volume_counts(self.image, "tomo-contrast")
        require_spacing(self.image, "tomo-contrast")
        self.diameters = sorted((float(d) for d in diameters_mm), reverse=True)
        self.uniform_slices = uniform_slices

    def analyze(self) -> TomoContrastQC:
        phantom = PhantomVolume(self.volume)
        first, last = self.uniform_slices or phantom.uniform_section()
        full = phantom.slice_mean >= 0.9 * phantom.slice_mean.max()
        quietest = phantom.slice_cv[full].min()
        noisiest = int(np.flatnonzero(full)[np.argmax(phantom.slice_cv[full])])
        if phantom.slice_cv[noisiest] < SPHERE_SECTION * quietest:
            raise InputError(self.image.path, "shows no section with cold spheres (every full slice is as uniform "
                                              "as the quietest); tomo-contrast needs a sphere section")
        background = float(self.volume[first:last + 1, phantom.inner].mean())
        spacing = (self.image.slice_spacing or self.image.pixel_spacing[0], *self.image.pixel_spacing)
        lo, hi = max(0, noisiest - SEARCH_SLICES), min(len(self.volume), noisiest + SEARCH_SLICES + 1)
        zz, rr, cc = np.indices((hi - lo, *self.volume.shape[1:]), dtype=np.float64)
        zz += lo
        radial = np.hypot(rr - phantom.centre[0], cc - phantom.centre[1])
        spheres: list[Sphere] = []
        for diameter, means in zip(self.diameters, ball_means(self.volume, lo, hi, self.diameters, spacing)):
            reach = int(diameter / 2 / spacing[0])  # centres whose ball (as ball() draws it) stays inside
            allowed = (radial * spacing[1] <= phantom.radius * spacing[1] - diameter / 2 - spacing[1]) & \
                      (zz >= reach) & (zz < len(self.volume) - reach)
            for s in spheres:
                gap = np.sqrt(((zz - s.slice) * spacing[0]) ** 2 + ((rr - s.row) * spacing[1]) ** 2
                              + ((cc - s.col) * spacing[2]) ** 2)
                allowed &= gap >= (s.diameter_mm + diameter) / 2
            if len(spheres) >= 2:  # the smaller spheres lie on the ring, and in the slices, of the first two
                ring = np.mean([math.hypot(s.row - phantom.centre[0], s.col - phantom.centre[1]) for s in spheres[:2]])
                level = np.mean([s.slice for s in spheres[:2]])
                allowed &= (np.abs(radial - ring) <= 1.5) & (np.abs(zz - level) <= 1.5)
            if not allowed.any():
                raise InputError(self.image.path, f"has no room for a {diameter:g} mm sphere inside the phantom")
            z, r, c = np.unravel_index(int(np.argmin(np.where(allowed, means, np.inf))), means.shape)
            mean = float(means[z, r, c])
            spheres.append(Sphere(diameter, round(100 * (background - mean) / background, 2),
                                  round(100 * (background - mean) / (background + mean), 2), round(mean, 2),
                                  int(z + lo), int(r), int(c)))
        self.spheres, self.sphere_slice = spheres, noisiest
        self._result = TomoContrastResult(str(self.image.path), round(background, 3), int(first), int(last),
                                          [vars(s).copy() for s in spheres])
        return self

    def results(self) -> str:
        """A short human-readable summary."""
        r = self.results_data()
        lines = [f"{r.file}: cold-sphere contrast (background {r.background:.1f}, slices "
                 f"{r.uniform_first_slice}-{r.uniform_last_slice})"]
        lines += [f"  {s['diameter_mm']:5.1f} mm: contrast {s['contrast']:.1f} %  (slice {s['slice']}, row {s['row']}, "
                  f"col {s['col']})" for s in r.spheres]
        return self._summary(lines)

    def plot_analyzed_image(self, path: str | Path) -> Path:
        """The sphere section with a circle per sphere found, and contrast against diameter; sets ``figure``."""
        from matplotlib.patches import Circle

        from nmkit.report.figures import plt

        r = self.results_data()
        fig, (ax, ax_c) = plt.subplots(1, 2, figsize=(10, 4.4))
        ax.imshow(self.volume[self.sphere_slice], cmap="gray")
        for s in self.spheres:
            ax.add_patch(Circle((s.col, s.row), s.diameter_mm / 2 / self.image.pixel_spacing[1], fill=False, ec="red"))
            ax.annotate(f"{s.diameter_mm:g}", (s.col, s.row), color="yellow", ha="center", fontsize=7)
        ax.set(title=f"{Path(r.file).name}: slice {self.sphere_slice}", xlabel="column (pixels)", ylabel="row (pixels)")
        ax_c.plot([s.diameter_mm for s in self.spheres], [s.contrast for s in self.spheres], "o-")
        ax_c.set(xlabel="sphere diameter (mm)", ylabel="contrast (%)", title="cold-sphere contrast")
        return self._save(fig, path)
