"""plasma@1 against the formulas evaluated here with CODATA 2018, and against the NRL formulary."""

from __future__ import annotations

import math

import numpy as np
import pytest

from physics_constants import AMU, E, EPS0, M_E

# (T_e [eV], n_e [m^-3]) from a glow discharge to a fusion core.
PLASMAS = [(0.1, 1e14), (1.0, 1e16), (3.0, 1e17), (10.0, 1e19), (1e4, 1e20)]
FIELDS = [0.0, 1e-3, 0.1, 5.3]
IONS = [(1.008, 1), (4.0026, 2), (39.948, 1), (131.29, 3)]


@pytest.fixture(scope="module")
def plasma(api):
    return api("plasma", "1")


@pytest.mark.parametrize("T_e, n_e", PLASMAS)
def test_debye_length(plasma, T_e, n_e):
    kT = T_e * E  # joules
    assert plasma.debye_length(T_e, n_e) == pytest.approx(math.sqrt(EPS0 * kT / (n_e * E**2)), rel=1e-12)


@pytest.mark.parametrize("T_e, n_e", PLASMAS)
def test_electron_plasma_frequency(plasma, T_e, n_e):
    assert plasma.electron_plasma_frequency(n_e) == pytest.approx(math.sqrt(n_e * E**2 / (EPS0 * M_E)), rel=1e-12)


@pytest.mark.parametrize("B", FIELDS)
def test_electron_cyclotron_frequency(plasma, B):
    assert plasma.electron_cyclotron_frequency(B) == pytest.approx(E * B / M_E, rel=1e-12)


@pytest.mark.parametrize("B", FIELDS)
@pytest.mark.parametrize("mass, Z", IONS)
def test_ion_cyclotron_frequency(plasma, B, mass, Z):
    assert plasma.ion_cyclotron_frequency(B, mass, Z) == pytest.approx(Z * E * B / (mass * AMU), rel=1e-12)


def test_ion_cyclotron_frequency_is_singly_charged_by_default(plasma):
    assert plasma.ion_cyclotron_frequency(0.1, 39.948) == plasma.ion_cyclotron_frequency(0.1, 39.948, 1)


@pytest.mark.parametrize("T_e, n_e", PLASMAS)
@pytest.mark.parametrize("mass, Z", IONS)
def test_bohm_velocity(plasma, T_e, n_e, mass, Z):
    assert plasma.bohm_velocity(T_e, mass) == pytest.approx(math.sqrt(T_e * E / (mass * AMU)), rel=1e-12)


@pytest.mark.parametrize("T_e, n_e", PLASMAS)
def test_electron_mean_speed(plasma, T_e, n_e):
    assert plasma.electron_mean_speed(T_e) == pytest.approx(math.sqrt(8 * T_e * E / (math.pi * M_E)), rel=1e-12)


def test_electron_mean_speed_is_the_mean_of_a_sampled_maxwellian(plasma):
    """Independent of the closed form: the mean |v| of 3-D Gaussian velocities with variance kT/m."""
    T_e = 5.0
    v = np.random.default_rng(7).normal(0.0, math.sqrt(T_e * E / M_E), size=(400_000, 3))
    assert plasma.electron_mean_speed(T_e) == pytest.approx(np.linalg.norm(v, axis=1).mean(), rel=3e-3)


@pytest.mark.parametrize("quantity, call, formulary", [
    # NRL Plasma Formulary (2019), p. 28-29, in its own units: 3-4 significant digits.
    ("lambda_D = 7.43e2 T^1/2 n^-1/2 cm", lambda p: p.debye_length(4.0, 1e18) * 100, 7.43e2 * 2.0 / 1e6),
    ("f_pe = 8.98e3 n^1/2 Hz", lambda p: p.electron_plasma_frequency(1e18) / (2 * math.pi), 8.98e3 * 1e6),
    ("f_ce = 2.80e6 B Hz (B in gauss)", lambda p: p.electron_cyclotron_frequency(0.1) / (2 * math.pi), 2.80e6 * 1e3),
    # mu = m_i / m_p; a proton is 1.00728 u.
    ("f_ci = 1.52e3 Z mu^-1 B Hz", lambda p: p.ion_cyclotron_frequency(0.1, 1.00728) / (2 * math.pi), 1.52e3 * 1e3),
    ("C_s = 9.79e5 mu^-1/2 T^1/2 cm/s", lambda p: p.bohm_velocity(4.0, 1.00728) * 100, 9.79e5 * 2.0),
])
def test_agrees_with_the_nrl_formulary(plasma, quantity, call, formulary):
    assert call(plasma) == pytest.approx(formulary, rel=3e-3), quantity


def test_functions_broadcast_and_return_floats_for_numbers(plasma):
    T = np.array([1.0, 4.0])
    n = np.array([[1e16], [1e18]])
    out = plasma.debye_length(T, n)
    assert out.shape == (2, 2)
    assert out[1, 1] == pytest.approx(plasma.debye_length(4.0, 1e18), rel=1e-15)
    assert type(plasma.debye_length(3.0, 1e17)) is float
    assert type(plasma.electron_cyclotron_frequency(0)) is float


