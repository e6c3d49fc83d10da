"""Studies, benchmarks and the ``meta-bayes`` command line; may import every other package.

- ``python -m benchmarks.throughput``: env steps per second, native vector env vs ``SyncVectorEnv``.
- ``benchmarks.cli``: the ``meta-bayes`` console script.
"""
