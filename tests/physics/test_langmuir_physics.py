"""langmuir@1.0 ... @2.0 against formulas evaluated here, and analyze against synthetic data."""

from __future__ import annotations

import math

import numpy as np
import pytest

from physics_constants import AMU, E, M_E

SPECS = ["1.0", "1.1", "1.2", "2.0"]  # 2.1 (calibrated error bars) is tested at the end
NOISE = 0.02  # Gaussian noise with a standard deviation of 2 % of the characteristic's full scale


def ion_saturation_current(n, T_e, area, mass):
    """0.61 n e A u_B with u_B = sqrt(k T_e / m_i)."""
    return 0.61 * n * E * area * math.sqrt(T_e * E / (mass * AMU))


def electron_saturation_current(n, T_e, area):
    """n e A v_mean / 4 with v_mean = sqrt(8 k T_e / (pi m_e))."""
    return 0.25 * n * E * area * math.sqrt(8 * T_e * E / (math.pi * M_E))


def ideal_iv(V, n, T_e, V_p, area, mass):
    I_sat, I_es = ion_saturation_current(n, T_e, area, mass), electron_saturation_current(n, T_e, area)
    return np.array([-I_sat + I_es * (math.exp((v - V_p) / T_e) if v < V_p else 1.0) for v in V])


def noisy(I, seed):
    return I + np.random.default_rng(seed).normal(0.0, NOISE * np.abs(I).max(), I.size)


# name, ion mass [u], n [m^-3], T_e [eV], V_p [V], probe area [m^2], sweep (start, stop, points)
PLASMAS = [
    ("argon RF discharge", 39.948, 1e16, 2.0, 8.0, 2e-5, (-40.0, 20.0, 601)),
    ("argon helicon", 39.948, 1e18, 4.0, 15.0, 5e-6, (-60.0, 40.0, 1001)),
    ("hydrogen", 1.008, 5e16, 10.0, 30.0, 1e-5, (-120.0, 80.0, 801)),
    ("helium", 4.0026, 3e17, 1.2, 3.0, 1e-5, (-20.0, 10.0, 401)),
    ("xenon plume", 131.29, 2e15, 5.0, -2.0, 1e-4, (-70.0, 20.0, 801)),
    ("cold dense argon", 39.948, 1e19, 0.5, 1.0, 1e-6, (-10.0, 4.0, 301)),
]
IDS = [p[0] for p in PLASMAS]


def sweep(plasma):
    start, stop, points = plasma[-1]
    return np.linspace(start, stop, points)


@pytest.fixture(scope="module")
def langmuir(api):
    return {spec: api("langmuir", spec) for spec in SPECS}


@pytest.mark.parametrize("spec", SPECS)
@pytest.mark.parametrize("I_sat, T_e, area, mass", [(2e-4, 3.0, 1e-5, 39.948), (1e-6, 0.5, 1e-6, 1.008), (0.05, 40.0, 3e-4, 131.29)])
def test_ion_density_inverts_the_bohm_flux(langmuir, spec, I_sat, T_e, area, mass):
    expected = I_sat / (0.61 * E * area * math.sqrt(T_e * E / (mass * AMU)))
    assert langmuir[spec].ion_density(I_sat, T_e, area, mass) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("spec", ["1.2", "2.0"])
@pytest.mark.parametrize("plasma", PLASMAS, ids=IDS)
def test_synthetic_iv_is_the_ideal_characteristic(langmuir, spec, plasma):
    _, mass, n, T_e, V_p, area, _ = plasma
    V = sweep(plasma)
    I = langmuir[spec].synthetic_iv(V, n, T_e, V_p, area, mass)
    assert isinstance(I, np.ndarray)
    np.testing.assert_allclose(I, ideal_iv(V, n, T_e, V_p, area, mass), rtol=1e-12, atol=1e-12 * np.abs(I).max())


@pytest.mark.parametrize("spec", ["1.1", "1.2", "2.0"])
@pytest.mark.parametrize("plasma", PLASMAS, ids=IDS)
def test_electron_temperature_is_exact_on_an_ideal_characteristic(langmuir, spec, plasma):
    _, mass, n, T_e, V_p, area, _ = plasma
    V = sweep(plasma)
    assert langmuir[spec].electron_temperature(V, ideal_iv(V, n, T_e, V_p, area, mass)) == pytest.approx(T_e, rel=1e-6)


