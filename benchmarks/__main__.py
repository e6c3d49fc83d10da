"""``python -m benchmarks``: the ``meta-bayes`` command line (:mod:`benchmarks.cli`)."""

import sys

from benchmarks.cli import main

sys.exit(main())
