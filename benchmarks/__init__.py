"""Studies, benchmarks and the ``meta-bayes`` command line; may import every other package.

- ``benchmarks.cli``: the ``meta-bayes`` console script.
- ``benchmarks.cells``: one train + evaluate + simulate job, the unit of the study and of sweeps.
- ``benchmarks.reproduce`` and ``benchmarks.report``: the study end to end and its report.
- ``benchmarks.sweep``, ``benchmarks.sweep_spec``, ``benchmarks.sweep_results``: grids of cells on a
  process pool or a Ray cluster, their SPEC files, and their means and 95% intervals across seeds.
- ``python -m benchmarks.throughput``: env steps per second, native vector env vs ``SyncVectorEnv``;
  ``python -m benchmarks.sweep_scaling``: the local pool against the same cells in series.
"""
