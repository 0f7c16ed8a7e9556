"""Write and execute the lab's API notebooks (api_notebooks/<name>/<version>.ipynb).

The committed ``.ipynb`` files are the product; this script is how they are authored, so that
the code shared by the langmuir versions stays identical between them (the semver check and the
results of pinned callers depend on it) and the narrative can be edited as text.

    python tools/build_api_notebooks.py                 # write + execute every notebook
    python tools/build_api_notebooks.py --validate      # ... and run the validation gate on each
    python tools/build_api_notebooks.py --no-execute    # write the sources only (no outputs)

Every notebook written is published into a scratch registry (the static publish checks,
semver against the version before it included), so a build that finishes is publishable.

Execution runs each notebook top to bottom in a fresh ``python3`` kernel with the gilgamesh
IPython extension loaded (``%load_ext gilgamesh`` through a scratch IPYTHONDIR) and
``GILGAMESH_REGISTRY`` pointing at a scratch registry into which the notebooks executed before it
were published: that is how ``from gilgamesh.api.plasma@1 import ...`` resolves, exactly as it
does under validation.
"""

from __future__ import annotations

import argparse
import base64
import os
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, field

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, "api_notebooks")
AUTHORS = ["Gilgamesh plasma lab"]
MAX_PNG_BYTES = 80_000


# ----------------------------------------------------------------------------------------------
# Notebook assembly
# ----------------------------------------------------------------------------------------------


@dataclass
class Source:
    name: str
    version: str
    summary: str
    endpoints: list[str]
    cells: list[tuple[str, str]] = field(default_factory=list)  # (kind, text); kind: md, code, example

    def md(self, text: str) -> None:
        self.cells.append(("md", textwrap.dedent(text).strip()))

    def code(self, text: str) -> None:
        self.cells.append(("code", textwrap.dedent(text).strip()))

    def example(self, text: str) -> None:
        self.cells.append(("example", textwrap.dedent(text).strip()))

    @property
    def path(self) -> str:
        return os.path.join(OUT_DIR, self.name, f"{self.version}.ipynb")


def to_notebook(src: Source):
    """The nbformat 4 notebook of a source, with stable cell ids (clean diffs between builds)."""
    from nbformat import v4

    cells = []
    for i, (kind, text) in enumerate(src.cells, start=1):
        cell_id = f"{src.name}-{i:02d}"
        if kind == "md":
            cell = v4.new_markdown_cell(text, id=cell_id)
        else:
            cell = v4.new_code_cell(text, id=cell_id)
            if kind == "example":
                cell.metadata["tags"] = ["example"]
        cells.append(cell)
    nb = v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.metadata["gilgamesh"] = {
        "name": src.name,
        "version": src.version,
        "summary": src.summary,
        "endpoints": list(src.endpoints),
        "authors": list(AUTHORS),
    }
    return nb


# ----------------------------------------------------------------------------------------------
# plasma 1.0.0
# ----------------------------------------------------------------------------------------------

PLASMA_SETUP = r'''
import numpy as np

__all__ = [
    "debye_length",
    "electron_plasma_frequency",
    "electron_cyclotron_frequency",
    "ion_cyclotron_frequency",
    "bohm_velocity",
    "electron_mean_speed",
]

# CODATA 2018 (Tiesinga et al., Rev. Mod. Phys. 93, 025010 (2021)); e is exact in the 2019 SI.
_E = 1.602176634e-19  # elementary charge [C]; also the joules in one eV
_M_E = 9.1093837015e-31  # electron mass [kg]
_AMU = 1.66053906660e-27  # atomic mass constant [kg]
_EPS0 = 8.8541878128e-12  # vacuum electric permittivity [F/m]


def _checked(name, value, unit, *, allow_zero=False):
    """``value`` as a float array; a ValueError naming the parameter if it is not > 0 (or >= 0)."""
    try:
        x = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number in {unit}, got {value!r}") from None
    ok = np.isfinite(x) & ((x >= 0) if allow_zero else (x > 0))
    if not np.all(ok):
        sign = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{name} must be {sign} and finite (in {unit}), got {value!r}")
    return x


def _result(x):
    """A Python float for scalar input; array input gives an array (every function broadcasts)."""
    return float(x) if np.ndim(x) == 0 else x
'''

PLASMA_DEBYE = r'''
def debye_length(T_e: float, n_e: float) -> float:
    """Electron Debye length [m].

    Parameters
    ----------
    T_e : float
        Electron temperature [eV].
    n_e : float
        Electron density [m^-3].

    Returns
    -------
    float
        lambda_D = sqrt(eps0 T_e / (e n_e)) with T_e in eV, in metres.

    Raises
    ------
    ValueError
        If T_e or n_e is not positive.
    """
    T = _checked("T_e", T_e, "eV")
    n = _checked("n_e", n_e, "m^-3")
    return _result(np.sqrt(_EPS0 * T / (_E * n)))
'''

PLASMA_PLASMA_FREQUENCY = r'''
def electron_plasma_frequency(n_e: float) -> float:
    """Electron plasma (Langmuir) angular frequency [rad/s].

    Parameters
    ----------
    n_e : float
        Electron density [m^-3].

    Returns
    -------
    float
        omega_pe = sqrt(n_e e^2 / (eps0 m_e)) in rad/s (divide by 2 pi for Hz).
    """
    n = _checked("n_e", n_e, "m^-3")
    return _result(np.sqrt(n * _E**2 / (_EPS0 * _M_E)))
'''

PLASMA_CYCLOTRON = r'''
def electron_cyclotron_frequency(B: float) -> float:
    """Electron cyclotron angular frequency [rad/s].

    Parameters
    ----------
    B : float
        Magnitude of the magnetic field [T] (zero allowed).

    Returns
    -------
    float
        omega_ce = e B / m_e in rad/s.
    """
    b = _checked("B", B, "T", allow_zero=True)
    return _result(_E * b / _M_E)


def ion_cyclotron_frequency(B: float, ion_mass_amu: float, Z: int = 1) -> float:
    """Ion cyclotron angular frequency [rad/s].

    Parameters
    ----------
    B : float
        Magnitude of the magnetic field [T] (zero allowed).
    ion_mass_amu : float
        Ion mass [u], e.g. 39.948 for Ar+.
    Z : int, optional
        Ion charge state (1 for singly charged ions).

    Returns
    -------
    float
        omega_ci = Z e B / m_i in rad/s.
    """
    b = _checked("B", B, "T", allow_zero=True)
    m = _checked("ion_mass_amu", ion_mass_amu, "u")
    z = _checked("Z", Z, "units of e")
    return _result(z * _E * b / (m * _AMU))
'''

PLASMA_SPEEDS = r'''
def bohm_velocity(T_e: float, ion_mass_amu: float) -> float:
    """Bohm (ion sound) speed for cold ions [m/s].

    Parameters
    ----------
    T_e : float
        Electron temperature [eV].
    ion_mass_amu : float
        Ion mass [u].

    Returns
    -------
    float
        u_B = sqrt(e T_e / m_i) in m/s (T_i << T_e assumed).
    """
    T = _checked("T_e", T_e, "eV")
    m = _checked("ion_mass_amu", ion_mass_amu, "u")
    return _result(np.sqrt(_E * T / (m * _AMU)))


def electron_mean_speed(T_e: float) -> float:
    """Mean speed of Maxwellian electrons [m/s].

    Parameters
    ----------
    T_e : float
        Electron temperature [eV].

    Returns
    -------
    float
        v_e = sqrt(8 e T_e / (pi m_e)) in m/s: the mean of |v| over a Maxwellian.
    """
    T = _checked("T_e", T_e, "eV")
    return _result(np.sqrt(8 * _E * T / (np.pi * _M_E)))
'''


