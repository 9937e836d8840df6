"""Where a flood has a cold region: the matched-filter map, kept only where it is significant family-wise.

The scanning matched filter (:mod:`nmkit.workflows.qc.observer`) tests every disc position and size; at 3
sigma a 256 x 256 flood would show dozens of "cold regions" from noise alone. Two corrections:

1. **Empirical null** (Efron, JASA 2004): a real camera's flood carries structure the Poisson model ignores
   (PMT pattern, gradients), so each diameter's map is standardised by its own robust centre (median) and
   spread (1.4826 MAD over the valid centres), never by less than the Poisson sigma of 1.
2. **Family-wise error** over the places searched, by random field theory (Worsley et al., Hum Brain Mapp
   1996, as SPM does): each diameter's map is white noise filtered by its disc, whose smoothness (FWHM) follows
   from the disc's gradient energy; the searched region then holds ``area / FWHM^2`` independent places
   (resels), and the threshold is the height where the expected Euler characteristic of the excursion sets,
   summed over the diameters, equals ``alpha`` (5 % family-wise: a flood without a defect shows any region
   with probability about 5 %).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.optimize import brentq
from scipy.stats import norm

from nmkit.phantoms.flood import brush_profile
from nmkit.workflows.qc.observer import MatchedFilterObserver

FAMILY_WISE_ALPHA = 0.05
MAD_TO_SD = 1.4826


@dataclass(frozen=True)
class ColdRegion:
    """One significant cold region: its peak (row, col, pixels), disc diameter (px) and standardised statistic."""

    row: int
    col: int
    diameter_px: int
    sigma: float

    def as_dict(self) -> dict[str, float | int]:
        return {"row": self.row, "col": self.col, "diameter_px": self.diameter_px, "sigma": round(self.sigma, 2)}


@dataclass
class ColdRegionMap:
    """The standardised map (max over diameters, NaN outside the searched FOV), the family-wise threshold,
    the number of independent places searched (resels, summed over diameters) and the significant regions,
    strongest first."""

    sigma: np.ndarray
    threshold: float
    places: float
    regions: list[ColdRegion]
    alpha: float = FAMILY_WISE_ALPHA

    @property
    def significant(self) -> np.ndarray:
        """The map where it exceeds the threshold, NaN elsewhere (what the figure shows)."""
        with np.errstate(invalid="ignore"):
            return np.where(self.sigma >= self.threshold, self.sigma, np.nan)


def standardised(statistic: np.ndarray) -> np.ndarray:
    """A matched-filter map in units of its empirical-null spread (never below Poisson's 1), centred on its median."""
    values = statistic[np.isfinite(statistic)]
    centre = float(np.median(values))
    spread = max(1.0, MAD_TO_SD * float(np.median(np.abs(values - centre))))
    return (statistic - centre) / spread


def filter_fwhm(diameter: int, brush: int) -> float:
    """FWHM (px) of the Gaussian kernel as rough as white noise filtered by this disc: sqrt(4 ln 2 / lambda),
    lambda the variance of the filtered field's derivative per unit field variance."""
    template = brush_profile(brush, diameter).astype(np.float64)
    dy, dx = np.gradient(template)
    roughness = ((dx**2).sum() + (dy**2).sum()) / 2 / (template**2).sum()
    return float(np.sqrt(4 * np.log(2) / roughness))


def expected_euler(u: float, resels: tuple[float, float, float]) -> float:
    """Expected Euler characteristic of a 2-D Gaussian field's excursion set above ``u`` (resels R0, R1, R2)."""
    r0, r1, r2 = resels
    four_ln2 = 4 * np.log(2)
    return (r0 * norm.sf(u) + r1 * np.sqrt(four_ln2) / (2 * np.pi) * np.exp(-u * u / 2)
            + r2 * four_ln2 / (2 * np.pi) ** 1.5 * u * np.exp(-u * u / 2))


def search_resels(searched: np.ndarray, fwhm: float) -> tuple[float, float, float]:
    """(R0, R1, R2) of a searched region (bool): its Euler characteristic, half its perimeter and its area in
    units of FWHM."""
    edge = searched & ~ndimage.binary_erosion(searched)
    return 1.0, float(edge.sum()) / 2 / fwhm, float(searched.sum()) / fwhm**2


def cold_region_map(image: np.ndarray, observer: MatchedFilterObserver,
                    alpha: float = FAMILY_WISE_ALPHA) -> ColdRegionMap:
    """Significant cold regions of a flood (counts, 2-D) at family-wise level ``alpha`` (module docstring).
    The smoothness is that of the observer's smoothest brush (the conservative choice when it has several)."""
    maps = observer.statistic_maps(image)
    best, best_diameter = np.full(image.shape, np.nan, np.float32), np.zeros(image.shape, np.int32)
    resels = []
    for diameter, statistic in maps.items():
        z = standardised(statistic)
        fwhm = min(filter_fwhm(diameter, brush) for brush in observer.brushes)
        resels.append(search_resels(np.isfinite(z), fwhm))
        better = np.isfinite(z) & ~(z <= best)  # also where best is still NaN
        best[better], best_diameter[better] = z[better], diameter
    threshold = float(brentq(lambda u: sum(expected_euler(u, r) for r in resels) - alpha, 1.0, 20.0))
    with np.errstate(invalid="ignore"):
        labels, n = ndimage.label(best >= threshold)
    regions = []
    for index in range(1, n + 1):
        inside = np.where(labels == index, best, -np.inf)
        row, col = np.unravel_index(int(np.argmax(inside)), best.shape)
        regions.append(ColdRegion(int(row), int(col), int(best_diameter[row, col]), float(best[row, col])))
    regions.sort(key=lambda r: -r.sigma)
    return ColdRegionMap(best, threshold, sum(r[2] for r in resels), regions, alpha)
