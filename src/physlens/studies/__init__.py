"""Resumable studies composed of ``quantum``, ``nuclear`` and ``lens``: each pins its settings to one folder
(``bookkeeping``) and runs its tasks locally or on Dask (``executors``): hidden units, lottery tickets, the
nuclear study and its controls, SAE steering and sweeps.
"""