def plasma_1_0_0() -> Source:
    s = Source(
        "plasma", "1.0.0",
        "Basic plasma parameters: Debye length, plasma and cyclotron frequencies, Bohm and electron mean speeds (SI, T in eV).",
        ["debye_length", "electron_plasma_frequency", "electron_cyclotron_frequency",
         "ion_cyclotron_frequency", "bohm_velocity", "electron_mean_speed"],
    )
    s.md(r"""
    # plasma: basic plasma parameters

    The handful of characteristic lengths, frequencies and speeds that every analysis in the lab
    starts from, computed one way, with one set of constants, so that two notebooks quoting a
    Debye length quote the same number. Other API notebooks build on it (`langmuir` uses
    `bohm_velocity` and `electron_mean_speed`, `helicon` the electron cyclotron frequency).

    ```python
    from gilgamesh.api.plasma@1 import debye_length, bohm_velocity   # in a notebook
    from gilgamesh.api.plasma.v1 import debye_length                 # in a script
    debye_length(T_e=3.0, n_e=1e17)                                   # 4.07e-05 m
    ```

    **Conventions.** SI units throughout, except that temperatures are given in electronvolts
    (the energy $k_B T$ expressed in eV, so that $k_B T_e = e\,T_e[\mathrm{eV}]$ in joules) and
    ion masses in unified atomic mass units (u). Frequencies are *angular* frequencies in rad/s;
    divide by $2\pi$ for Hz. Every function accepts numpy arrays as well as numbers and
    broadcasts; a number in gives a float out. A temperature, density or mass that is not
    positive raises `ValueError` naming the parameter.

    **Constants** are CODATA 2018 [1]: $e = 1.602176634\times10^{-19}$ C (exact),
    $m_e = 9.1093837015\times10^{-31}$ kg, $u = 1.66053906660\times10^{-27}$ kg,
    $\varepsilon_0 = 8.8541878128\times10^{-12}$ F/m.
    """)
    s.code(PLASMA_SETUP)
    s.md(r"""
    ## Debye length

    A test charge in a plasma is screened by the electrons it attracts or repels, within

    $$\lambda_D = \sqrt{\frac{\varepsilon_0 k_B T_e}{n_e e^2}} = \sqrt{\frac{\varepsilon_0\, T_e[\mathrm{eV}]}{e\, n_e}}.$$

    An ionized gas behaves as a plasma on scales $L \gg \lambda_D$ and when the Debye sphere
    holds many electrons, $n_e \lambda_D^3 \gg 1$. The sheath in front of a wall or a probe is a
    few $\lambda_D$ thick. Only electron screening is counted (ions colder than electrons screen
    little; the linearized Debye-Hückel treatment assumes $e\phi \ll k_B T_e$).
    """)
    s.code(PLASMA_DEBYE)
    s.md(r"""
    ## Electron plasma frequency

    Electrons displaced from the ions oscillate about them at

    $$\omega_{pe} = \sqrt{\frac{n_e e^2}{\varepsilon_0 m_e}}, \qquad f_{pe} = \frac{\omega_{pe}}{2\pi} \approx 8.98\sqrt{n_e[\mathrm{m^{-3}}]}\ \mathrm{Hz}.$$

    Electromagnetic waves below $\omega_{pe}$ do not propagate in an unmagnetized plasma (the
    cut-off used by microwave interferometry). Cold electrons, immobile ions.
    """)
    s.code(PLASMA_PLASMA_FREQUENCY)
    s.md(r"""
    ## Cyclotron frequencies

    A charged particle gyrates about a magnetic field $B$ at

    $$\omega_{ce} = \frac{eB}{m_e}, \qquad \omega_{ci} = \frac{Z e B}{m_i}, \quad m_i = A\,u .$$

    Non-relativistic ($T_e \ll 511$ keV). The field magnitude is used; the sense of gyration
    (electrons right-handed about $\mathbf{B}$) is not encoded in the sign. Helicon and whistler
    waves live between the two, $\omega_{ci} \ll \omega \ll \omega_{ce}$.
    """)
    s.code(PLASMA_CYCLOTRON)
    s.md(r"""
    ## Characteristic speeds

    **Bohm speed.** Ions enter a sheath no slower than the ion sound speed (Bohm criterion [3]);
    for cold ions ($T_i \ll T_e$)

    $$u_B = \sqrt{\frac{k_B T_e}{m_i}} = \sqrt{\frac{e\,T_e[\mathrm{eV}]}{m_i}} .$$

    With warm ions the sound speed is $\sqrt{(k_B T_e + \gamma_i k_B T_i)/m_i}$; this function
    does not include that correction.

    **Electron mean speed.** The mean of $|\mathbf v|$ over a Maxwellian distribution,

    $$\bar v_e = \sqrt{\frac{8 k_B T_e}{\pi m_e}},$$

    sets the random (thermal) electron flux to a wall, $\Gamma_e = \tfrac14 n_e \bar v_e$,
    which is the electron saturation current density of a Langmuir probe divided by $e$.
    """)
    s.code(PLASMA_SPEEDS)
    s.md(r"""
    ## Examples

    Typical numbers for the lab's plasmas: an argon RF discharge and a helicon source. The
    cell below runs only under validation and in Jupyter, not on import.
    """)
    s.example(r'''
    cases = [
        # name, T_e [eV], n_e [m^-3], B [T], ion mass [u]
        ("Ar RF discharge", 3.0, 1e16, 0.0, 39.948),
        ("Ar helicon", 4.0, 1e19, 0.1, 39.948),
        ("H tokamak edge", 20.0, 1e19, 2.0, 1.008),
    ]
    for label, T_e, n_e, B, mass in cases:
        print(f"{label}: T_e = {T_e:g} eV, n_e = {n_e:.0e} m^-3, B = {B:g} T, ion mass {mass:g} u")
        print(f"  Debye length               {debye_length(T_e, n_e):.4e} m")
        print(f"  electron plasma frequency  {electron_plasma_frequency(n_e) / (2 * np.pi):.4e} Hz")
        if B > 0:
            print(f"  electron cyclotron freq.   {electron_cyclotron_frequency(B) / (2 * np.pi):.4e} Hz")
            print(f"  ion cyclotron freq.        {ion_cyclotron_frequency(B, mass) / (2 * np.pi):.4e} Hz")
        print(f"  Bohm speed                 {bohm_velocity(T_e, mass):.4e} m/s")
        print(f"  electron mean speed        {electron_mean_speed(T_e):.4e} m/s")
    ''')
    s.md(r"""
    The functions broadcast over arrays, so a parameter scan is one call. The Debye length over
    the densities of laboratory plasmas, and the frequencies against the magnetic field:
    """)
    s.example(r'''
    import matplotlib.pyplot as plt

    n = np.logspace(14, 20, 100)
    B = np.linspace(0.0, 0.2, 100)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.4), dpi=72)
    for T_e in (1.0, 3.0, 10.0):
        ax1.loglog(n, debye_length(T_e, n), label=f"$T_e$ = {T_e:g} eV")
    ax1.set_xlabel("$n_e$ [m$^{-3}$]")
    ax1.set_ylabel(r"$\lambda_D$ [m]")
    ax1.legend()
    ax1.grid(True, which="both", alpha=0.3)
    ax2.semilogy(B[1:], electron_cyclotron_frequency(B[1:]) / (2 * np.pi), label=r"$f_{ce}$")
    ax2.semilogy(B[1:], ion_cyclotron_frequency(B[1:], 39.948) / (2 * np.pi), label=r"$f_{ci}$ (Ar$^+$)")
    ax2.axhline(13.56e6, color="k", ls="--", lw=1, label="13.56 MHz")
    ax2.set_xlabel("$B$ [T]")
    ax2.set_ylabel("frequency [Hz]")
    ax2.set_ylim(10, 1e11)
    ax2.legend(loc="lower right")
    ax2.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    plt.show()
    ''')
    s.md(r"""
    ## Validity

    Classical, non-relativistic, Maxwellian electrons; cold ions for the Bohm speed; singly
    charged ions unless `Z` says otherwise. The formulas are exact within those assumptions; the
    only numerical input is the constants.

    ## References

    1. E. Tiesinga, P. J. Mohr, D. B. Newell and B. N. Taylor, *CODATA recommended values of the
       fundamental physical constants: 2018*, Rev. Mod. Phys. **93**, 025010 (2021).
    2. F. F. Chen, *Introduction to Plasma Physics and Controlled Fusion*, 3rd ed., Springer (2016),
       chapters 1-4.
    3. D. Bohm, in *The Characteristics of Electrical Discharges in Magnetic Fields*, ed.
       A. Guthrie and R. K. Wakerling, McGraw-Hill (1949), chapter 3.
    4. J. D. Huba, *NRL Plasma Formulary*, Naval Research Laboratory (2019).

    ## Changelog

    - **1.0.0**: first release.
    """)
    return s


# ----------------------------------------------------------------------------------------------
# langmuir 1.0.0, 1.1.0, 1.2.0, 2.0.0
# ----------------------------------------------------------------------------------------------

# Each public function's code is shared verbatim between the versions that have it.

LM_CHECKS = r'''
def _checked(name, value, unit):
    """``value`` as a float array; a ValueError naming the parameter if it is not positive."""
    try:
        x = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number in {unit}, got {value!r}") from None
    if not np.all(np.isfinite(x) & (x > 0)):
        raise ValueError(f"{name} must be positive and finite (in {unit}), got {value!r}")
    return x


def _result(x):
    """A Python float for scalar input; array input gives an array."""
    return float(x) if np.ndim(x) == 0 else x
'''

LM_ION_DENSITY = r'''
def ion_density(I_sat: float, T_e: float, area: float, ion_mass_amu: float) -> float:
    """Ion density from the ion saturation current of a planar probe [m^-3].

    Parameters
    ----------
    I_sat : float
        Magnitude of the ion saturation current [A] (positive; on the characteristic the ion
        branch is at I = -I_sat, since electron collection counts positive).
    T_e : float
        Electron temperature [eV].
    area : float
        Collecting area of the probe [m^2].
    ion_mass_amu : float
        Ion mass [u].

    Returns
    -------
    float
        n_i = I_sat / (0.61 e A u_B), with the Bohm speed u_B from plasma@1.
    """
    I = _checked("I_sat", I_sat, "A")
    A = _checked("area", area, "m^2")
    u_B = bohm_velocity(T_e, ion_mass_amu)  # checks T_e and ion_mass_amu
    return _result(I / (_SHEATH_EDGE_FACTOR * _E * A * u_B))
'''