@pytest.mark.parametrize("call, names", [
    (lambda p: p.debye_length(-1.0, 1e17), "T_e"),
    (lambda p: p.debye_length(3.0, 0.0), "n_e"),
    (lambda p: p.debye_length(3.0, float("nan")), "n_e"),
    (lambda p: p.electron_plasma_frequency([1e16, -1e16]), "n_e"),
    (lambda p: p.electron_cyclotron_frequency(-0.1), "B"),
    (lambda p: p.ion_cyclotron_frequency(0.1, 0.0), "ion_mass_amu"),
    (lambda p: p.ion_cyclotron_frequency(0.1, 40.0, 0), "Z"),
    (lambda p: p.bohm_velocity(3.0, "argon"), "ion_mass_amu"),
    (lambda p: p.electron_mean_speed(None), "T_e"),
])
def test_bad_input_raises_a_value_error_naming_the_parameter(plasma, call, names):
    with pytest.raises(ValueError, match=names):
        call(plasma)


# Larmor radii (plasma 1.1): at the thermal speed sqrt(2 kT / m), PlasmaPy's convention.
K_B = 1.380649e-23  # J/K (exact)
PROTON_U = 1.007276466621  # proton mass [u], CODATA 2018


@pytest.fixture(scope="module")
def plasma_1_1(api):
    return api("plasma", "1.1")


@pytest.mark.parametrize("T_e, B", [(0.1, 1e-3), (3.0, 0.1), (20.0, 2.0), (1e4, 5.3)])
def test_electron_larmor_radius(plasma_1_1, T_e, B):
    v_th = math.sqrt(2 * T_e * E / M_E)
    assert plasma_1_1.electron_larmor_radius(T_e, B) == pytest.approx(v_th / (E * B / M_E), rel=1e-12)


@pytest.mark.parametrize("T_i, B", [(0.03, 0.05), (2.0, 2.0)])
@pytest.mark.parametrize("mass, Z", IONS)
def test_ion_larmor_radius(plasma_1_1, T_i, B, mass, Z):
    m_i = mass * AMU
    expected = math.sqrt(2 * T_i * E / m_i) / (Z * E * B / m_i)
    assert plasma_1_1.ion_larmor_radius(T_i, B, mass, Z) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("call, plasmapy", [
    # plasmapy.formulary.lengths.gyroradius(0.2 * u.T, particle, T=1e6 * u.K), non-relativistic.
    (lambda p: p.electron_larmor_radius(K_B * 1e6 / E, 0.2), 1.5651672339994665e-4),
    (lambda p: p.ion_larmor_radius(K_B * 1e6 / E, 0.2, PROTON_U), 6.706796704205342e-3),
])
def test_larmor_radii_agree_with_plasmapy(plasma_1_1, call, plasmapy):
    assert call(plasma_1_1) == pytest.approx(plasmapy, rel=1e-9)


def test_larmor_radius_is_the_nrl_one_times_sqrt_2(plasma_1_1):
    # NRL Plasma Formulary (2019), p. 28: r_e = 2.38 T^1/2 B^-1 cm (B in gauss), at sqrt(kT/m).
    assert plasma_1_1.electron_larmor_radius(4.0, 0.1) * 100 / math.sqrt(2) == pytest.approx(2.38 * 2.0 / 1e3, rel=3e-3)


def test_ion_mass_takes_the_electrons_off_the_atom(plasma_1_1):
    # 1H: atomic mass 1.00782503 u, less one electron, is the proton (binding energy 1.5e-8 u).
    assert plasma_1_1.ion_mass(1.00782503223) == pytest.approx(PROTON_U, abs=2e-8)
    assert plasma_1_1.ion_mass(39.948) == pytest.approx(39.948 - M_E / AMU, rel=1e-12)
    assert plasma_1_1.ion_mass(4.002602, 2) == pytest.approx(4.002602 - 2 * M_E / AMU, rel=1e-12)
    # Hydrogen's standard atomic weight is 7e-4 heavier than the ion: what 1.1 tells users.
    assert 1.008 / PROTON_U - 1 == pytest.approx(7.2e-4, rel=0.01)


@pytest.mark.parametrize("call, names", [
    (lambda p: p.electron_larmor_radius(3.0, 0.0), "B"),
    (lambda p: p.electron_larmor_radius(-3.0, 0.1), "T_e"),
    (lambda p: p.ion_larmor_radius(1.0, 0.1, 0.0), "ion_mass_amu"),
    (lambda p: p.ion_larmor_radius(0.0, 0.1, 40.0), "T_i"),
    (lambda p: p.ion_mass(0.0), "atom_mass_amu"),
    (lambda p: p.ion_mass(1.008, 3000), "cannot lose"),
])
def test_larmor_bad_input_names_the_parameter(plasma_1_1, call, names):
    with pytest.raises(ValueError, match=names):
        call(plasma_1_1)


def test_1_1_keeps_every_1_0_result(api, plasma_1_1):
    """A minor release: the functions 1.0 had give the same numbers."""
    v1_0 = api("plasma", "1.0")
    assert plasma_1_1.debye_length(3.0, 1e17) == v1_0.debye_length(3.0, 1e17)
    assert plasma_1_1.bohm_velocity(3.0, 39.948) == v1_0.bohm_velocity(3.0, 39.948)
    assert plasma_1_1.ion_cyclotron_frequency(0.1, 1.007276, 1) == v1_0.ion_cyclotron_frequency(0.1, 1.007276, 1)
