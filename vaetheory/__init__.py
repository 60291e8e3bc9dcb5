"""vaetheory: property-based verification of loss-landscape claims for sparse VAEs (Wipf, ICML 2023).

The pipeline, one module per step:
problem (`Problem`, `make_problem`) → variant (`get_variant`, `Variant`) → search (`vaetheory.search`) →
certify (`vaetheory.certify`) → oracle (`sparsest_supports`, `l21_relaxation`) → verdict (`run_check`) → report.
"""
from importlib.metadata import PackageNotFoundError, version

from .check import CheckResult, ProblemAnalysis, analyse_problem, run_check
from .conditions import ConditionReport, check_conditions
from .energies import collapsed_energy
from .errors import BudgetError, InputError, VaetheoryError, VariantError
from .generate import make_problem
from .oracle import OracleResult, sparsest_supports
from .problem import Problem
from .relax import RelaxationResult, l21_relaxation
from .variants import Claim, GammaPolicy, ParamSpec, Variant, get_variant

try:
    __version__ = version("vaetheory")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

__all__ = [
    "BudgetError", "CheckResult", "Claim", "ConditionReport", "GammaPolicy", "InputError", "OracleResult",
    "ParamSpec", "Problem", "ProblemAnalysis", "RelaxationResult", "VaetheoryError", "Variant", "VariantError",
    "analyse_problem", "check_conditions", "collapsed_energy", "get_variant", "l21_relaxation", "make_problem",
    "run_check", "sparsest_supports",
]