LM_FIT = r'''
_MIN_POINTS = 20  # fewer points cannot pin down four fit parameters against noise
# How many noise variances the fit must explain beyond a constant current: the search over
# (V_p, T_e) finds about 10-30 in pure noise; a real characteristic explains thousands.
_SIGNIFICANCE = 100.0


class _Fit(NamedTuple):
    """Least-squares parameters of the ideal characteristic, with what is needed to judge them."""

    I_sat: float  # A
    I_es: float  # A
    V_p: float  # V
    T_e: float  # eV
    V: np.ndarray  # the sorted bias voltages [V]
    I: np.ndarray  # the currents in the same order [A]
    rss: float  # residual sum of squares [A^2]


def _characteristic(V, I):
    """Validated float arrays of one I-V characteristic, sorted by bias voltage."""
    try:
        V = np.asarray(V, dtype=float)
        I = np.asarray(I, dtype=float)
    except (TypeError, ValueError):
        raise ValueError("V and I must be sequences of numbers (volts and amperes)") from None
    if V.ndim != 1 or I.ndim != 1 or V.shape != I.shape:
        raise ValueError(f"V and I must be one-dimensional and of equal length, got shapes {V.shape} and {I.shape}")
    if V.size < _MIN_POINTS:
        raise ValueError(f"a characteristic needs at least {_MIN_POINTS} points, got {V.size}")
    if not (np.all(np.isfinite(V)) and np.all(np.isfinite(I))):
        raise ValueError("V and I must be finite numbers (no NaN or infinity)")
    order = np.argsort(V, kind="stable")
    V, I = V[order], I[order]
    if V[-1] <= V[0]:
        raise ValueError("the bias voltages V must span a range; all points are at one voltage")
    return V, I


def _electron_factor(V, V_p, T_e):
    """The electron current over I_es: exp((V - V_p) / T_e) below the knee, 1 above it."""
    return np.exp(np.minimum(V - V_p, 0.0) / T_e)


def _model(V, p):
    I_sat, I_es, V_p, T_e = p
    return -I_sat + I_es * _electron_factor(V, V_p, T_e)


def _jacobian(V, p):
    """d(model)/d(I_sat, I_es, V_p, T_e), one row per point."""
    I_sat, I_es, V_p, T_e = p
    g = _electron_factor(V, V_p, T_e)
    below = V < V_p
    return np.column_stack([
        -np.ones_like(V),
        g,
        np.where(below, -I_es * g / T_e, 0.0),
        np.where(below, -I_es * g * (V - V_p) / T_e**2, 0.0),
    ])


def _profile_rss(V, I, V_p, T_e):
    """Residual sum of squares at one knee V_p for each T_e, with I_sat and I_es solved exactly.

    For a given knee and temperature the model is linear in I_sat and I_es, so those two are
    eliminated in closed form (variable projection) and only (V_p, T_e) need searching.
    """
    g = _electron_factor(V[None, :], V_p, T_e[:, None])
    g = g - g.mean(axis=1, keepdims=True)
    Ic = I - I.mean()
    s_gg = np.einsum("ij,ij->i", g, g)
    s_gI = g @ Ic
    with np.errstate(divide="ignore", invalid="ignore"):
        rss = Ic @ Ic - s_gI**2 / s_gg
    # An electron current that falls with bias (I_es <= 0), or a flat model, explains nothing.
    return np.where((s_gg > 0) & (s_gI > 0), rss, Ic @ Ic)


def _gauss_newton(V, I, p):
    """Gauss-Newton steps (halved until the residual falls) from a start near the minimum."""
    rss = float(np.sum((I - _model(V, p)) ** 2))
    for _ in range(50):
        J = _jacobian(V, p)
        scale = np.linalg.norm(J, axis=0)
        scale[scale == 0] = 1.0  # a parameter no point depends on (knee beyond the sweep)
        step = np.linalg.lstsq(J / scale, I - _model(V, p), rcond=None)[0] / scale
        for _ in range(30):
            trial = p + step
            if trial[3] > 0:
                trial_rss = float(np.sum((I - _model(V, trial)) ** 2))
                if trial_rss <= rss:
                    break
            step = step / 2
        else:
            break  # no step lowers the residual: this is the minimum
        done = rss - trial_rss <= 1e-12 * rss
        p, rss = trial, trial_rss
        if done:
            break
    return p, rss


def _fit_characteristic(V, I) -> _Fit:
    """Least-squares fit of I = -I_sat + I_es exp(min(V - V_p, 0) / T_e) to a characteristic.

    A grid over (V_p, log T_e), refined around its best point, finds the basin; Gauss-Newton
    on all four parameters then settles on the minimum.
    """
    V, I = _characteristic(V, I)
    scale = np.max(np.abs(I))
    if scale == 0:
        raise ValueError("the current is zero everywhere: there is no characteristic to fit")
    Is = I / scale  # currents of order one keep the numerics independent of the probe size
    span = V[-1] - V[0]
    knees = np.linspace(V[0], V[-1], 61)
    log_T = np.linspace(np.log(span / 1000), np.log(span), 41)
    d_knee, d_log_T = knees[1] - knees[0], log_T[1] - log_T[0]
    lowest_log_T, highest_log_T = log_T[0], log_T[-1]
    for _ in range(6):
        rss = np.array([_profile_rss(V, Is, knee, np.exp(log_T)) for knee in knees])
        i, j = np.unravel_index(np.argmin(rss), rss.shape)
        knee, log_t = knees[i], log_T[j]
        knees = np.clip(np.linspace(knee - 2 * d_knee, knee + 2 * d_knee, 11), V[0], V[-1])
        log_T = np.linspace(log_t - 2 * d_log_T, log_t + 2 * d_log_T, 11)
        d_knee, d_log_T = 0.4 * d_knee, 0.4 * d_log_T
    T = float(np.exp(log_t))
    g = _electron_factor(V, knee, T)
    amplitudes = np.linalg.lstsq(np.column_stack([-np.ones_like(g), g]), Is, rcond=None)[0]
    p, rss = _gauss_newton(V, Is, np.array([amplitudes[0], amplitudes[1], knee, T]))
    I_sat, I_es, V_p, T_e = p
    below_knee = int(np.count_nonzero(V < V_p))
    # The searched model always explains a little noise; a characteristic explains far more
    # than a constant current would, by many times the noise variance.
    explained = float(np.sum((Is - Is.mean()) ** 2)) - rss
    noise_variance = rss / (V.size - 4)
    significant = explained > _SIGNIFICANCE * noise_variance
    if not I_es > 0 or below_knee < 5 or not significant or log_t >= highest_log_T - 1e-9 or T_e > span / 2:
        raise ValueError(
            f"no exponential electron-retardation region found: the sweep ({V[0]:g} to {V[-1]:g} V) "
            "must rise exponentially over at least a few electron temperatures"
        )
    if log_t <= lowest_log_T + 1e-9:
        raise ValueError("the current jumps in one step: the sweep is too coarse to resolve T_e")
    return _Fit(float(I_sat * scale), float(I_es * scale), float(V_p), float(T_e), V, I, float(rss * scale**2))
'''

LM_FIT_CHECKS = r'''
def _require_knee(fit: _Fit) -> None:
    """Refuse a fit whose knee is not inside the sweep: then V_p and I_es are not measured."""
    above = int(np.count_nonzero(fit.V > fit.V_p))
    if above < 3:
        raise ValueError(
            f"no electron saturation branch: the sweep ends at {fit.V[-1]:g} V, at or below the knee "
            f"(fitted V_p = {fit.V_p:g} V); extend the sweep above the plasma potential"
        )


def _require_ion_branch(fit: _Fit) -> None:
    """Refuse a fit without a negative ion saturation current."""
    if not fit.I_sat > 0:
        raise ValueError(
            "no ion saturation branch: the fitted ion current is not negative; the sweep must start "
            "well below the floating potential (where I < 0)"
        )
'''

LM_ELECTRON_TEMPERATURE = r'''
def electron_temperature(V: list[float], I: list[float]) -> float:
    """Electron temperature [eV] from the exponential (electron-retardation) region of a characteristic.

    Fits the ideal planar-probe characteristic I = -I_sat + I_es exp((V - V_p) / T_e) (flat
    above the knee V_p) by least squares to all points; T_e is the e-folding voltage of the
    electron current. The sweep need not reach electron saturation.

    Parameters
    ----------
    V : list[float]
        Probe bias voltages [V], in any order.
    I : list[float]
        Probe currents [A] at those voltages, electron collection positive.

    Returns
    -------
    float
        T_e [eV].

    Raises
    ------
    ValueError
        If the arrays are malformed (fewer than 20 points, unequal lengths, NaN) or no
        exponential region is found.
    """
    return _fit_characteristic(V, I).T_e
'''

LM_POTENTIALS = r'''
def floating_potential(V: list[float], I: list[float]) -> float:
    """Floating potential [V]: the bias at which the probe draws no net current.

    Taken from the fitted characteristic, V_f = V_p - T_e ln(I_es / I_sat), which uses every
    point instead of the few noisy ones around the zero crossing.

    Parameters
    ----------
    V : list[float]
        Probe bias voltages [V].
    I : list[float]
        Probe currents [A], electron collection positive.

    Returns
    -------
    float
        V_f [V].
    """
    fit = _fit_characteristic(V, I)
    _require_ion_branch(fit)
    return float(fit.V_p - fit.T_e * np.log(fit.I_es / fit.I_sat))


def plasma_potential(V: list[float], I: list[float]) -> float:
    """Plasma potential [V]: the knee between the exponential region and electron saturation.

    Parameters
    ----------
    V : list[float]
        Probe bias voltages [V]; the sweep must extend above the knee.
    I : list[float]
        Probe currents [A], electron collection positive.

    Returns
    -------
    float
        V_p [V].
    """
    fit = _fit_characteristic(V, I)
    _require_knee(fit)
    return fit.V_p
'''

LM_SYNTHETIC = r'''
def synthetic_iv(
    V: list[float], n_e: float, T_e: float, V_p: float, area: float, ion_mass_amu: float
) -> np.ndarray:
    """The ideal characteristic of a planar probe in a Maxwellian plasma [A].

    I = -I_sat + I_es exp((V - V_p) / T_e) below V_p and -I_sat + I_es above it, with
    I_sat = 0.61 n_e e A u_B and I_es = n_e e A v_e / 4 (quasi-neutral: n_i = n_e).

    Parameters
    ----------
    V : list[float]
        Probe bias voltages [V].
    n_e : float
        Plasma density [m^-3].
    T_e : float
        Electron temperature [eV].
    V_p : float
        Plasma potential [V].
    area : float
        Collecting area [m^2].
    ion_mass_amu : float
        Ion mass [u].

    Returns
    -------
    numpy.ndarray
        The current at each voltage [A], electron collection positive.
    """
    V = np.asarray(V, dtype=float)
    n = _checked("n_e", n_e, "m^-3")
    A = _checked("area", area, "m^2")
    if not np.isfinite(V_p):
        raise ValueError(f"V_p must be a finite voltage, got {V_p!r}")
    I_sat = _SHEATH_EDGE_FACTOR * n * _E * A * bohm_velocity(T_e, ion_mass_amu)
    I_es = 0.25 * n * _E * A * electron_mean_speed(T_e)
    return -I_sat + I_es * _electron_factor(V, V_p, T_e)
'''

