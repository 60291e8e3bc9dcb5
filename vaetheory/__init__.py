"""vaetheory: property-based verification of loss-landscape claims for sparse VAEs (Wipf, ICML 2023).

The pipeline, one package per stage (no stage imports a later one; `tests/test_layout.py` checks it):
core (errors, the variant protocol) → problems → variants → search → certify → oracle → verdict (`run_check`) →
report → sweep. The CLI (`vaetheory.cli`), the pytest plugin and the Hypothesis properties sit on top.

Names below are imported on first use, so ``import vaetheory`` is cheap.
"""
from vaetheory.core.lazy import attach

_getattr, __dir__, __all__ = attach(__name__, {
    "BudgetError": "core.errors", "InputError": "core.errors", "VaetheoryError": "core.errors",
    "VariantError": "core.errors",
    "Claim": "core.protocol", "GammaPolicy": "core.protocol", "ParamSpec": "core.protocol", "Variant": "core.protocol",
    "Problem": "problems.problem", "make_problem": "problems.generate",
    "ConditionReport": "problems.conditions", "check_conditions": "problems.conditions",
    "collapsed_energy": "variants.energies", "get_variant": "variants.registry",
    "OracleResult": "oracle.exhaustive", "sparsest_supports": "oracle.exhaustive",
    "OracleAnswer": "oracle.answer", "run_oracle": "oracle.auto",
    "RelaxationResult": "oracle.relax", "l21_relaxation": "oracle.relax",
    "CheckResult": "verdict.check", "ProblemAnalysis": "verdict.check", "analyse_problem": "verdict.check",
    "run_check": "verdict.check",
})


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("vaetheory")
    except PackageNotFoundError:  # running from a source tree that was not installed
        return "0.0.0+unknown"


def __getattr__(name: str):
    if name == "__version__":  # looked up on first use: importlib.metadata costs about 40 ms of every start
        globals()["__version__"] = v = _version()
        return v
    return _getattr(name)
