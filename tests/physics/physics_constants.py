"""CODATA 2018 values, typed in here so the tests do not trust the notebooks' own constants.

E. Tiesinga et al., Rev. Mod. Phys. 93, 025010 (2021); e is exact in the 2019 SI.
"""

E = 1.602176634e-19  # elementary charge [C]
M_E = 9.1093837015e-31  # electron mass [kg]
AMU = 1.66053906660e-27  # atomic mass constant [kg]
EPS0 = 8.8541878128e-12  # vacuum electric permittivity [F/m]
MU0 = 1.25663706212e-6  # vacuum magnetic permeability [N/A^2]