LM_ANALYZE_1 = r'''
def analyze(V: list[float], I: list[float], area: float, ion_mass_amu: float) -> dict[str, float]:
    """Plasma parameters from one planar-probe characteristic.

    Parameters
    ----------
    V : list[float]
        Probe bias voltages [V]; the sweep should run from well below the floating potential
        to above the plasma potential.
    I : list[float]
        Probe currents [A], electron collection positive.
    area : float
        Collecting area of the probe [m^2].
    ion_mass_amu : float
        Ion mass [u].

    Returns
    -------
    dict[str, float]
        ``T_e`` [eV]; ``n_e`` [m^-3] from the electron saturation current,
        n_e = 4 I_es / (e A v_e); ``n_i`` [m^-3] from the ion saturation current (see
        ``ion_density``); ``V_f`` and ``V_p`` [V]; ``I_sat`` and ``I_es`` [A] (magnitudes).

    Raises
    ------
    ValueError
        If the arrays are malformed, or the sweep lacks the ion branch, the exponential region
        or the electron saturation branch.
    """
    A = _checked("area", area, "m^2")
    fit = _fit_characteristic(V, I)
    _require_knee(fit)
    _require_ion_branch(fit)
    return {
        "T_e": fit.T_e,
        "n_e": float(4 * fit.I_es / (_E * A * electron_mean_speed(fit.T_e))),
        "n_i": ion_density(fit.I_sat, fit.T_e, area, ion_mass_amu),
        "V_f": float(fit.V_p - fit.T_e * np.log(fit.I_es / fit.I_sat)),
        "V_p": fit.V_p,
        "I_sat": fit.I_sat,
        "I_es": fit.I_es,
    }
'''

LM_ANALYZE_2 = r'''
@dataclass(frozen=True)
class ProbeAnalysis:
    """Plasma parameters read from one characteristic, each with its standard error.

    ``T_e`` [eV]; ``n_e`` [m^-3] from the electron saturation current; ``n_i`` [m^-3] from the
    ion saturation current; ``V_f`` and ``V_p`` [V]; ``I_sat`` and ``I_es`` [A] (magnitudes).
    Every ``X_err`` is the one-standard-deviation uncertainty of ``X`` from the covariance of
    the least-squares fit (statistical only: it does not cover the model's assumptions).
    """

    T_e: float
    T_e_err: float
    n_e: float
    n_e_err: float
    n_i: float
    n_i_err: float
    V_f: float
    V_f_err: float
    V_p: float
    V_p_err: float
    I_sat: float
    I_sat_err: float
    I_es: float
    I_es_err: float

    def to_dict(self) -> dict[str, float]:
        """The fields as a plain dict (what the ``analyze_dict`` endpoint returns)."""
        return asdict(self)

    def __str__(self) -> str:
        units = {"T_e": "eV", "n_e": "m^-3", "n_i": "m^-3", "V_f": "V", "V_p": "V", "I_sat": "A", "I_es": "A"}
        return "\n".join(
            f"{name:>5} = {getattr(self, name):.4g} +/- {getattr(self, name + '_err'):.2g} {unit}"
            for name, unit in units.items()
        )


def _covariance(fit: _Fit) -> np.ndarray:
    """Covariance of (I_sat, I_es, V_p, T_e): s^2 (J^T J)^-1, s^2 the residual variance."""
    p = np.array([fit.I_sat, fit.I_es, fit.V_p, fit.T_e])
    J = _jacobian(fit.V, p)
    scale = np.linalg.norm(J, axis=0)
    s2 = fit.rss / (fit.V.size - p.size)
    return s2 * np.linalg.pinv((J / scale).T @ (J / scale)) / np.outer(scale, scale)


def analyze(V: list[float], I: list[float], *, area: float, ion_mass_amu: float) -> ProbeAnalysis:
    """Plasma parameters, with uncertainties, from one planar-probe characteristic.

    Parameters
    ----------
    V : list[float]
        Probe bias voltages [V]; the sweep should run from well below the floating potential
        to above the plasma potential.
    I : list[float]
        Probe currents [A], electron collection positive.
    area : float, keyword-only
        Collecting area of the probe [m^2].
    ion_mass_amu : float, keyword-only
        Ion mass [u].

    Returns
    -------
    ProbeAnalysis
        T_e, n_e, n_i, V_f, V_p, I_sat, I_es and their standard errors.

    Raises
    ------
    ValueError
        If the arrays are malformed, or the sweep lacks the ion branch, the exponential region
        or the electron saturation branch.
    """
    A = _checked("area", area, "m^2")
    fit = _fit_characteristic(V, I)
    _require_knee(fit)
    _require_ion_branch(fit)
    cov = _covariance(fit)
    n_e = float(4 * fit.I_es / (_E * A * electron_mean_speed(fit.T_e)))
    n_i = ion_density(fit.I_sat, fit.T_e, area, ion_mass_amu)
    V_f = float(fit.V_p - fit.T_e * np.log(fit.I_es / fit.I_sat))
    # Linear error propagation: gradients with respect to (I_sat, I_es, V_p, T_e).
    gradients = {
        "n_e": [0.0, n_e / fit.I_es, 0.0, -n_e / (2 * fit.T_e)],
        "n_i": [n_i / fit.I_sat, 0.0, 0.0, -n_i / (2 * fit.T_e)],
        "V_f": [fit.T_e / fit.I_sat, -fit.T_e / fit.I_es, 1.0, -np.log(fit.I_es / fit.I_sat)],
    }
    err = {name: float(np.sqrt(np.dot(g, cov @ g))) for name, g in gradients.items()}
    sd = np.sqrt(np.diag(cov))
    return ProbeAnalysis(
        T_e=fit.T_e, T_e_err=float(sd[3]),
        n_e=n_e, n_e_err=err["n_e"],
        n_i=n_i, n_i_err=err["n_i"],
        V_f=V_f, V_f_err=err["V_f"],
        V_p=fit.V_p, V_p_err=float(sd[2]),
        I_sat=fit.I_sat, I_sat_err=float(sd[0]),
        I_es=fit.I_es, I_es_err=float(sd[1]),
    )


def analyze_dict(V: list[float], I: list[float], *, area: float, ion_mass_amu: float) -> dict[str, float]:
    """``analyze(...).to_dict()``: the same analysis as a plain dict, for HTTP and JSON callers.

    The keys are those of langmuir 1.x's ``analyze`` plus the standard errors ``T_e_err``,
    ``n_e_err``, ``n_i_err``, ``V_f_err``, ``V_p_err``, ``I_sat_err`` and ``I_es_err``.
    """
    return analyze(V, I, area=area, ion_mass_amu=ion_mass_amu).to_dict()
'''

LANGMUIR_SUMMARY = {
    "1.0.0": "Planar Langmuir probe: ion density from the ion saturation current (Bohm flux).",
    "1.1.0": "Planar Langmuir probe: ion density from the ion saturation current; electron temperature from the exponential region.",
    "1.2.0": "Planar Langmuir probe analysis: T_e, n_e, floating and plasma potentials from an I-V characteristic, and synthetic characteristics.",
    "2.0.0": "Planar Langmuir probe analysis with uncertainties: T_e, n_e, V_f, V_p from an I-V characteristic, returned as a ProbeAnalysis.",
}

LANGMUIR_ENDPOINTS = {
    "1.0.0": ["ion_density"],
    "1.1.0": ["ion_density", "electron_temperature"],
    "1.2.0": ["analyze", "ion_density", "electron_temperature", "floating_potential", "plasma_potential", "synthetic_iv"],
    "2.0.0": ["analyze_dict", "ion_density", "electron_temperature", "floating_potential", "plasma_potential", "synthetic_iv"],
}

LANGMUIR_PUBLIC = {
    "1.0.0": ["ion_density"],
    "1.1.0": ["ion_density", "electron_temperature"],
    "1.2.0": ["ion_density", "electron_temperature", "floating_potential", "plasma_potential", "synthetic_iv", "analyze"],
    "2.0.0": ["ion_density", "electron_temperature", "floating_potential", "plasma_potential", "synthetic_iv",
              "analyze", "analyze_dict", "ProbeAnalysis"],
}

LANGMUIR_CHANGELOG = r"""
- **2.0.0** (breaking): `analyze` takes the probe parameters `area` and `ion_mass_amu` as
  keyword-only arguments and returns a `ProbeAnalysis` with a standard error for every
  quantity; `analyze_dict` (the HTTP endpoint) returns the same as a dict. See *Migrating from
  1.x*.
- **1.2.0**: adds `analyze`, `floating_potential`, `plasma_potential` and `synthetic_iv`.
- **1.1.0**: adds `electron_temperature`.
- **1.0.0**: first release: `ion_density`.
"""

LANGMUIR_REFERENCES = r"""
## References

1. I. Langmuir and H. M. Mott-Smith, *The theory of collectors in gaseous discharges*,
   Phys. Rev. **28**, 727 (1926).
2. D. Bohm, in *The Characteristics of Electrical Discharges in Magnetic Fields*, ed. A. Guthrie
   and R. K. Wakerling, McGraw-Hill (1949), chapter 3.
3. F. F. Chen, *Langmuir probe diagnostics*, mini-course on plasma diagnostics, IEEE ICOPS,
   Jeju, Korea (2003).
4. R. L. Merlino, *Understanding Langmuir probe current-voltage characteristics*,
   Am. J. Phys. **75**, 1078 (2007).
5. I. H. Hutchinson, *Principles of Plasma Diagnostics*, 2nd ed., Cambridge University Press
   (2002), chapter 3.
6. G. H. Golub and V. Pereyra, *The differentiation of pseudo-inverses and nonlinear least
   squares problems whose variables separate*, SIAM J. Numer. Anal. **10**, 413 (1973).
"""


