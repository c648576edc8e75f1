"""The spin side: systems with exact and DMRG references (``systems``, ``dmrg``), observables, NQS ansätze and their
registry (``models``, ``transformer``, ``registry``), VMC and masked training (``train``, ``masked_training``,
``vmc_masked_training``), quench dynamics (``quench``, ``dynamics``), and the bridge to the lens (``evaluators``,
``activations``).
"""