@pytest.mark.parametrize("spec", ["1.2", "2.0"])
@pytest.mark.parametrize("plasma", PLASMAS, ids=IDS)
def test_potentials_are_exact_on_an_ideal_characteristic(langmuir, spec, plasma):
    _, mass, n, T_e, V_p, area, _ = plasma
    V = sweep(plasma)
    I = ideal_iv(V, n, T_e, V_p, area, mass)
    # V_f = V_p - T_e ln(I_es / I_sat) = V_p - T_e ln(sqrt(m_i / (2 pi m_e)) / 0.61)
    V_f = V_p - T_e * math.log(math.sqrt(mass * AMU / (2 * math.pi * M_E)) / 0.61)
    assert langmuir[spec].floating_potential(V, I) == pytest.approx(V_f, abs=1e-6 * T_e)
    assert langmuir[spec].plasma_potential(V, I) == pytest.approx(V_p, abs=1e-6 * T_e)
    # and V_f is where the ideal current crosses zero
    assert np.interp(0.0, I[V < V_p], V[V < V_p]) == pytest.approx(V_f, abs=0.1 * T_e)


@pytest.mark.parametrize("plasma", PLASMAS, ids=IDS)
def test_analyze_recovers_the_plasma_from_a_noisy_characteristic(langmuir, plasma):
    """T_e within 5 % and n_e within 10 % with 2 % noise, for three independent noise draws."""
    _, mass, n, T_e, V_p, area, _ = plasma
    V = sweep(plasma)
    clean = langmuir["1.2"].synthetic_iv(V, n, T_e, V_p, area, mass)
    for seed in (1, 2, 3):
        result = langmuir["1.2"].analyze(V, noisy(clean, seed), area, mass)
        assert set(result) >= {"T_e", "n_e", "V_f", "V_p", "I_sat"}
        assert all(type(v) is float for v in result.values())
        assert result["T_e"] == pytest.approx(T_e, rel=0.05), f"seed {seed}"
        assert result["n_e"] == pytest.approx(n, rel=0.10), f"seed {seed}"
        assert result["V_p"] == pytest.approx(V_p, abs=0.2 * T_e), f"seed {seed}"
        assert result["I_sat"] > 0


@pytest.mark.parametrize("plasma", PLASMAS, ids=IDS)
def test_analyze_without_noise_returns_the_exact_parameters(langmuir, plasma):
    _, mass, n, T_e, V_p, area, _ = plasma
    V = sweep(plasma)
    result = langmuir["1.2"].analyze(V, ideal_iv(V, n, T_e, V_p, area, mass), area, mass)
    assert result["T_e"] == pytest.approx(T_e, rel=1e-6)
    assert result["n_e"] == pytest.approx(n, rel=1e-6)
    assert result["n_i"] == pytest.approx(n, rel=1e-6)  # quasi-neutral: both sides agree
    assert result["I_sat"] == pytest.approx(ion_saturation_current(n, T_e, area, mass), rel=1e-6)
    assert result["I_es"] == pytest.approx(electron_saturation_current(n, T_e, area), rel=1e-6)


def test_analyze_accepts_an_unsorted_sweep(langmuir):
    _, mass, n, T_e, V_p, area, _ = PLASMAS[0]
    V = sweep(PLASMAS[0])
    I = noisy(ideal_iv(V, n, T_e, V_p, area, mass), 5)
    order = np.random.default_rng(0).permutation(V.size)
    assert langmuir["1.2"].analyze(list(V[order]), list(I[order]), area, mass) == langmuir["1.2"].analyze(V, I, area, mass)