def _langmuir_setup(version: str) -> str:
    plasma_names = "bohm_velocity" if version in ("1.0.0", "1.1.0") else "bohm_velocity, electron_mean_speed"
    lines = []
    if version == "2.0.0":
        lines.append("from dataclasses import asdict, dataclass")
    if version != "1.0.0":
        lines.append("from typing import NamedTuple")
    if lines:
        lines.append("")
    lines += [
        "import numpy as np",
        "",
        f"from gilgamesh.api.plasma@1 import {plasma_names}",
        "",
        "__all__ = [" + ", ".join(f'"{n}"' for n in LANGMUIR_PUBLIC[version]) + "]",
        "",
        "_E = 1.602176634e-19  # elementary charge [C] (exact, SI 2019); also the joules in one eV",
        "# The density at the sheath edge is exp(-1/2) = 0.607 of the bulk density after the",
        "# presheath drop of T_e / 2 that accelerates ions to the Bohm speed; quoted as 0.61.",
        "_SHEATH_EDGE_FACTOR = 0.61",
    ]
    return "\n".join(lines) + "\n\n" + textwrap.dedent(LM_CHECKS).strip()


def _langmuir_intro(version: str) -> str:
    what = {
        "1.0.0": """
            The ion density from the ion saturation current of a planar probe, `ion_density`.
            Later versions analyze the whole characteristic.""",
        "1.1.0": """
            The ion density from the ion saturation current (`ion_density`) and the electron
            temperature from the exponential region of the characteristic
            (`electron_temperature`).""",
        "1.2.0": """
            The analysis of a whole current-voltage characteristic of a planar probe: electron
            temperature, density, floating and plasma potentials (`analyze`, and each quantity on
            its own), and the ideal characteristic itself (`synthetic_iv`) to test an analysis
            against.""",
        "2.0.0": """
            The analysis of a whole current-voltage characteristic of a planar probe, now with
            uncertainties: `analyze` returns a `ProbeAnalysis` holding the electron temperature,
            the densities, the floating and plasma potentials and the standard error of each.
            Also the single quantities (`electron_temperature`, `floating_potential`,
            `plasma_potential`, `ion_density`) and the ideal characteristic (`synthetic_iv`).""",
    }[version]
    call = {
        "1.0.0": "n_i = ion_density(I_sat=2e-4, T_e=3.0, area=1e-5, ion_mass_amu=39.948)",
        "1.1.0": "T_e = electron_temperature(V, I)",
        "1.2.0": 'result = analyze(V, I, area=1e-5, ion_mass_amu=39.948)   # result["T_e"], result["n_e"], ...',
        "2.0.0": "result = analyze(V, I, area=1e-5, ion_mass_amu=39.948)   # result.T_e, result.T_e_err, ...",
    }[version]
    first = LANGMUIR_PUBLIC[version][-1] if version != "2.0.0" else "analyze"
    major_minor = ".".join(version.split(".")[:2])
    return f"""
# langmuir: planar Langmuir probe in a Maxwellian plasma

{textwrap.dedent(what).strip()}

```python
from gilgamesh.api.langmuir@{major_minor} import {first}   # in a notebook
from gilgamesh.api.langmuir.v{major_minor.replace('.', '_')} import {first}   # in a script
{call}
```

**Conventions.** SI units; temperatures in eV; ion masses in u; the probe current is
*positive for electron collection* (electrons flowing into the probe), so the ion saturation
branch lies at $I = -I_\\mathrm{{sat}} < 0$. The plasma parameters (Bohm speed, electron mean
speed) come from `plasma@1`, so this notebook and any other using `plasma@1` agree on
constants.
"""


LANGMUIR_THEORY = r"""
## Theory: the planar probe characteristic

A probe of collecting area $A$ biased at $V$ draws ions and electrons through a sheath a few
Debye lengths thick. For a planar probe in a collisionless, unmagnetized plasma of density $n$
with Maxwellian electrons of temperature $T_e$ and cold ions ($T_i \ll T_e$) [1-5]:

**Ion saturation.** Well below the plasma potential $V_p$ all electrons but the fastest are
repelled and the probe collects the ion flux that enters the sheath. By the Bohm criterion [2]
ions arrive at the sheath edge at the Bohm speed $u_B = \sqrt{e T_e/m_i}$, having fallen
through a presheath of $T_e/2$ in which the density drops by the Boltzmann factor
$e^{-1/2} \approx 0.61$:

$$I_\mathrm{sat} = 0.61\, n\, e\, A\, u_B \quad\Longrightarrow\quad n_i = \frac{I_\mathrm{sat}}{0.61\, e A u_B}.$$

Since $u_B \propto \sqrt{T_e}$, the density needs $T_e$: a 20 % error in $T_e$ is a 10 % error in $n$.
"""

LANGMUIR_THEORY_ELECTRONS = r"""
**Electron retardation.** Between the floating and the plasma potential the sheath repels
electrons; only those with enough energy reach the probe, and for a Maxwellian the electron
current falls exponentially below $V_p$:

$$I_e(V) = I_\mathrm{es} \exp\!\left(\frac{V - V_p}{T_e}\right), \qquad V < V_p,$$

with $T_e$ in eV. The e-folding voltage of the electron current *is* the electron temperature,
independent of the probe area and of the density.

**Electron saturation.** Above $V_p$ the probe collects the random electron flux,

$$I_\mathrm{es} = \tfrac14\, n\, e\, A\, \bar v_e, \qquad \bar v_e = \sqrt{\frac{8 e T_e}{\pi m_e}} ,$$

flat for a planar probe (no sheath expansion). The *knee* between the exponential region and
saturation marks $V_p$.

**Floating potential.** The probe draws no net current at $V_f$, where $I_e = I_\mathrm{sat}$:

$$V_f = V_p - T_e \ln\frac{I_\mathrm{es}}{I_\mathrm{sat}} = V_p - T_e \ln\!\left(\frac{1}{0.61}\sqrt{\frac{m_i}{2\pi m_e}}\right) \approx V_p - 5.2\,T_e \ \text{(argon)}.$$

The whole ideal characteristic is

$$I(V) = -I_\mathrm{sat} + I_\mathrm{es}\exp\!\left(\frac{\min(V - V_p,\,0)}{T_e}\right).$$
"""

LANGMUIR_METHOD = r"""
### Fitting the characteristic

Taking the logarithm of the electron current and fitting a straight line by hand-picked
region is the textbook recipe, but the logarithm of a noisy current near the floating
potential is biased and the choice of region changes the answer. Instead every point is fitted
at once to the ideal characteristic above by least squares, with four parameters
$(I_\mathrm{sat}, I_\mathrm{es}, V_p, T_e)$. For a fixed knee $V_p$ and temperature $T_e$ the
model is linear in the two currents, which are then eliminated in closed form (variable
projection [6]); a grid over $(V_p, \ln T_e)$, refined six times around its best point, finds
the basin of the minimum without a starting guess, and Gauss-Newton on all four parameters
settles on it. The *regions* of the characteristic follow from the fit: ion saturation below
$V_f$, the exponential region between $V_f$ and $V_p$, electron saturation above $V_p$.

Needs: at least 20 points, an exponential region spanning at least a few $T_e$; for the
potentials and densities, a sweep from below $V_f$ to above $V_p$. A sweep that does not reach
a region raises `ValueError` saying which one is missing.
"""

LANGMUIR_VALIDITY = r"""
## Assumptions and validity

- **Thin, collisionless sheath:** $\lambda_D \ll$ probe size (planar collection, no sheath
  expansion) and mean free path $\gg \lambda_D$. Cylindrical and spherical probes, whose ion
  and electron currents keep growing with bias (orbital motion limited), are outside this model.
- **Maxwellian electrons** (bi-Maxwellian or beam populations bend the semilog plot), **cold
  ions** $T_i \ll T_e$, singly charged, one ion species.
- **Unmagnetized** for the electron side: in a magnetic field where the electron Larmor radius
  is comparable to the probe, the electron saturation current is depleted, and `n_e` from
  $I_\mathrm{es}$ underestimates the density; trust `n_i` from $I_\mathrm{sat}$ there.
- **The probe does not perturb the plasma**: its electron saturation current must be small
  against what the walls can return, roughly $A/A_\mathrm{wall} \ll \sqrt{2\pi m_e/m_i}$.
- Clean probe surface, no secondary emission, a sweep slow against the probe's RC time and
  against RF fluctuations of the plasma potential (use RF compensation in RF discharges).

`n_e` (from $I_\mathrm{es}$) and `n_i` (from $I_\mathrm{sat}$) agree in a plasma where all of the
above holds; their ratio is a quick check of the assumptions.
"""

LANGMUIR_MIGRATION = r"""
## Migrating from 1.x

Version 2.0 changes how `analyze` is called and what it returns, so a pinned `langmuir@1.2`
caller is never broken silently: it keeps importing 1.2 until it chooses to move.

| | 1.x | 2.0 |
|---|---|---|
| call | `analyze(V, I, 1e-5, 39.948)` (positional allowed) | `analyze(V, I, area=1e-5, ion_mass_amu=39.948)` (keyword-only) |
| result | `dict` | `ProbeAnalysis` (frozen dataclass) |
| a value | `r["T_e"]` | `r.T_e` |
| its uncertainty | not available | `r.T_e_err` |
| as a dict | `r` | `r.to_dict()` (the 1.x keys plus `*_err`) |
| over HTTP | `POST /models/langmuir/1/analyze` | `POST /models/langmuir/2/analyze_dict`, same body |

Why keyword-only: `area` and `ion_mass_amu` are both plain floats, and swapping them silently
gives a density off by orders of magnitude; a keyword makes the call say what it means.
Why a dataclass: attribute access, autocompletion, and a place for the uncertainties.

```python
# before (langmuir@1.2)
from gilgamesh.api.langmuir@1.2 import analyze
r = analyze(V, I, 1e-5, 39.948)
print(r["T_e"], r["n_e"])

# after (langmuir@2.0)
from gilgamesh.api.langmuir@2.0 import analyze
r = analyze(V, I, area=1e-5, ion_mass_amu=39.948)
print(r.T_e, "+/-", r.T_e_err, r.n_e)
legacy = r.to_dict()   # a dict with the 1.x keys, if downstream code wants one
```

The numbers are the same: 2.0 runs the same fit as 1.2, so `r.T_e == analyze_1_2(...)["T_e"]`.
The single-quantity functions (`ion_density`, `electron_temperature`, `floating_potential`,
`plasma_potential`, `synthetic_iv`) are unchanged.

The uncertainties are the statistical errors of the fit, $s^2 (J^\top J)^{-1}$ with $s^2$ the
residual variance and $J$ the Jacobian at the minimum, propagated linearly to $n_e$, $n_i$ and
$V_f$. They assume independent Gaussian noise and the model above; they say nothing about
systematic errors (a sloped ion branch, a non-Maxwellian tail, the 0.61 factor).
"""

