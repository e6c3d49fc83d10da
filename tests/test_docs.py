"""The extension guide's worked examples run as they stand (a new task family, a user's agent)."""

import pathlib
import re

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_extending_guide_runs_and_its_figures_hold():
    text = (ROOT / "docs" / "extending.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) >= 4
    namespace: dict = {"__name__": "extending"}
    for block in blocks:
        exec(compile(block, "docs/extending.md", "exec"), namespace)
    model = namespace["model"]
    # the model's predictive is the Gamma-Poisson negative binomial: check against its closed-form mean
    stats = np.array([[3.0, 7.0]])
    r, q = model.predictive(stats)[0]
    assert np.isclose(r * (1 - q) / q, (2.0 + 7.0) / (1.0 + 3.0))
    k = np.arange(400.0)
    assert np.isclose(np.exp(model.predictive_log_prob(model.predictive(stats), k[:, None])).sum(), 1.0)
    assert namespace["naive"].mean_kl > 0.01
    assert namespace["result"].b_simulates_a.output_dissimilarity > 1e-3
