"""Physics against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qcm_app.domain.physics import (
    CrystalSettings,
    crystal_life_pct,
    mass_ng_cm2_from_thickness,
    sauerbrey_factor_ng_cm2_per_hz,
    sauerbrey_mass_ng_cm2,
    thickness_ang_from_mass,
    zmatch_mass_ng_cm2,
    zmatch_thickness_ang,
)


def test_sauerbrey_constants_at_6_and_5_mhz() -> None:
    # sqrt(2.648 * 2.947e11) / (2 f0^2): by hand 12.269 and 17.667 ng/cm2/Hz
    assert sauerbrey_factor_ng_cm2_per_hz(6.0e6) == pytest.approx(12.27, abs=0.005)
    assert sauerbrey_factor_ng_cm2_per_hz(5.0e6) == pytest.approx(17.67, abs=0.005)


def test_sauerbrey_uses_the_measured_start_frequency() -> None:
    # a used crystal at 5.8 MHz: 12.269 * (6/5.8)^2 = 13.130 ng/cm2/Hz
    assert sauerbrey_factor_ng_cm2_per_hz(5.8e6) == pytest.approx(13.130, abs=0.002)
    mass = sauerbrey_mass_ng_cm2([5.8e6, 5.8e6 - 3.0, 5.8e6 + 1.0], 5.8e6)
    assert mass == pytest.approx([0.0, 39.39, -13.13], abs=0.01)


def test_quartz_constants_are_settings() -> None:
    stiff = CrystalSettings(quartz_shear_modulus_g_cm_s2=2.947e11 * 4)
    assert sauerbrey_factor_ng_cm2_per_hz(6e6, stiff) == pytest.approx(2 * sauerbrey_factor_ng_cm2_per_hz(6e6))


def test_zmatch_by_hand_for_z_equal_one() -> None:
    # z = 1 is the period equation: T = Zq/(2 rho) (1/Fc - 1/Fco); Zq = 8.765e5 g/cm2/s (cgs)
    f0, fc, rho = 6.0e6, 6.0e6 - 1000.0, 2.7
    expected_cm = 8.765e5 / (2 * rho) * (1 / fc - 1 / f0)
    assert zmatch_thickness_ang(fc, f0, rho) == pytest.approx(expected_cm * 1e8, rel=1e-9)
    # 1000 Hz of aluminium is about 450 Å
    assert zmatch_thickness_ang(fc, f0, rho) == pytest.approx(451.0, abs=1.0)


def test_zmatch_tooling_scales_linearly() -> None:
    t100 = zmatch_thickness_ang(5.9e6, 6.0e6, 2.7, 1.08, 100.0)
    assert zmatch_thickness_ang(5.9e6, 6.0e6, 2.7, 1.08, 50.0) == pytest.approx(t100 / 2)


@given(st.floats(5.2e6, 6.0e6), st.floats(0.1, 100.0))
def test_zmatch_reduces_to_sauerbrey_for_small_shifts(f0: float, shift_hz: float) -> None:
    # with Zq = sqrt(rho_q mu_q) (SI) and z = 1, Z-match mass equals Sauerbrey mass for small shifts
    zq_si = math.sqrt(2648.0 * 2.947e10)
    crystal = CrystalSettings(zq_kg_m2_s=zq_si, blank_frequency_hz=6.045e6)
    zm = float(zmatch_mass_ng_cm2(f0 - shift_hz, f0, density_g_cm3=1.5, z_ratio=1.0, crystal=crystal))
    sb = float(sauerbrey_mass_ng_cm2(f0 - shift_hz, f0))
    assert zm == pytest.approx(sb, rel=shift_hz / f0 * 3 + 1e-9)


def test_zmatch_differs_from_sauerbrey_for_thick_mismatched_films() -> None:
    f0, fc = 6.0e6, 5.4e6  # 10 % shift
    sb = float(sauerbrey_mass_ng_cm2(fc, f0))
    zm_matched = float(zmatch_mass_ng_cm2(fc, f0, 2.65, 1.0))
    zm_soft = float(zmatch_mass_ng_cm2(fc, f0, 1.2, 0.3))
    assert abs(zm_matched - sb) / sb > 0.05  # Sauerbrey is off by several % at a 10 % shift
    assert zm_soft != pytest.approx(zm_matched, rel=0.01)  # and the Z-ratio matters


def test_vendor_zq_is_a_setting_and_is_08_percent_below_the_textbook_value() -> None:
    zq_si = math.sqrt(2648.0 * 2.947e10)
    assert (zq_si - 8.765e6) / zq_si == pytest.approx(0.0078, abs=0.0005)
    a = zmatch_thickness_ang(5.99e6, 6e6, 1.0)
    b = zmatch_thickness_ang(5.99e6, 6e6, 1.0, crystal=CrystalSettings(zq_kg_m2_s=zq_si))
    assert b / a == pytest.approx(zq_si / 8.765e6)


def test_crystal_life() -> None:
    life = crystal_life_pct([6.0e6, 5.5e6, 5.0e6, 5.75e6])
    assert life == pytest.approx([100.0, 50.0, 0.0, 75.0])
    five = CrystalSettings.for_nominal_mhz(5.0)
    assert crystal_life_pct(five.fresh_frequency_hz, five) == pytest.approx(100.0)


def test_thickness_mass_conversion() -> None:
    # 10 * GPC(Å) * density: 331 ng/cm2 at 1.27 g/cm3 is 26.06 Å
    assert thickness_ang_from_mass(331.0, 1.27) == pytest.approx(26.06, abs=0.01)
    assert mass_ng_cm2_from_thickness(1.23, 3.0) == pytest.approx(36.9)
    assert np.allclose(thickness_ang_from_mass(mass_ng_cm2_from_thickness([1.0, 2.0], 2.0), 2.0), [1.0, 2.0])