LM_EXAMPLE_1_0 = r'''
I_sat = 2.0e-4  # A, measured ion saturation current
area = 1.0e-5  # m^2, a 3.6 mm diameter disc
T_e = 3.0  # eV
for gas, mass in [("H", 1.008), ("He", 4.0026), ("Ar", 39.948), ("Xe", 131.29)]:
    print(f"{gas:>2}: n_i = {ion_density(I_sat, T_e, area, mass):.4e} m^-3")
'''

LM_EXAMPLE_1_0_PLOT = r'''
import matplotlib.pyplot as plt

T = np.linspace(0.5, 10.0, 200)
n = ion_density(I_sat, T, area, 39.948)
fig, ax = plt.subplots(figsize=(6, 3.4), dpi=72)
ax.plot(T, n / 1e16)
ax.axvline(3.0, color="k", ls=":", lw=1)
ax.set_xlabel("assumed $T_e$ [eV]")
ax.set_ylabel(r"$n_i$ [$10^{16}$ m$^{-3}$]")
ax.set_title(r"Ar$^+$, $I_\mathrm{sat}$ = 0.2 mA, A = 10 mm$^2$: $n_i \propto T_e^{-1/2}$")
ax.grid(True, alpha=0.3)
fig.tight_layout()
plt.show()
'''

LM_EXAMPLE_1_1 = r'''
# A synthetic argon characteristic with 2 % Gaussian noise (of the full scale), seeded.
rng = np.random.default_rng(20240607)
V = np.linspace(-40.0, 15.0, 551)
true_T_e, true_V_p = 3.0, 5.0
I_sat_true, I_es_true = 2.0e-4, 3.5e-2  # A
I_clean = -I_sat_true + I_es_true * np.exp(np.minimum(V - true_V_p, 0.0) / true_T_e)
I = I_clean + rng.normal(0.0, 0.02 * np.abs(I_clean).max(), V.size)

T_e = electron_temperature(V, I)
print(f"T_e fitted = {T_e:.4f} eV (true {true_T_e} eV, error {100 * (T_e / true_T_e - 1):+.2f} %)")

# Only the retarding region, ending below the knee: T_e is still found.
below = V < 2.0
print(f"T_e from the sweep below 2 V = {electron_temperature(V[below], I[below]):.4f} eV")
'''

LM_EXAMPLE_1_1_PLOT = r'''
import matplotlib.pyplot as plt

fit = _fit_characteristic(V, I)  # the fit behind electron_temperature
electron = I + fit.I_sat
fig, ax = plt.subplots(figsize=(6, 3.4), dpi=72)
ax.semilogy(V[electron > 0], electron[electron > 0], ".", ms=3, color="0.6", label=r"$I + I_\mathrm{sat}$ (data)")
ax.semilogy(V, fit.I_es * np.exp(np.minimum(V - fit.V_p, 0) / fit.T_e), "C3",
            label=f"fit: $T_e$ = {fit.T_e:.2f} eV")
ax.set_ylim(fit.I_es * 1e-3, fit.I_es * 3)
ax.set_xlabel("probe bias $V$ [V]")
ax.set_ylabel("electron current [A]")
ax.legend()
ax.grid(True, which="both", alpha=0.3)
fig.tight_layout()
plt.show()
'''

LM_EXAMPLE_DATA = r'''
# A synthetic argon characteristic: 10 mm^2 probe, n = 1e17 m^-3, T_e = 3 eV, V_p = 5 V,
# with Gaussian noise of 2 % of the full scale (seeded: the outputs are reproducible).
area, mass = 1.0e-5, 39.948
truth = {"n_e": 1.0e17, "T_e": 3.0, "V_p": 5.0}
V = np.linspace(-40.0, 15.0, 551)
I_clean = synthetic_iv(V, truth["n_e"], truth["T_e"], truth["V_p"], area, mass)
rng = np.random.default_rng(20240607)
I = I_clean + rng.normal(0.0, 0.02 * np.abs(I_clean).max(), V.size)
'''

LM_EXAMPLE_1_2 = LM_EXAMPLE_DATA + r'''
result = analyze(V, I, area, mass)
for key, value in result.items():
    print(f"{key:>5} = {value:.5g}")
print(f"T_e error {100 * (result['T_e'] / truth['T_e'] - 1):+.2f} %, "
      f"n_e error {100 * (result['n_e'] / truth['n_e'] - 1):+.2f} %")
print(f"V_f = {floating_potential(V, I):.4f} V, V_p = {plasma_potential(V, I):.4f} V")
'''

LM_EXAMPLE_2_0 = LM_EXAMPLE_DATA + r'''
result = analyze(V, I, area=area, ion_mass_amu=mass)
print(result)
print(f"T_e is {abs(result.T_e - truth['T_e']) / result.T_e_err:.2f} standard errors from the truth")
'''

LM_EXAMPLE_REGIONS_PLOT = r'''
import matplotlib.pyplot as plt

r = RESULT_AS_DICT
model = -r["I_sat"] + r["I_es"] * np.exp(np.minimum(V - r["V_p"], 0.0) / r["T_e"])
fig, (ax, ax_log) = plt.subplots(1, 2, figsize=(10, 3.6), dpi=72)
for a in (ax, ax_log):
    a.axvspan(V[0], r["V_f"], color="C0", alpha=0.12, label="ion saturation")
    a.axvspan(r["V_f"], r["V_p"], color="C1", alpha=0.12, label="exponential region")
    a.axvspan(r["V_p"], V[-1], color="C2", alpha=0.12, label="electron saturation")
    a.axvline(r["V_f"], color="C0", ls="--", lw=1)
    a.axvline(r["V_p"], color="C2", ls="--", lw=1)
    a.set_xlabel("probe bias $V$ [V]")
    a.set_xlim(V[0], V[-1])
ax.plot(V, 1e3 * I, ".", ms=2, color="0.5", label="data (2 % noise)")
ax.plot(V, 1e3 * model, "k", lw=1.5, label="fit")
ax.set_ylabel("$I$ [mA]")
ax.legend(loc="upper left", fontsize=8)
electron = I + r["I_sat"]
ok = electron > 0
ax_log.semilogy(V[ok], electron[ok], ".", ms=2, color="0.5")
ax_log.semilogy(V, model + r["I_sat"], "k", lw=1.5)
ax_log.set_ylim(r["I_es"] * 1e-3, r["I_es"] * 3)
ax_log.set_ylabel(r"$I + I_\mathrm{sat}$ [A]")
ax_log.set_title(f"$T_e$ = {r['T_e']:.2f} eV, $V_f$ = {r['V_f']:.1f} V, $V_p$ = {r['V_p']:.2f} V", fontsize=10)
fig.tight_layout()
plt.show()
'''

LM_EXAMPLE_2_0_COVERAGE = r'''
# Are the error bars honest? Re-analyze 40 noisy copies of the same characteristic and count
# how often the true T_e and n_e fall within one standard error (about 68 % expected).
hits = {"T_e": 0, "n_e": 0}
trials = 40
for seed in range(trials):
    noisy = I_clean + np.random.default_rng(seed).normal(0.0, 0.02 * np.abs(I_clean).max(), V.size)
    r = analyze(V, noisy, area=area, ion_mass_amu=mass)
    hits["T_e"] += abs(r.T_e - truth["T_e"]) <= r.T_e_err
    hits["n_e"] += abs(r.n_e - truth["n_e"]) <= r.n_e_err
for key, count in hits.items():
    print(f"{key}: truth within 1 standard error in {count} of {trials} trials")
'''