def test_v2_analyze_side_by_side_with_v1_2(langmuir):
    """Both majors are loaded at once; 2.0 returns the same numbers in its new shape."""
    v1, v2 = langmuir["1.2"], langmuir["2.0"]
    assert v1 is not v2
    _, mass, n, T_e, V_p, area, _ = PLASMAS[1]
    V = sweep(PLASMAS[1])
    I = noisy(v1.synthetic_iv(V, n, T_e, V_p, area, mass), 11)
    old = v1.analyze(V, I, area, mass)
    new = v2.analyze(V, I, area=area, ion_mass_amu=mass)
    assert isinstance(old, dict)
    assert isinstance(new, v2.ProbeAnalysis)
    for key, value in old.items():
        assert getattr(new, key) == pytest.approx(value, rel=1e-12), key
    assert v2.analyze_dict(V, I, area=area, ion_mass_amu=mass) == new.to_dict()
    assert set(new.to_dict()) == set(old) | {k + "_err" for k in old}
    with pytest.raises(TypeError):
        v2.analyze(V, I, area, mass)  # the 2.0 break: probe parameters are keyword-only
    with pytest.raises(AttributeError):
        v1.ProbeAnalysis


def test_v2_standard_errors_cover_the_truth(langmuir):
    """Over 40 noise draws the truth lies within 2 standard errors about 95 % of the time."""
    v2 = langmuir["2.0"]
    _, mass, n, T_e, V_p, area, _ = PLASMAS[0]
    V = sweep(PLASMAS[0])
    clean = v2.synthetic_iv(V, n, T_e, V_p, area, mass)
    truth = {"T_e": T_e, "n_e": n, "n_i": n, "V_p": V_p}
    within = {key: 0 for key in truth}
    for seed in range(40):
        result = v2.analyze(V, noisy(clean, 100 + seed), area=area, ion_mass_amu=mass)
        for key, value in truth.items():
            within[key] += abs(getattr(result, key) - value) <= 2 * getattr(result, key + "_err")
    assert all(34 <= count <= 40 for count in within.values()), within


@pytest.mark.parametrize("spec", ["1.2", "2.0"])
@pytest.mark.parametrize("V, I, message", [
    (np.linspace(-40, 10, 10), np.zeros(10), "at least 20 points"),
    (np.linspace(-40, 10, 50), np.zeros(49), "equal length"),
    (np.linspace(-40, 10, 50), np.r_[np.zeros(49), np.nan], "finite"),
    (np.zeros(50), np.linspace(0, 1, 50), "span a range"),
    (np.linspace(-40, 10, 50), np.zeros(50), "zero everywhere"),
    (np.linspace(10, 40, 300), np.random.default_rng(1).normal(0.01, 1e-4, 300), "no exponential"),
    (np.linspace(-40, 2, 300), ideal_iv(np.linspace(-40, 2, 300), 1e17, 3.0, 5.0, 1e-5, 39.948), "no electron saturation"),
    (np.linspace(-5, 20, 300), ideal_iv(np.linspace(-5, 20, 300), 1e17, 3.0, 5.0, 1e-5, 39.948) + 1e-3, "no ion saturation"),
    ("not a sweep", [1.0], "sequences of numbers"),
])
def test_analyze_refuses_a_characteristic_it_cannot_read(langmuir, spec, V, I, message):
    analyze = langmuir[spec].analyze
    with pytest.raises(ValueError, match=message):
        analyze(V, I, area=1e-5, ion_mass_amu=39.948)


def test_electron_temperature_needs_no_saturation_branch(langmuir):
    V = np.linspace(-40, 2, 300)
    I = noisy(ideal_iv(V, 1e17, 3.0, 5.0, 1e-5, 39.948), 4)
    assert langmuir["1.1"].electron_temperature(V, I) == pytest.approx(3.0, rel=0.05)


@pytest.mark.parametrize("spec", SPECS)
def test_bad_probe_parameters_name_the_parameter(langmuir, spec):
    with pytest.raises(ValueError, match="area"):
        langmuir[spec].ion_density(1e-4, 3.0, -1e-5, 39.948)
    with pytest.raises(ValueError, match="ion_mass_amu"):
        langmuir[spec].ion_density(1e-4, 3.0, 1e-5, 0.0)
    with pytest.raises(ValueError, match="I_sat"):
        langmuir[spec].ion_density(-1e-4, 3.0, 1e-5, 39.948)


