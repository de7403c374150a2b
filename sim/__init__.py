"""The RDS crash simulator: ``python -m sim`` runs the crash campaign (``--help`` for options; README.rst,
"The crash campaign", for what it checks).  ``simfs`` is the fault-injecting seam and durability model,
``workloads`` the workloads and their plain-value oracle, ``campaign`` the runner and judge, ``selftest`` the
deliberately broken stores, ``bench`` the benchmark."""