def langmuir(version: str) -> Source:
    s = Source("langmuir", version, LANGMUIR_SUMMARY[version], LANGMUIR_ENDPOINTS[version])
    has = set(LANGMUIR_PUBLIC[version])
    s.md(_langmuir_intro(version))
    s.code(_langmuir_setup(version))
    s.md(LANGMUIR_THEORY if "electron_temperature" not in has else LANGMUIR_THEORY + "\n" + LANGMUIR_THEORY_ELECTRONS)
    s.md(r"""
    ### Ion density

    `ion_density` inverts the ion saturation current. `I_sat` is the *magnitude* of the
    current on the ion branch; $T_e$ comes from the same characteristic (see
    `electron_temperature`) or another diagnostic.
    """ if "electron_temperature" in has else r"""
    ### Ion density

    `ion_density` inverts the ion saturation current. `I_sat` is the *magnitude* of the
    current on the ion branch; $T_e$ must come from the characteristic's exponential region or
    another diagnostic.
    """)
    s.code(LM_ION_DENSITY)
    if "electron_temperature" in has:
        s.md(LANGMUIR_METHOD)
        s.code(LM_FIT + ("\n\n" + textwrap.dedent(LM_FIT_CHECKS).strip() if "analyze" in has else ""))
        s.md(r"""
        ### Electron temperature

        The $T_e$ of the fit: the e-folding voltage of the electron current below the knee.
        """)
        s.code(LM_ELECTRON_TEMPERATURE)
    if "analyze" in has:
        s.md(r"""
        ### Floating and plasma potentials

        Both come from the fit: $V_p$ is the knee, $V_f$ the zero of the fitted characteristic,
        $V_f = V_p - T_e \ln(I_\mathrm{es}/I_\mathrm{sat})$. Reading $V_f$ off the zero crossing
        of the raw data uses only a few points, where the current is smallest against the noise.
        """)
        s.code(LM_POTENTIALS)
        s.md(r"""
        ### Synthetic characteristics

        The ideal characteristic for given plasma parameters, to test an analysis (add noise
        with a seeded `numpy.random.Generator`) or to plan a sweep range.
        """)
        s.code(LM_SYNTHETIC)
        s.md(r"""
        ### The whole analysis

        `analyze` fits the characteristic once and derives every parameter from it. The density
        comes out twice: `n_e` from the electron saturation current, which is two orders of
        magnitude larger than the ion current and so far less affected by noise, and `n_i`
        from the ion saturation current through `ion_density`. In a quasi-neutral plasma that
        meets the assumptions below they agree.
        """ if version != "2.0.0" else r"""
        ### The whole analysis

        `analyze` fits the characteristic once and derives every parameter from it, with its
        standard error. The density comes out twice: `n_e` from the electron saturation current,
        which is two orders of magnitude larger than the ion current and so far less affected by
        noise, and `n_i` from the ion saturation current through `ion_density`. In a
        quasi-neutral plasma that meets the assumptions below they agree.

        The probe parameters are keyword-only, and the result is a `ProbeAnalysis`;
        `analyze_dict` returns the same as a dict and is what the HTTP endpoint serves.
        """)
        s.code(LM_ANALYZE_1 if version != "2.0.0" else LM_ANALYZE_2)
    s.md(LANGMUIR_VALIDITY if "electron_temperature" in has else r"""
    ## Assumptions and validity

    Thin collisionless sheath ($\lambda_D \ll$ probe size, mean free path $\gg \lambda_D$), planar
    collection without sheath expansion, cold singly charged ions of one species, Maxwellian
    electrons, a probe biased well below the floating potential (the ion branch flat). The
    factor 0.61 is itself approximate (0.5 to 0.61 appear in the literature, depending on the
    presheath model); the density is uncertain by 10-20 % on that account alone.
    """)
    if version == "2.0.0":
        s.md(LANGMUIR_MIGRATION)
    s.md(r"""
    ## Examples

    These cells are tagged `example`: they run under validation and in Jupyter, never on import.
    """)
    if version == "1.0.0":
        s.example(LM_EXAMPLE_1_0)
        s.example(LM_EXAMPLE_1_0_PLOT)
    elif version == "1.1.0":
        s.example(LM_EXAMPLE_1_1)
        s.md("The electron current on a log scale: the fitted exponential is a straight line whose slope is $1/T_e$.")
        s.example(LM_EXAMPLE_1_1_PLOT)
    else:
        s.example(LM_EXAMPLE_1_2 if version == "1.2.0" else LM_EXAMPLE_2_0)
        s.md(r"""
        `T_e` and `n_e` are within a percent of the truth. `n_i` is not as good: in argon the ion
        current is some 170 times smaller than the electron saturation current, so noise of 2 % of
        the full scale is larger than the ion current itself, and only the number of points on the
        ion branch averages it down. That is why `n_e` is taken from the electron side.
        """ + ("" if version == "1.2.0" else "The standard errors say so: `n_i_err` is 15 % of `n_i`, `n_e_err` half a percent of `n_e`."))
        s.md(r"""
        The characteristic with the regions of the fit marked: ion saturation below $V_f$, the
        exponential region between $V_f$ and $V_p$, electron saturation above the knee $V_p$;
        on the right the electron current $I + I_\mathrm{sat}$ on a log scale.
        """)
        s.example(LM_EXAMPLE_REGIONS_PLOT.replace("RESULT_AS_DICT", "result" if version == "1.2.0" else "result.to_dict()"))
        if version == "2.0.0":
            s.example(LM_EXAMPLE_2_0_COVERAGE)
    s.md(LANGMUIR_REFERENCES + "\n## Changelog\n\n" + _changelog_until(version))
    return s


def _version_key(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in v.split("."))


def _changelog_until(version: str) -> str:
    """The changelog entries up to and including ``version`` (each entry may span lines)."""
    entries, current = [], []
    for line in LANGMUIR_CHANGELOG.strip().splitlines():
        if line.startswith("- **") and current:
            entries.append(current)
            current = []
        current.append(line)
    entries.append(current)
    kept = [e for e in entries if _version_key(e[0].split("**")[1]) <= _version_key(version)]
    return "\n".join(line for e in kept for line in e)


# ----------------------------------------------------------------------------------------------
# helicon 1.0.0
# ----------------------------------------------------------------------------------------------

HELICON_SETUP = r'''
import numpy as np

from gilgamesh.api.plasma@1 import electron_cyclotron_frequency

__all__ = ["density", "axial_wavenumber"]

_E = 1.602176634e-19  # elementary charge [C], CODATA 2018 (exact)
_MU0 = 1.25663706212e-6  # vacuum magnetic permeability [N/A^2], CODATA 2018
# First zero of the Bessel function J_1: the radial eigenvalue T a of the lowest m = 0 mode.
_J1_FIRST_ZERO = 3.8317059702075125


def _checked(name, value, unit):
    """``value`` as a float array; a ValueError naming the parameter if it is not positive."""
    try:
        x = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number in {unit}, got {value!r}") from None
    if not np.all(np.isfinite(x) & (x > 0)):
        raise ValueError(f"{name} must be positive and finite (in {unit}), got {value!r}")
    return x


def _omega_below_cyclotron(B, frequency):
    """The angular frequency, refused at or above the electron cyclotron frequency."""
    b = _checked("B", B, "T")
    omega = 2 * np.pi * _checked("frequency", frequency, "Hz")
    omega_ce = electron_cyclotron_frequency(b)
    if np.any(omega >= omega_ce):
        raise ValueError(
            f"frequency must be far below the electron cyclotron frequency (f_ce = "
            f"{np.min(omega_ce) / (2 * np.pi):.4g} Hz at B = {np.min(b):.4g} T); "
            f"got {frequency!r} Hz: helicons exist only for f << f_ce"
        )
    return omega


def _result(x):
    return float(x) if np.ndim(x) == 0 else x
'''

HELICON_DENSITY = r'''
def density(B: float, frequency: float, k: float, radius: float) -> float:
    """Plasma density [m^-3] at which the m = 0 helicon mode has axial wavenumber k.

    Chen's dispersion relation for a uniform plasma column with J_1(T a) = 0 at the wall:
    n = k B sqrt(k^2 + T^2) / (omega e mu0), T = 3.8317 / radius.

    Parameters
    ----------
    B : float
        Static axial magnetic field [T].
    frequency : float
        Wave (RF) frequency [Hz], e.g. 13.56e6; must be far below the electron cyclotron frequency.
    k : float
        Axial wavenumber [1/m] (2 pi over the axial wavelength, often set by the antenna length).
    radius : float
        Radius of the plasma column [m].

    Returns
    -------
    float
        The density n [m^-3].
    """
    omega = _omega_below_cyclotron(B, frequency)
    kz = _checked("k", k, "1/m")
    T = _J1_FIRST_ZERO / _checked("radius", radius, "m")
    return _result(kz * B * np.sqrt(kz**2 + T**2) / (omega * _E * _MU0))
'''

HELICON_WAVENUMBER = r'''
def axial_wavenumber(n_e: float, B: float, frequency: float, radius: float) -> float:
    """Axial wavenumber [1/m] of the m = 0 helicon mode at density n_e: the inverse of ``density``.

    Solves k^2 (k^2 + T^2) = C^2 with C = omega e mu0 n_e / B and T = 3.8317 / radius:
    k^2 = (sqrt(T^4 + 4 C^2) - T^2) / 2.

    Parameters
    ----------
    n_e : float
        Plasma density [m^-3].
    B : float
        Static axial magnetic field [T].
    frequency : float
        Wave (RF) frequency [Hz]; must be far below the electron cyclotron frequency.
    radius : float
        Radius of the plasma column [m].

    Returns
    -------
    float
        The axial wavenumber k [1/m]; the axial wavelength is 2 pi / k.
    """
    omega = _omega_below_cyclotron(B, frequency)
    n = _checked("n_e", n_e, "m^-3")
    T2 = (_J1_FIRST_ZERO / _checked("radius", radius, "m")) ** 2
    C = omega * _E * _MU0 * n / B
    # Written as 2 C^2 / (sqrt(T^4 + 4 C^2) + T^2) to avoid cancellation when C << T^2.
    return _result(np.sqrt(2 * C**2 / (np.sqrt(T2**2 + 4 * C**2) + T2)))
'''


