"""The nuclear side: AME2020 masses and reaction energies (``data``, ``targets``), the SEMF and shell terms
(``terms``, ``pseudo_data``), the nuclear regressor (``model``), its resumable training (``train``,
``training_config``) and evaluation, and the geometry of its embeddings (``embeddings``, ``structure``, ``analysis``).
"""
