"""Half-lives of the radionuclides a gamma-camera QC uses, and reading a nuclide's name as people write it."""

from __future__ import annotations

import math
import re

from nmkit.errors import InputError

HOUR, DAY = 3600.0, 86400.0
# Half-lives from NNDC NuDat 3 (ENSDF); key: element + mass number (+ m), lower case.
HALF_LIVES_S = {
    "tc99m": 6.0067 * HOUR,
    "i123": 13.2232 * HOUR,
    "i131": 8.0252 * DAY,
    "in111": 2.8047 * DAY,
    "ga67": 3.2617 * DAY,
    "lu177": 6.6443 * DAY,
    "tl201": 3.0421 * DAY,
}
DISPLAY = {"tc99m": "Tc-99m", "i123": "I-123", "i131": "I-131", "in111": "In-111", "ga67": "Ga-67",
           "lu177": "Lu-177", "tl201": "Tl-201"}


def nuclide_key(name: str) -> str | None:
    """'Tc-99m', 'tc99m', '99mTc', 'Tc 99m' -> 'tc99m'; None when it is not element plus mass number."""
    text = re.sub(r"[\s_\-^]", "", name).lower()
    match = re.fullmatch(r"([a-z]{1,2})(\d{1,3})(m?)", text) or re.fullmatch(r"(\d{1,3})(m?)([a-z]{1,2})", text)
    if match is None:
        return None
    parts = match.groups()
    element, mass, meta = (parts if parts[0].isalpha() else (parts[2], parts[0], parts[1]))
    return f"{element}{mass}{meta}"


def half_life_s(name: str, source: str = "--nuclide") -> float:
    """The built-in half-life of ``name`` in seconds; InputError naming the known nuclides otherwise."""
    key = nuclide_key(name)
    if key not in HALF_LIVES_S:
        raise InputError(source, f"unknown nuclide {name!r}; nmkit knows {', '.join(DISPLAY.values())} "
                                 "(or give --half-life-s)")
    return HALF_LIVES_S[key]


def decay_constant(half_life: float) -> float:
    """lambda = ln 2 / T1/2 in 1/s."""
    return math.log(2.0) / half_life
