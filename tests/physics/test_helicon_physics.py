"""helicon@1 against Chen's dispersion relation evaluated here, with J_1's zero found here too."""

from __future__ import annotations

import math

import numpy as np
import pytest

from physics_constants import E, M_E, MU0


def bessel_j1(x: float) -> float:
    """J_1(x) = (1/pi) int_0^pi cos(tau - x sin tau) dtau (Simpson's rule, 2001 nodes)."""
    tau = np.linspace(0.0, math.pi, 2001)
    f = np.cos(tau - x * np.sin(tau))
    h = tau[1] - tau[0]
    return float(h / 3 * (f[0] + f[-1] + 4 * f[1:-1:2].sum() + 2 * f[2:-1:2].sum()) / math.pi)


def first_zero_of_j1() -> float:
    a, b = 3.0, 4.5  # J_1 changes sign once here (J_1(3) > 0 > J_1(4.5))
    for _ in range(60):
        m = 0.5 * (a + b)
        a, b = (m, b) if bessel_j1(a) * bessel_j1(m) > 0 else (a, m)
    return 0.5 * (a + b)


J11 = first_zero_of_j1()


def chen_density(B, f, k, a):
    """(omega / k) (n e mu0 / B) = sqrt(k^2 + T^2), T = j_11 / a, solved for n."""
    omega = 2 * math.pi * f
    return math.sqrt(k**2 + (J11 / a) ** 2) * k * B / (omega * E * MU0)


# B [T], f [Hz], axial wavelength [m], radius [m]
CASES = [
    (0.01, 13.56e6, 0.5, 0.05),
    (0.05, 13.56e6, 0.3, 0.05),
    (0.1, 13.56e6, 0.3, 0.05),
    (0.08, 27.12e6, 0.2, 0.025),
    (0.2, 6.78e6, 1.0, 0.1),
    (0.03, 13.56e6, 0.05, 0.15),  # k > T: far from the long-wavelength limit
]


@pytest.fixture(scope="module")
def helicon(api):
    return api("helicon", "1")


def test_the_radial_eigenvalue_is_the_first_zero_of_j1():
    assert J11 == pytest.approx(3.8317059702, rel=1e-9)  # Abramowitz & Stegun table 9.5


@pytest.mark.parametrize("B, f, wavelength, a", CASES)
def test_density_is_chens_relation(helicon, B, f, wavelength, a):
    k = 2 * math.pi / wavelength
    assert helicon.density(B, f, k, a) == pytest.approx(chen_density(B, f, k, a), rel=1e-9)


@pytest.mark.parametrize("B, f, wavelength, a", CASES)
def test_axial_wavenumber_satisfies_chens_relation(helicon, B, f, wavelength, a):
    n = chen_density(B, f, 2 * math.pi / wavelength, a)
    k = helicon.axial_wavenumber(n, B, f, a)
    omega = 2 * math.pi * f
    assert (omega / k) * (n * E * MU0 / B) == pytest.approx(math.sqrt(k**2 + (J11 / a) ** 2), rel=1e-9)


@pytest.mark.parametrize("B, f, wavelength, a", CASES)
def test_the_two_relations_are_inverses(helicon, B, f, wavelength, a):
    k = 2 * math.pi / wavelength
    assert helicon.axial_wavenumber(helicon.density(B, f, k, a), B, f, a) == pytest.approx(k, rel=1e-12)
    n = 3.7e18
    assert helicon.density(B, f, helicon.axial_wavenumber(n, B, f, a), a) == pytest.approx(n, rel=1e-12)


def test_inverse_holds_over_six_decades_of_density(helicon):
    """The cancellation-free root: k stays accurate at densities where k << T."""
    n = np.logspace(14, 20, 61)
    k = helicon.axial_wavenumber(n, 0.1, 13.56e6, 0.05)
    np.testing.assert_allclose(helicon.density(0.1, 13.56e6, k, 0.05), n, rtol=1e-12)


def test_long_wavelength_limit_is_linear_in_field_and_wavenumber(helicon):
    """k << T: n = 3.83 k B / (omega e mu0 a), Chen's n proportional to B."""
    a, f, k = 0.05, 13.56e6, 0.5  # T = 76.6 / m, k / T < 1 %
    limit = J11 * k * 0.1 / (2 * math.pi * f * E * MU0 * a)
    assert helicon.density(0.1, f, k, a) == pytest.approx(limit, rel=1e-4)
    assert helicon.density(0.2, f, k, a) == pytest.approx(2 * helicon.density(0.1, f, k, a), rel=1e-12)


def test_functions_broadcast(helicon):
    B = np.array([0.05, 0.1, 0.2])
    n = helicon.density(B, 13.56e6, 20.0, 0.05)
    assert n.shape == (3,)
    assert n[1] == pytest.approx(helicon.density(0.1, 13.56e6, 20.0, 0.05), rel=1e-15)
    assert type(helicon.density(0.1, 13.56e6, 20.0, 0.05)) is float


def test_refuses_frequencies_at_or_above_the_electron_cyclotron_frequency(helicon):
    B = 0.01
    f_ce = E * B / M_E / (2 * math.pi)  # 280 MHz
    with pytest.raises(ValueError, match="cyclotron"):
        helicon.density(B, f_ce * 1.001, 20.0, 0.05)
    with pytest.raises(ValueError, match="cyclotron"):
        helicon.axial_wavenumber(1e18, B, f_ce, 0.05)
    assert helicon.density(B, f_ce * 0.5, 20.0, 0.05) > 0


@pytest.mark.parametrize("call, name", [
    (lambda h: h.density(0.0, 13.56e6, 20.0, 0.05), "B"),
    (lambda h: h.density(0.1, -1.0, 20.0, 0.05), "frequency"),
    (lambda h: h.density(0.1, 13.56e6, 0.0, 0.05), "k"),
    (lambda h: h.density(0.1, 13.56e6, 20.0, -0.05), "radius"),
    (lambda h: h.axial_wavenumber(float("inf"), 0.1, 13.56e6, 0.05), "n_e"),
])
def test_bad_input_names_the_parameter(helicon, call, name):
    with pytest.raises(ValueError, match=name):
        call(helicon)
