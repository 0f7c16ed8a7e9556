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