def test_users_import_both_majors_side_by_side(lab_imports):
    """The import spellings (README, Importing), in one process: 1.2 and 2.0 are separate modules."""
    import gilgamesh
    import gilgamesh.api.langmuir.v2_0 as lm2
    from gilgamesh.api.langmuir.v1_2 import analyze
    from gilgamesh.api.plasma.v1 import bohm_velocity

    assert gilgamesh.use("langmuir@1.2").analyze is analyze
    assert gilgamesh.use("langmuir@2.0") is lm2
    assert lm2.analyze is not analyze
    assert lm2.__name__.endswith("v2_0_0") and analyze.__module__.endswith("v1_2_0")
    assert lm2.bohm_velocity is bohm_velocity  # both pin plasma@1: one plasma module
    V = np.linspace(-40.0, 20.0, 601)
    I = noisy(lm2.synthetic_iv(V, 1e16, 2.0, 8.0, 2e-5, 39.948), 9)
    assert lm2.analyze(V, I, area=2e-5, ion_mass_amu=39.948).T_e == analyze(V, I, 2e-5, 39.948)["T_e"]


def test_the_module_documents_itself(lab_imports):
    import gilgamesh.api.langmuir.v1_2 as lm

    synopsis, narrative = lm.__doc__.split("\n\n", 1)  # help()'s one line, then the notebook's markdown
    assert synopsis.endswith(f"(langmuir {lm.__version__})")
    assert narrative.startswith("# langmuir: planar Langmuir probe")
    assert "I_\\mathrm{sat} = 0.61" in lm.__doc__
    assert "electron saturation current" in lm.analyze.__doc__


def _coverage(module, noise_model, trials=300):
    """How often the truth lies within one standard error, over ``trials`` noise draws."""
    _, mass, n, T_e, V_p, area, _ = PLASMAS[0]
    V = sweep(PLASMAS[0])
    clean = module.synthetic_iv(V, n, T_e, V_p, area, mass)
    truth = {"T_e": T_e, "n_e": n, "n_i": n, "V_p": V_p}
    within = dict.fromkeys(truth, 0)
    for seed in range(trials):
        rng = np.random.default_rng(1000 + seed)
        if noise_model == "uniform":  # amplifier noise: the same at every point
            I = clean + rng.normal(0.0, NOISE * np.abs(clean).max(), V.size)
        else:  # the plasma's own fluctuations: 5 % of the current at each point
            I = clean * (1 + rng.normal(0.0, 0.05, V.size))
        result = module.analyze(V, I, area=area, ion_mass_amu=mass)
        for key, value in truth.items():
            within[key] += abs(getattr(result, key) - value) <= getattr(result, key + "_err")
    return {key: count / trials for key, count in within.items()}


@pytest.fixture(scope="module")
def langmuir_2_1(api):
    return api("langmuir", "2.1")


@pytest.mark.parametrize("noise_model", ["uniform", "proportional"])
def test_2_1_error_bars_cover_the_truth_68_percent_of_the_time(langmuir_2_1, noise_model):
    """One standard error covers the truth in 68 % of draws; 300 draws measure that within +-2.7 %."""
    coverage = _coverage(langmuir_2_1, noise_model)
    print(f"langmuir 2.1 coverage under {noise_model} noise: {coverage}")
    assert all(0.60 <= c <= 0.76 for c in coverage.values()), coverage


def test_2_0_error_bars_were_too_small_under_proportional_noise(langmuir):
    """What 2.1 fixed (and proof that the coverage test above can fail)."""
    coverage = _coverage(langmuir["2.0"], "proportional")
    assert coverage["V_p"] < 0.55, coverage


def test_2_1_changes_only_the_error_bars(langmuir, langmuir_2_1):
    _, mass, n, T_e, V_p, area, _ = PLASMAS[0]
    V = sweep(PLASMAS[0])
    I = noisy(langmuir_2_1.synthetic_iv(V, n, T_e, V_p, area, mass), 5)
    old = langmuir["2.0"].analyze(V, I, area=area, ion_mass_amu=mass).to_dict()
    new = langmuir_2_1.analyze(V, I, area=area, ion_mass_amu=mass).to_dict()
    assert {k: v for k, v in new.items() if not k.endswith("_err")} == {k: v for k, v in old.items() if not k.endswith("_err")}
    assert new["V_p_err"] != old["V_p_err"]