def helicon_1_0_0() -> Source:
    s = Source(
        "helicon", "1.0.0",
        "Chen's dispersion relation for the m = 0 helicon mode in a uniform plasma cylinder: density <-> axial wavenumber.",
        ["density", "axial_wavenumber"],
    )
    s.md(r"""
    # helicon: the m = 0 helicon mode in a uniform cylinder

    Helicon sources produce dense plasmas ($10^{18}$-$10^{20}$ m$^{-3}$) with a few hundred
    watts of RF, by launching whistler waves bounded by the plasma column. Which density a source
    settles at is set, to first order, by the wave's dispersion relation: for a given field,
    frequency and antenna (which selects the axial wavelength), the helicon propagates at one
    density. This notebook implements Chen's relation for the $m = 0$ mode in a uniform
    cylinder [1] both ways round.

    ```python
    from gilgamesh.api.helicon@1 import density, axial_wavenumber
    n = density(B=0.1, frequency=13.56e6, k=2 * np.pi / 0.3, radius=0.05)     # m^-3
    k = axial_wavenumber(n_e=n, B=0.1, frequency=13.56e6, radius=0.05)       # 1/m, = 2 pi / 0.3
    ```

    **Conventions.** SI units: field in tesla, frequency in Hz (not rad/s: RF generators are
    labelled in Hz), wavenumbers in 1/m, radius in m. The electron cyclotron frequency comes from
    `plasma@1`.
    """)
    s.code(HELICON_SETUP)
    s.md(r"""
    ## Theory

    In the frequency range $\omega_{ci} \ll \omega \ll \omega_{ce}$, in a plasma dense enough
    that $\omega_{pe}^2 \gg \omega\,\omega_{ce}$, ion motion, electron inertia and the
    displacement current can all be neglected. The electrons then carry the whole wave current
    by their $\mathbf E\times\mathbf B_0$ drift, and the wave magnetic field of a perturbation
    $\propto \exp[i(m\theta + kz - \omega t)]$ obeys [1, 3]

    $$\nabla\times\mathbf B = \alpha\,\mathbf B, \qquad \alpha = \frac{\omega}{k}\,\frac{n_0 e \mu_0}{B_0} .$$

    Taking the curl again gives $\nabla^2 \mathbf B + \alpha^2 \mathbf B = 0$, whose solutions
    regular on the axis are Bessel functions of the perpendicular wavenumber $T$, with

    $$\alpha^2 = k^2 + T^2 .$$

    For the azimuthally symmetric mode $m = 0$ the radial current must vanish at the plasma
    boundary $r = a$, which for both an insulating and a conducting wall gives [1]

    $$J_1(T a) = 0 \quad\Rightarrow\quad T = \frac{3.8317}{a}$$

    for the lowest radial mode. Together, **Chen's dispersion relation**:

    $$\boxed{\;\frac{\omega}{k}\,\frac{n_0 e \mu_0}{B_0} = \sqrt{k^2 + \left(\frac{3.8317}{a}\right)^2}\;}$$

    ### Density for a given wavenumber

    $$n_0 = \frac{k B_0}{\omega e \mu_0}\sqrt{k^2 + T^2}
      \;\xrightarrow{\;k \ll T\;}\; \frac{3.83}{a}\,\frac{k B_0}{\omega e \mu_0}:$$

    at fixed antenna wavelength the density grows linearly with the field, the scaling that
    Chen used to identify helicon operation.
    """)
    s.code(HELICON_DENSITY)
    s.md(r"""
    ### Wavenumber for a given density

    With $C = \omega e \mu_0 n_0 / B_0$ the relation reads $k^2 (k^2 + T^2) = C^2$, a quadratic in
    $k^2$ with one positive root:

    $$k^2 = \frac{\sqrt{T^4 + 4C^2} - T^2}{2} = \frac{2C^2}{\sqrt{T^4 + 4C^2} + T^2}.$$

    The second form avoids the cancellation between $\sqrt{T^4 + 4C^2}$ and $T^2$ at low density.
    """)
    s.code(HELICON_WAVENUMBER)
    s.md(r"""
    ## Assumptions and validity

    - $\omega_{ci} \ll \omega \ll \omega_{ce}$ (refused outright for $\omega \ge \omega_{ce}$, where
      no whistler propagates) and $\omega_{pe}^2 \gg \omega\,\omega_{ce}$.
    - **Electron mass neglected.** With it, each helicon is coupled to a Trivelpiece-Gould mode
      localized at the edge [4]; this relation is the helicon branch alone and is a poor guide
      when $\omega$ approaches $\omega_{ce}/2$ or at low fields.
    - **Uniform density** out to a sharp boundary at $r = a$. Real discharges are peaked on axis;
      $a$ is then an effective radius, and densities from this relation are estimates to within a
      factor of order one.
    - The lowest radial mode of $m = 0$ only; collisionless (damping ignored); axially infinite
      column (the antenna selects $k$ but the column has no end plates).

    ## Examples

    A 5 cm radius argon source at 13.56 MHz, driven by an antenna that selects a 30 cm axial
    wavelength: the density it runs at against the field, and the round trip through the
    inverse relation.
    """)
    s.example(r'''
    f, a = 13.56e6, 0.05
    k = 2 * np.pi / 0.30
    for B in (0.02, 0.05, 0.1, 0.2):
        n = density(B, f, k, a)
        back = axial_wavenumber(n, B, f, a)
        print(f"B = {B:4.2f} T: n = {n:.4e} m^-3, wavelength back from n = {2 * np.pi / back:.6f} m")
    ''')
    s.example(r'''
    import matplotlib.pyplot as plt

    B = np.linspace(0.01, 0.2, 100)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.4), dpi=72)
    for wavelength in (0.15, 0.3, 0.6):
        ax1.plot(B, density(B, f, 2 * np.pi / wavelength, a) / 1e18, label=rf"$\lambda_z$ = {wavelength:g} m")
    ax1.set_xlabel("$B_0$ [T]")
    ax1.set_ylabel("$n_0$ [$10^{18}$ m$^{-3}$]")
    ax1.set_title("density at which the m = 0 helicon propagates", fontsize=10)
    ax1.legend()
    ax1.grid(True, alpha=0.3)
    n = np.logspace(17, 20, 100)
    for B0 in (0.05, 0.1, 0.2):
        ax2.loglog(n, 2 * np.pi / axial_wavenumber(n, B0, f, a), label=f"$B_0$ = {B0:g} T")
    ax2.set_xlabel("$n_0$ [m$^{-3}$]")
    ax2.set_ylabel(r"axial wavelength $2\pi/k$ [m]")
    ax2.legend()
    ax2.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    plt.show()
    ''')
    s.md(r"""
    ## References

    1. F. F. Chen, *Plasma ionization by helicon waves*, Plasma Phys. Control. Fusion **33**, 339 (1991).
    2. R. W. Boswell, *Very efficient plasma generation by whistler waves near the lower hybrid
       frequency*, Plasma Phys. Control. Fusion **26**, 1147 (1984).
    3. J. P. Klozenberg, B. McNamara and P. C. Thonemann, *The dispersion and attenuation of
       helicon waves in a uniform cylindrical plasma*, J. Fluid Mech. **21**, 545 (1965).
    4. F. F. Chen and R. W. Boswell, *Helicons: the past decade*, IEEE Trans. Plasma Sci. **25**,
       1245 (1997).

    ## Changelog

    - **1.0.0**: first release.
    """)
    return s


def all_sources() -> list[Source]:
    """Every notebook, in publish order (a notebook's dependencies come before it)."""
    return [plasma_1_0_0()] + [langmuir(v) for v in ("1.0.0", "1.1.0", "1.2.0", "2.0.0")] + [helicon_1_0_0()]


# ----------------------------------------------------------------------------------------------
# Execution and checks
# ----------------------------------------------------------------------------------------------


def _kernel_environment(scratch: str, registry: str) -> dict:
    """Environment for the executing kernels: the extension loaded, the scratch registry."""
    ipython_dir = os.path.join(scratch, "ipython")
    profile = os.path.join(ipython_dir, "profile_default")
    os.makedirs(profile, exist_ok=True)
    with open(os.path.join(profile, "ipython_kernel_config.py"), "w") as f:
        f.write("c.InteractiveShellApp.extensions = ['gilgamesh']\n")
    return {
        "IPYTHONDIR": ipython_dir,
        "GILGAMESH_REGISTRY": registry,
        "GILGAMESH_CACHE": os.path.join(scratch, "cache"),
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
    }


def execute(nb, cwd: str) -> None:
    """Run every cell, examples included, in a fresh kernel; raise on any error."""
    from nbclient import NotebookClient

    NotebookClient(nb, timeout=120, kernel_name="python3", record_timing=False,
                   resources={"metadata": {"path": cwd}}).execute()


def output_problems(src: Source, nb) -> list[str]:
    """What makes stored outputs unfit to commit: stderr, errors, oversized figures."""
    problems = []
    for i, cell in enumerate(nb.cells, start=1):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                problems.append(f"{src.name}@{src.version} cell {i}: {out.get('ename')}: {out.get('evalue')}")
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                problems.append(f"{src.name}@{src.version} cell {i}: writes to stderr: {out.get('text')[:200]!r}")
            png = out.get("data", {}).get("image/png")
            if png and len(base64.b64decode(png)) > MAX_PNG_BYTES:
                problems.append(f"{src.name}@{src.version} cell {i}: a {len(base64.b64decode(png))} byte PNG (> {MAX_PNG_BYTES})")
        if cell.cell_type == "code" and "example" in cell.metadata.get("tags", []):
            if not cell.get("outputs"):
                problems.append(f"{src.name}@{src.version} cell {i}: an example cell without outputs")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-execute", action="store_true", help="write the notebooks without outputs")
    parser.add_argument("--validate", action="store_true", help="also run the validation gate (publish step 7) on each")
    args = parser.parse_args(argv)

    import nbformat

    from gilgamesh.registry.publish import publish
    from gilgamesh.registry.store import init_registry

    with tempfile.TemporaryDirectory(prefix="gilgamesh-build-") as scratch:
        registry = os.path.join(scratch, "registry")
        init_registry(registry)
        if not args.no_execute:
            os.environ.update(_kernel_environment(scratch, registry))
        failed = []
        for src in all_sources():
            nb = to_notebook(src)
            took = ""
            if not args.no_execute:
                started = time.perf_counter()
                execute(nb, scratch)
                took = f", executed in {time.perf_counter() - started:.1f} s"
                failed += output_problems(src, nb)
            os.makedirs(os.path.dirname(src.path), exist_ok=True)
            nbformat.write(nb, src.path)
            with open(src.path, "rb") as f:
                data = f.read()
            # The next notebook's kernel resolves its imports against what is published here.
            outcome = publish(registry, data, publisher="build", validate=args.validate)
            print(f"{src.name}@{src.version}: {os.path.relpath(src.path, ROOT)} ({len(data) // 1024} KB{took}), "
                  f"published sha256 {outcome.sha256[:12]}")
        for problem in failed:
            print("PROBLEM:", problem, file=sys.stderr)
        return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
