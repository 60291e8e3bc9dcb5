"""Example theory variants for vaetheory, registered under the entry-point group ``vaetheory.variants``:

* ``beta-vae`` (`vaetheory_examples.beta_vae.BETA_VAE`): a VAE whose KL term is weighted by β;
* ``learned-prior-vae`` (`vaetheory_examples.learned_prior.LEARNED_PRIOR_VAE`): a VAE that learns a
  per-dimension prior variance.

Both are written against the public protocol `vaetheory.core.protocol` only; the module docstrings derive
their energies.
"""
from .beta_vae import BETA_VAE, BetaVAE
from .learned_prior import LEARNED_PRIOR_VAE, LearnedPriorVAE

__all__ = ["BETA_VAE", "BetaVAE", "LEARNED_PRIOR_VAE", "LearnedPriorVAE"]
