"""Frequency to areal mass and thickness: Sauerbrey, Z-match (Lu–Lewis) and crystal life.

All functions accept numpy arrays as well as floats; there is one implementation used live,
in replay and offline.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

#: AT-cut quartz, as in the Sauerbrey derivation
QUARTZ_DENSITY_G_CM3 = 2.648
QUARTZ_SHEAR_MODULUS_G_CM_S2 = 2.947e11
#: the vendors' acoustic impedance of quartz (0.8 % below sqrt(rho*mu) in SI)
VENDOR_ZQ_KG_M2_S = 8.765e6
#: what a quartz crystal can read: anything outside is a broken reading, not a frequency (a 1e-300
#: "frequency" would make the Sauerbrey constant overflow)
MIN_CRYSTAL_FREQUENCY_HZ = 1e3
MAX_CRYSTAL_FREQUENCY_HZ = 1e9


def is_crystal_frequency(frequency_hz: float) -> bool:
    return math.isfinite(frequency_hz) and MIN_CRYSTAL_FREQUENCY_HZ <= frequency_hz <= MAX_CRYSTAL_FREQUENCY_HZ


def valid_frequencies(frequency_hz: ArrayLike) -> np.ndarray:
    """True where a reading is a frequency a crystal can have (NaN, zero, negative and absurd ones are gaps)."""
    f = np.asarray(frequency_hz, dtype=float)
    with np.errstate(invalid="ignore"):
        return np.isfinite(f) & (f >= MIN_CRYSTAL_FREQUENCY_HZ) & (f <= MAX_CRYSTAL_FREQUENCY_HZ)


@dataclass(frozen=True)
class CrystalSettings:
    """Quartz constants and crystal limits, all named settings (stored in run-file headers)."""

    nominal_mhz: float = 6.0
    quartz_density_g_cm3: float = QUARTZ_DENSITY_G_CM3
    quartz_shear_modulus_g_cm_s2: float = QUARTZ_SHEAR_MODULUS_G_CM_S2
    #: acoustic impedance used by Z-match
    zq_kg_m2_s: float = VENDOR_ZQ_KG_M2_S
    #: nominal blank frequency Fq of the Z-match equation (INFICON 6 MHz crystals: 6.045 MHz)
    blank_frequency_hz: float = 6.045e6
    #: crystal life runs from 100 % here ...
    fresh_frequency_hz: float = 6.0e6
    #: ... to 0 % here
    min_frequency_hz: float = 5.0e6

    def check(self) -> None:
        """Raise ValueError for a constant no quartz has (zero, negative, not a number)."""
        for name in ("quartz_density_g_cm3", "quartz_shear_modulus_g_cm_s2", "zq_kg_m2_s", "blank_frequency_hz"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name.replace('_', ' ')} must be a positive number, got {value:g}")

    @classmethod
    def for_nominal_mhz(cls, mhz: float) -> CrystalSettings:
        """Typical limits for a 5 or 6 MHz crystal (other values scale the 6 MHz ones)."""
        if not (math.isfinite(mhz) and mhz > 0):
            raise ValueError(f"crystal frequency must be a positive number of MHz, got {mhz}")
        scale = mhz / 6.0
        return cls(
            nominal_mhz=mhz,
            blank_frequency_hz=6.045e6 * scale,
            fresh_frequency_hz=6.0e6 * scale,
            min_frequency_hz=5.0e6 * scale,
        )


def sauerbrey_factor_ng_cm2_per_hz(f0_hz: float, crystal: CrystalSettings = CrystalSettings()) -> float:
    """Mass per Hz of frequency drop, sqrt(rho_q mu_q) / (2 f0^2), in ng/cm²/Hz.

    ``f0_hz`` must be the crystal's measured starting frequency, not the nominal one.
    """
    if not is_crystal_frequency(f0_hz):
        raise ValueError(
            f"starting frequency must be a crystal frequency ({MIN_CRYSTAL_FREQUENCY_HZ:g} to "
            f"{MAX_CRYSTAL_FREQUENCY_HZ:g} Hz), got {f0_hz:g}"
        )
    crystal.check()
    z_cgs = math.sqrt(crystal.quartz_density_g_cm3 * crystal.quartz_shear_modulus_g_cm_s2)
    return z_cgs / (2.0 * f0_hz * f0_hz) * 1e9


def sauerbrey_mass_ng_cm2(
    frequency_hz: ArrayLike, f0_hz: float, crystal: CrystalSettings = CrystalSettings()
) -> np.ndarray:
    """Areal mass gained since the crystal was at ``f0_hz`` (positive when frequency drops)."""
    return (f0_hz - np.asarray(frequency_hz, dtype=float)) * sauerbrey_factor_ng_cm2_per_hz(f0_hz, crystal)


def zmatch_thickness_ang(
    frequency_hz: ArrayLike,
    f0_hz: float,
    density_g_cm3: float,
    z_ratio: float = 1.0,
    tooling_pct: float = 100.0,
    crystal: CrystalSettings = CrystalSettings(),
) -> np.ndarray:
    """Film thickness in Å by the Z-match (Lu–Lewis) equation, scaled by tooling.

    T = Zq/(2 pi z rho_f) [atan(z tan(pi Fco/Fq))/Fco - atan(z tan(pi Fc/Fq))/Fc]; z = 1 gives the
    period equation. Valid to ~40 % frequency shift.
    """
    if not density_g_cm3 > 0 or not z_ratio > 0:
        raise ValueError("density and Z-ratio must be positive")
    fq = crystal.blank_frequency_hz
    fc = np.asarray(frequency_hz, dtype=float)
    zq_cgs = crystal.zq_kg_m2_s * 0.1  # kg m^-2 s^-1 -> g cm^-2 s^-1

    def term(f: np.ndarray | float) -> np.ndarray:
        return np.arctan(z_ratio * np.tan(np.pi * np.asarray(f) / fq)) / f

    thickness_cm = zq_cgs / (2.0 * np.pi * z_ratio * density_g_cm3) * (term(f0_hz) - term(fc))
    return thickness_cm * 1e8 * (tooling_pct / 100.0)


def zmatch_mass_ng_cm2(
    frequency_hz: ArrayLike,
    f0_hz: float,
    density_g_cm3: float,
    z_ratio: float = 1.0,
    crystal: CrystalSettings = CrystalSettings(),
) -> np.ndarray:
    """Areal mass on the sensor by Z-match (thickness times density), for thick films."""
    thickness_ang = zmatch_thickness_ang(frequency_hz, f0_hz, density_g_cm3, z_ratio, 100.0, crystal)
    return thickness_ang * density_g_cm3 * 10.0


def crystal_life_pct(frequency_hz: ArrayLike, crystal: CrystalSettings = CrystalSettings()) -> np.ndarray:
    """Crystal life: 100 % at the fresh crystal's frequency, 0 % at the minimum usable one."""
    f = np.asarray(frequency_hz, dtype=float)
    span = crystal.fresh_frequency_hz - crystal.min_frequency_hz
    return (f - crystal.min_frequency_hz) / span * 100.0


def thickness_ang_from_mass(mass_ng_cm2: ArrayLike, density_g_cm3: float) -> np.ndarray:
    """Thickness in Å of a film of this areal mass: 1 ng/cm² at 1 g/cm³ is 0.1 Å."""
    return np.asarray(mass_ng_cm2, dtype=float) / (10.0 * density_g_cm3)


def mass_ng_cm2_from_thickness(thickness_ang: ArrayLike, density_g_cm3: float) -> np.ndarray:
    return np.asarray(thickness_ang, dtype=float) * 10.0 * density_g_cm3
