"""Model-agnostic interpretability, with no physics imported: hook points and interventions, exact and sampled
evaluation of intervened models, hidden-unit, pattern, probe and geometry analyses, steering, sparse autoencoders
(``sae``), and pruning with lottery tickets (``pruning``, ``lottery``).
"""
