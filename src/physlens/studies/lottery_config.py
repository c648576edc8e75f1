"""What a lottery-ticket study is: ``StudyConfig`` (system, network, training, pruning, controls, evaluation) and
the named presets, among them Barton et al.'s figures (``BARTON``). ``physlens.studies.lottery`` runs one.

Presets:

- ``tfim-4x4``: 4×4 open TFIM at h/J = 3.04438, FFNN with 16 hidden units.
- ``tfim-chain``: periodic 12-site TFIM chain at h = J = 1, FFNN with 12 hidden units.
- ``toric-code``: 3×3 toric code (18 qubits, E0 = −18), FFNN with 288 hidden units.
- ``tiny``: 6-site TFIM chain, 6 hidden units, a few steps (demo and tests).
- ``barton-…``: Barton et al.'s figures, including ``barton-6x6-a1`` and ``barton-10x10-a…`` beyond the exact basis
  (Monte Carlo energies against DMRG, or against a published ``reference_energy``).

Usage::

    config = StudyConfig.preset("barton-4x4-a8", seeds=(0,))
    config.prunable_weights, config.training_method      # 2048, "NetKet VMC: SR (diagonal shift 0.001) ..."
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import flax.linen as nn
import numpy as np

from physlens.errors import PhyslensError, check_choice
from physlens.lens.lottery import CONTROLS, DEFAULT_CONTROLS, LotteryConfig
from physlens.quantum.dmrg import dmrg_ground_state
from physlens.quantum.masked_training import BATCHINGS, MAX_EXACT_STATES, ExactProblem
from physlens.quantum.models import FFNN
from physlens.quantum.monte_carlo_problem import MonteCarloProblem
from physlens.quantum.registry import model_from_spec
from physlens.quantum.systems import SpinSystem, make_system
from physlens.quantum.vmc_masked_training import VMCSettings
from physlens.runs import dataclass_from_dict, read_toml

EVALUATIONS = ("exact", "sampled")


@dataclass(frozen=True)
class StudyConfig:
    """One lottery-ticket study.

    Attributes:
        system: system kind; size: N (chains) or L (2D); system_params: its parameters.
        widths: FFNN hidden widths (ReLU, summed output).
        seeds: initialisation seeds (PRNGKey(seed)).
        steps: Adam steps per pruning level.
        dense_steps: Adam steps of the dense level 0 (None: ``steps``); a long dense run
            with ``rewind_step = dense_steps`` rewinds every ticket to the trained dense
            network (the protocol of Barton et al. 2025: 10,000 dense steps, 1,000 per level).
        learning_rate: Adam step size.
        rounds, fraction, scope, controls, rewind_step: see ``LotteryConfig``.
        chunk: basis states per chunk of the exact full sum.
        batching: ``vmap`` or ``map``: how the K networks of a level share one compiled
            training step (``make_energy_and_grad``); ``map`` measured 4× faster than ``vmap``
            on the 2-core CPU of bench/vmap_masks.py, ``vmap`` is the choice on an accelerator.
        init_scale: factor on the LeCun-normal initial kernels (θ_0 and θ_rand alike); the summed
            output of a wide ReLU layer makes log ψ spread over many units at scale 1.
        model: the network, a model-registry spec (``netket.RBM:alpha=2``, ``netket.MLP:hidden_dims=[16]``,
            ``package.module:Class``; ``physlens.quantum.registry.model_from_spec``); empty: the FFNN of ``widths``.
        start: a flax msgpack file of that network's trained variables (a NetKet user's ``.mpack``): the
            dense level 0 then continues from them for every seed instead of from θ_0, so survivors rewind to
            the user's trained network (late rewinding); ``reinit`` still starts from a fresh initialisation.
        use_bias: biases in the FFNN (Barton et al.'s networks have none).
        kernel_std: normal initialisation of the FFNN kernels with this standard deviation (None: LeCun-normal).
        optimizer: ``adam`` or ``sr`` (gradient steps on the SR-preconditioned gradient, NetKet's SR).
        mode: ``exact`` (full sums) or ``sampled`` (``MetropolisLocal``); Adam on full sums trains all networks
            of a level in one compiled step, every other pair through NetKet's VMC driver, network by network.
        diag_shift, samples, chains, discard, sampler: SR's shift and the sampler (``VMCSettings``).
        rounding, controls_from, control_levels: see ``LotteryConfig``.
        control_steps: training steps of the isolated controls ``reinit`` and ``random_mask`` (None: ``steps``).
        evaluation: ``exact`` (full sums over the basis, E0 by Lanczos) or ``sampled`` (a lattice beyond the exact
            basis: Monte Carlo energies with standard errors, E0 by DMRG; ``physlens.quantum.monte_carlo_problem``).
        eval_samples, eval_discard: samples per Monte Carlo estimate and sweeps discarded per chain (``sampled``).
        reference_chi: DMRG bond dimension of the reference energy (``sampled``).
        reference_energy: a published E0 in the system's unit, taken instead of running DMRG (``sampled``): a
            paper's own reference, to measure errors on its axis; ``reference_source`` says where it comes from.
        reference_source: the provenance of ``reference_energy``, recorded in ``study.json`` and every report.
    """

    system: str = "tfim-square"
    size: int = 4
    system_params: dict = field(default_factory=lambda: {"h": 3.04438, "pbc": False})
    widths: tuple[int, ...] = (16,)
    seeds: tuple[int, ...] = (0, 1, 2)
    steps: int = 300
    dense_steps: int | None = None
    learning_rate: float = 0.02
    rounds: int = 10
    fraction: float = 0.3
    scope: str = "global"
    controls: tuple[str, ...] = DEFAULT_CONTROLS
    rewind_step: int = 0
    chunk: int = 2**14
    init_scale: float = 1.0
    batching: str = "map"
    model: str = ""
    start: str = ""
    use_bias: bool = True
    kernel_std: float | None = None
    optimizer: str = "adam"
    mode: str = "exact"
    diag_shift: float = 1e-3
    samples: int = 1024
    chains: int = 16
    discard: int = 5
    sampler: str = "local"
    rounding: str = "floor"
    controls_from: str = "rewind"
    control_levels: tuple[int, ...] = ()
    control_steps: int | None = None
    evaluation: str = "exact"
    eval_samples: int = 16_384
    eval_discard: int = 100
    reference_chi: int = 256
    reference_energy: float | None = None
    reference_source: str = ""

    def __post_init__(self):
        if not self.seeds or min(self.steps, self.level0_steps, self.control_steps or 1) < 1 or self.learning_rate <= 0 \
                or self.init_scale <= 0:
            raise PhyslensError(f"need seeds, steps, dense_steps and control_steps >= 1, learning_rate > 0 and "
                                f"init_scale > 0; got {self.seeds}, {self.steps}, {self.dense_steps}, "
                                f"{self.control_steps}, {self.learning_rate}, {self.init_scale}")
        if self.rewind_step > self.level0_steps:
            raise PhyslensError(f"rewind_step {self.rewind_step} exceeds the dense level's {self.level0_steps} steps")
        check_choice("batching", self.batching, BATCHINGS)
        check_choice("evaluation", self.evaluation, EVALUATIONS)
        if self.evaluation == "sampled" and self.mode != "sampled":
            raise PhyslensError("evaluation = 'sampled' (a basis too large to sum) needs mode = 'sampled' training; "
                                f"got mode = {self.mode!r}")
        hilbert = self.build_system().hilbert
        if self.evaluation == "exact" and (not hilbert.is_indexable or hilbert.n_states > MAX_EXACT_STATES):
            raise PhyslensError(f"{self.system} of size {self.size} has 2^{hilbert.size} basis states, more than the "
                                f"{MAX_EXACT_STATES:,} an exact study sums over; allowed: evaluation = 'sampled' with "
                                "mode = 'sampled' (Monte Carlo energies against DMRG)")
        if (self.reference_energy is None) != (not self.reference_source) or \
                (self.reference_energy is not None and self.evaluation != "sampled"):
            raise PhyslensError("a published reference needs both reference_energy and reference_source, with "
                                f"evaluation = 'sampled'; got {self.reference_energy}, {self.reference_source!r}, "
                                f"{self.evaluation!r}")
        self.vmc_settings()
        self.lottery()

    @classmethod
    def preset(cls, name: str, **overrides) -> "StudyConfig":
        """A named preset (``PRESETS``) with some fields replaced."""
        check_choice("preset", name, list(PRESETS))
        return dataclasses.replace(PRESETS[name], **overrides)

    @classmethod
    def from_toml(cls, path: Path | str, **overrides) -> "StudyConfig":
        """Read a config from a TOML file (a ``preset = "name"`` key starts from that preset)."""
        values = read_toml(path, allowed=f"a preset name ({', '.join(PRESETS)}) or a TOML file")
        base = values.pop("preset", None)
        config = cls.preset(base) if base else cls()
        merged = {**dataclasses.asdict(config), **values}
        return dataclasses.replace(dataclass_from_dict(cls, merged), **overrides)

    @property
    def level0_steps(self) -> int:
        """Adam steps of the dense level 0."""
        return self.steps if self.dense_steps is None else self.dense_steps

    @property
    def prunable_weights(self) -> int:
        """Prunable (first-layer kernel) weights of the dense FFNN: N · width for one hidden layer."""
        n_sites = self.build_system().hilbert.size
        return sum(a * b for a, b in zip((n_sites,) + tuple(self.widths), self.widths))

    @property
    def training_method(self) -> str:
        """How the networks are trained, in words (recorded in ``study.json`` and the report)."""
        if self.batched:
            return "Adam on exact full-sum gradients"
        step = f"SR (diagonal shift {self.diag_shift:g}) with plain gradient steps" if self.optimizer == "sr" else "Adam"
        moves = "single spin and star flips" if self.sampler == "toric-code" else "MetropolisLocal"
        data = (f"{moves}, {self.chains} chains, {self.samples} samples, {self.discard} discarded per chain"
                if self.mode == "sampled" else "full sums")
        return f"NetKet VMC: {step}, {data}"

    @property
    def batched(self) -> bool:
        """Whether a level trains in one compiled step (Adam on full sums) rather than through NetKet's driver."""
        return self.optimizer == "adam" and self.mode == "exact"

    def vmc_settings(self) -> VMCSettings:
        """The optimiser and sampler settings as ``VMCSettings`` (for training through NetKet's driver)."""
        return VMCSettings(optimizer=self.optimizer, learning_rate=self.learning_rate, diag_shift=self.diag_shift,
                           mode=self.mode, samples=self.samples, chains=self.chains, discard=self.discard,
                           sampler=self.sampler)

    def lottery(self) -> LotteryConfig:
        """The pruning settings as a ``LotteryConfig``."""
        return LotteryConfig(rounds=self.rounds, fraction=self.fraction, scope=self.scope,
                             controls=tuple(self.controls), rewind_step=self.rewind_step, rounding=self.rounding,
                             controls_from=self.controls_from, control_levels=tuple(self.control_levels))

    def build_system(self) -> SpinSystem:
        """The ``SpinSystem`` of ``system``, ``size`` and ``system_params``."""
        return make_system(self.system, self.size, **self.system_params)

    def build_problem(self, recorded: dict | None = None) -> ExactProblem | MonteCarloProblem:
        """The exact problem, or the Monte Carlo one with its reference energy: taken from ``recorded``, an earlier
        ``study.json``, when it holds one (DMRG runs once per study folder), else ``reference_energy``, else DMRG."""
        system = self.build_system()
        if self.evaluation == "exact":
            return ExactProblem.of(system)
        if recorded and recorded.get("reference"):
            e0, reference = float(recorded["e0"]), str(recorded["reference"])
        elif self.reference_energy is not None:
            e0, reference = float(self.reference_energy), self.reference_source
        else:
            dmrg = dmrg_ground_state(system, self.reference_chi)
            e0, reference = dmrg.energy, dmrg.method
        return MonteCarloProblem(system, e0, reference, self.eval_samples, self.chains, self.eval_discard)

    def build_model(self) -> nn.Module:
        """``model`` from the registry, or the ReLU FFNN of ``widths`` with summed output."""
        if self.model:
            return model_from_spec(self.model)
        return FFNN(widths=tuple(self.widths), activation="relu", use_bias=self.use_bias, kernel_std=self.kernel_std)


PRESETS: dict[str, StudyConfig] = {
    "tfim-4x4": StudyConfig(),
    "tfim-chain": StudyConfig(system="tfim-chain", size=12, system_params={"h": 1.0, "pbc": True}, widths=(12,),
                              steps=300, learning_rate=0.02, rounds=10, fraction=0.3),
    "toric-code": StudyConfig(system="toric-code", size=3, system_params={}, widths=(288,), seeds=(0,),
                              steps=250, learning_rate=0.003, rounds=3, fraction=0.6, controls=(), rewind_step=250,
                              init_scale=0.05),
    "tiny": StudyConfig(system="tfim-chain", size=6, system_params={"h": 1.0, "pbc": True}, widths=(6,),
                        seeds=(0, 1), steps=60, learning_rate=0.05, rounds=3, fraction=0.3),
}

BARTON = dict(use_bias=False, kernel_std=0.01, init_scale=1.0, optimizer="sr", mode="sampled", learning_rate=0.008,
              diag_shift=1e-3, samples=1024, chains=16, rounding="nearest", scope="layerwise", fraction=0.12,
              controls_from="init", controls=CONTROLS, seeds=(0, 1, 2))
"""The training and pruning of Barton et al.'s sparse-nqs code (its ``src/vmc/vmc.py``, ``src/pruning_algorithm``
and ``src/networks/prunable_ffnn.py``): FFNN with one hidden ReLU layer, no biases, summed output, kernels
N(0, 0.01²); SR with plain gradient steps η = 0.008, shift 1e-3; ``MetropolisLocal``, 16 chains, 1,024 samples;
12 % of the surviving first-layer weights pruned per round (``rint``), survivors rewound to the trained dense
network, the isolated controls restarted from the saved initialisation and trained as long as the dense network."""


def _barton_tfim(alpha: float, rounds: int, size: int = 4) -> StudyConfig:
    """The L×L open TFIM at h/J = 3.04438 with Barton et al.'s protocol (``example_scripts/tfim_2d/ffnn``: 10,000
    dense steps, 1,000 per level, 5 samples discarded per chain) at width α · L². The isolated controls run at the
    levels where ρ = α L² · 0.88^r first falls below 64, 32, …, 1 weights per spin (the paper picks its levels by
    hand; these are physlens's). Beyond the exact basis (L ≥ 5) energies are Monte Carlo estimates against DMRG."""
    width = round(alpha * size**2)
    levels = sorted({int(np.ceil(np.log(width / rho) / -np.log(0.88))) for rho in (64, 32, 16, 8, 4, 2, 1)
                     if rho < width})
    return StudyConfig(size=size, widths=(width,), dense_steps=10_000, steps=1_000, rewind_step=10_000,
                       control_steps=10_000, discard=5, rounds=rounds, control_levels=tuple(levels),
                       evaluation="exact" if size <= 4 else "sampled", **BARTON)


def _barton_10x10(alpha: float, rounds: int) -> StudyConfig:
    """Fig. 1–2: the 10×10 open TFIM at width 100 α with ``rounds`` rounds (the paper's 54, 60, 65 for α = 1, 2.5, 5,
    ``fig_2.ipynb``), Monte Carlo energies against DMRG at χ = 512 (30 min of one core here; 9e-4 J from χ = 256).
    The isolated controls of α = 5 sit at the paper's Fig. 1 levels (its pruning iterations 0, 3, …, 60, i.e. levels
    1, 4, …, 61 after the dense level 0); α = 1 and 2.5, which the paper runs without controls, keep
    ``_barton_tfim``'s levels. The paper's own reference, E0/N = −3.211395417101927 J (``fig_1.ipynb``; "an average
    over several ResCNNs", ``fig_2.ipynb``), lies 0.042 J below this DMRG bound; ``reference_energy`` takes it."""
    config = _barton_tfim(alpha, rounds, size=10)
    levels = tuple(range(1, 62, 3)) if alpha == 5 else config.control_levels
    return dataclasses.replace(config, control_levels=levels, reference_chi=512)


PRESETS.update({
    **{f"barton-4x4-a{alpha:g}": _barton_tfim(alpha, rounds) for alpha, rounds in ((1, 24), (2.5, 31), (5, 36))},
    **{f"barton-10x10-a{alpha:g}": _barton_10x10(alpha, rounds) for alpha, rounds in ((1, 54), (2.5, 60), (5, 65))},
    "barton-4x4-a8": _barton_tfim(8, 51),
    "barton-6x6-a1": _barton_tfim(1, 29, size=6),
    "barton-toric-a8": StudyConfig(system="toric-code", size=3, system_params={}, widths=(144,), dense_steps=2_000,
                                   steps=200, rewind_step=2_000, control_steps=2_000, discard=10, rounds=53,
                                   sampler="toric-code",
                                   control_levels=(17, 23, 39), **BARTON),
})
"""Barton et al.'s figures: ``barton-4x4-a8`` is Fig. 3's α = 8 at L = 4 (51 rounds, as its notebook loads);
``barton-4x4-a{1,2.5,5}`` the same protocol at the widths of Fig. 1–2 (which the paper runs on 10×10), each down to
ρ < 1; ``barton-6x6-a1`` α = 1 on 6×6 (1,296 weights, 29 rounds to ρ < 1), Monte Carlo energies against DMRG;
``barton-10x10-a{1,2.5,5}`` Fig. 1–2 itself (10,000, 25,000, 50,000 weights; 54, 60, 65 rounds), Monte Carlo energies
against DMRG at χ = 512: 4.7–19 h per IMP arm on one core here, ready for an accelerator; ``barton-toric-a8`` Fig. 4
(3×3 toric code, α = 8, 2,592 weights, 53 rounds) with the step counts of the code's toric-code example (2,000 dense,
200 per level, 10 discarded per chain, single spin and star flips half and half); its controls at ρ ≈ 16 (level 17),
8 and 1."""
