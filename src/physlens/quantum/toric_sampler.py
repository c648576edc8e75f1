"""A Metropolis sampler for the toric code that moves inside the flux-free sector: star flips.

Applying a star A_v (σˣ on the four edges at vertex v) flips four spins in the σᶻ basis
and leaves every plaquette B_p = Π σᶻ unchanged. A state near the ground state puts almost
all its weight on flux-free configurations, where a single spin flip (which breaks two
plaquettes) is almost always rejected; a star flip moves between them at no cost. The
sampler proposes either move with probability ½ each, as the toric-code sampler of Barton
et al.'s sparse-nqs code (``src/vmc/tc_vmc.py``) does; the chains are not reset between
steps. Both proposals are symmetric, so no correction enters the acceptance.

Usage::

    sampler = toric_code_sampler(ToricCode(3), n_chains=16)
    state = nk.vqs.MCState(sampler, model, n_samples=1024)
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import netket as nk
import numpy as np

from physlens.errors import PhyslensError
from physlens.quantum.systems import ToricCode


class StarFlipRule(nk.sampler.rules.MetropolisRule):
    """Flip the four edges of one star, chosen uniformly, on every chain.

    Attributes:
        stars: edge indices of each star, shape ``(V, 4)`` (``ToricCode.stars``).
    """

    stars: jax.Array

    def __init__(self, stars: np.ndarray):
        stars = np.asarray(stars, dtype=np.int32)
        if stars.ndim != 2 or stars.shape[1] != 4:
            raise PhyslensError(f"stars must have shape (V, 4); got {stars.shape}")
        self.stars = jnp.asarray(stars)

    def transition(rule, sampler, machine, parameters, state, key, σ):
        """Proposals ``(C, N)``: each chain's σ with one uniformly chosen star flipped, and None (no
        log-probability correction: the move is symmetric)."""
        vertex_C = jax.random.randint(key, (σ.shape[0],), 0, rule.stars.shape[0])
        chains_C1 = jnp.arange(σ.shape[0])[:, None]
        return σ.at[chains_C1, rule.stars[vertex_C]].multiply(-1), None

    def __repr__(self):
        return f"StarFlipRule(# of stars: {len(self.stars)})"


def toric_code_sampler(system: ToricCode, n_chains: int = 16) -> nk.sampler.MetropolisSampler:
    """Single spin flips and star flips, ½ each, on ``n_chains`` chains (not reset between steps)."""
    if not isinstance(system, ToricCode):
        raise PhyslensError(f"the star-flip sampler is for the toric code; got {system.kind}")
    rules = nk.sampler.rules.MultipleRules([nk.sampler.rules.LocalRule(), StarFlipRule(system.stars)], [0.5, 0.5])
    return nk.sampler.MetropolisSampler(system.hilbert, rules, n_chains=n_chains, reset_chains=False)
