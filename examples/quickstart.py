"""Is there a bad local minimum? vae-full against the mean-field vae-diag, γ learned as in the paper."""
from vaetheory import get_variant, make_problem, run_check

# X = ΦZ*: d = 10, κ = 25 dictionary columns, r = 5 nonzero rows of Z*, n = 20 samples
problem = make_problem(d=10, kappa=25, r=5, n=20, rows="orthogonal", seed=101)
for name in ("vae-full", "vae-diag"):
    result = run_check(problem, get_variant(name), restarts=16, seed=0, learn_gamma=True)
    found = {verdict: count for verdict, count in result.summary.items() if count}
    print(f"{name}: {found}; claim {result.claim_status}")
