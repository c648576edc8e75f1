"""physlens: mechanistic interpretability of neural networks trained on physics.

Packages, from the bottom up (see DESIGN.md): ``lens`` (model-agnostic hooks,
interventions and analyses), ``quantum`` (spin systems, exact references,
observables, NQS ansätze, VMC training), ``nuclear`` (AME2020 data and the
nuclear regressor), ``studies`` (compositions), ``report`` (figures, HTML),
``runs`` (run directories) and ``cli`` (the ``physlens`` command).

Importing physlens switches JAX to float64, NetKet's own default.
"""

import jax

jax.config.update("jax_enable_x64", True)

__version__ = "0.1.0"
