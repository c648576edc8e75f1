"""Training protocols as data: a name for every way physlens trains an NQS, and the settings it fixes.

A protocol fixes the ansatz family, its parameterisation, the optimiser and its rates, the
sampler, the samples and the stopping rule; a run or study keeps only the size, α, seed and
step budget free. Every run records the protocol's name (``TrainConfig.protocol``) and a
study refuses to mix protocols, so numbers from two protocols are never pooled by accident.

| name | what | source |
|---|---|---|
| ``physlens-sr`` | physlens's RBM, SR with plain gradient steps (η = 0.05, shift 0.01), full sums up to N = 16, stop at ε < 1e-3 | physlens's first hidden-unit study |
| ``rbm-paper`` | NetKet's ``RBM`` (its default initialisation), Adam η = 1e-3 on the SR-preconditioned gradient (shift 1e-3), ``MetropolisLocal`` with 16 chains and 4096 samples over all 2^N states, stop when the exact ε < 1e-3 (checked every 25 steps by a full sum, up to N = 20) | arXiv 2603.24223, Methods |

Usage::

    cfg = apply("rbm-paper", TrainConfig(system="heisenberg-ring", size=12, alpha=2, seed=3, steps=6000))
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from physlens.errors import PhyslensError, check_choice
from physlens.quantum.evaluators import MAX_FULLSUM_STATES
from physlens.quantum.training_config import TrainConfig

FREE_FIELDS = ("system", "size", "alpha", "seed", "steps", "reference_energy", "reference_method")
"""What a protocol leaves to the run: the system and its size, α, the seed and the step budget."""


@dataclass(frozen=True)
class Protocol:
    """One named way of training.

    Attributes:
        name: how runs, studies and the CLI (``--protocol``) refer to it.
        summary: one line for tables and reports.
        source: where the settings come from (paper and section, or physlens's own).
        settings: the ``TrainConfig`` fields it fixes.
        system_params: system parameters it fixes (the basis the sampler moves in).
        exact_max_sites: largest N trained by full sums (mode ``exact``); larger N sample.
            None: always the ``mode`` in ``settings``.
        check_max_states: largest basis on which a sampled run checks its stopping rule, and sums its final
            state, exactly (``final_state.FullSumEnergy``). None: ``evaluators.MAX_FULLSUM_STATES``.
    """

    name: str
    summary: str
    source: str
    settings: dict = field(default_factory=dict)
    system_params: dict = field(default_factory=dict)
    exact_max_sites: int | None = None
    check_max_states: int | None = None

    def __post_init__(self):
        fixed = set(self.settings) & set(FREE_FIELDS)
        if fixed:
            raise PhyslensError(f"protocol {self.name} may not fix {sorted(fixed)}: they are the run's own")

    def config(self, base: TrainConfig) -> TrainConfig:
        """``base`` with this protocol's settings (size, α, seed and steps from ``base``)."""
        settings = dict(self.settings)
        if self.exact_max_sites is not None:
            settings["mode"] = "exact" if base.size <= self.exact_max_sites else "sampled"
        return dataclasses.replace(base, **settings, system_params={**base.system_params, **self.system_params},
                                   protocol=self.name)

    def check(self, config: TrainConfig) -> None:
        """Raise ``PhyslensError`` when ``config`` departs from this protocol in a field it fixes."""
        expected = self.config(config)
        changed = [f.name for f in dataclasses.fields(TrainConfig) if getattr(config, f.name) != getattr(expected, f.name)]
        if changed:
            raise PhyslensError(f"{', '.join(changed)} differ from protocol {self.name} ({self.summary}); "
                                "drop them or use protocol custom")


PAPER_MAX_STATES = 2**20
"""The 2^20 states of the paper's largest ring (N = 20, arXiv 2603.24223, Methods: N = 8 … 20): its stopping
rule is ε < 1e-3 on the energy, which physlens reads exactly at every size of the paper's grid."""

PROTOCOLS: dict[str, Protocol] = {p.name: p for p in (
    Protocol("physlens-sr",
             "physlens RBM; SR with gradient steps η = 0.05, shift 0.01; full sums up to N = 16, else 2048 samples; "
             "stop at ε < 1e-3",
             "physlens's first hidden-unit study (docs/studies/hidden-units)",
             settings=dict(model="rbm", optimizer="sgd", learning_rate=0.05, diag_shift=0.01, sr_solver="cg",
                           samples=2048, chains=16, sampler="auto", tol=1e-3, log_every=10, checkpoint_every=50),
             exact_max_sites=16),
    Protocol("rbm-paper",
             "NetKet RBM; Adam η = 1e-3 on SR (shift 1e-3); MetropolisLocal, 16 chains, 4096 samples over all 2^N "
             "states; stop when the exact ε < 1e-3, checked every 25 steps",
             "Hidden Unit Interpretability in RBM Quantum States, arXiv 2603.24223, Methods (training); the check "
             "interval and the step budget are physlens's, the paper states neither",
             settings=dict(model="netket.RBM", mode="sampled", optimizer="adam", learning_rate=1e-3, diag_shift=1e-3,
                           sr_solver="cg", samples=4096, chains=16, sampler="local", tol=1e-3, log_every=25,
                           checkpoint_every=100),
             system_params={"fixed_sz": False},
             check_max_states=PAPER_MAX_STATES),
)}
"""The protocols by name (see the module docstring)."""


def get(name: str) -> Protocol:
    """The protocol ``name``; a one-line error naming the choices otherwise."""
    check_choice("protocol", name, list(PROTOCOLS))
    return PROTOCOLS[name]


def apply(name: str, base: TrainConfig) -> TrainConfig:
    """``base`` trained under protocol ``name``."""
    return get(name).config(base)


def check_max_states(config: TrainConfig) -> int:
    """Largest basis (states) on which a run of ``config`` checks ε < tol by a full sum: its protocol's
    ``check_max_states``, else ``evaluators.MAX_FULLSUM_STATES`` (a custom run, or ``physlens-sr``)."""
    protocol = PROTOCOLS.get(config.protocol)
    if protocol is None or protocol.check_max_states is None:
        return MAX_FULLSUM_STATES
    return protocol.check_max_states
