"""The RL² grid of ``benchmarks.bandit_values --grid`` on tiny grids (few pulls, few episodes)."""

import json

import pytest

from bayes.bandits import bayes_optimal_value
from benchmarks import bandit_values

KEYS = {"policy", "kind", "mean_return", "stderr", "minus_best", "paired_stderr", "rl2_paper"}


def test_cell_has_the_exact_value_and_names_the_best_reference():
    cell = bandit_values.grid_cell(3, 4, n_episodes=300, discounts=(0.8, 0.9))
    assert cell["bayes_optimal_value"] == pytest.approx(bayes_optimal_value(3, 4), abs=1e-12)
    assert cell["seed"] == bandit_values.cell_seed(3, 4) and cell["episodes"] == 300
    names = [row["policy"] for row in cell["rows"]]
    assert names == ["Bayes-optimal (DP)", "Finite-horizon Gittins", "Gittins (discount 0.8)", "Gittins (discount 0.9)",
                     "Bayes-UCB", "Thompson sampling", "UCB1", "Greedy", "Random"]
    assert all(set(row) == KEYS for row in cell["rows"])
    kinds = {row["policy"]: row["kind"] for row in cell["rows"]}
    assert kinds["Bayes-optimal (DP)"] == "bayes-optimal" and kinds["Random"] == "scale"
    references = [row for row in cell["rows"] if row["kind"] == "reference"]
    best = max(references, key=lambda row: row["mean_return"])
    assert cell["best"] == best["policy"]
    assert best["minus_best"] == 0.0 and best["paired_stderr"] == 0.0
    for row in cell["rows"]:
        assert row["stderr"] > 0 and row["paired_stderr"] >= 0
        assert row["minus_best"] == pytest.approx(row["mean_return"] - best["mean_return"], abs=1e-12)
        assert row["kind"] != "reference" or row["minus_best"] <= 0
    assert cell["skipped"] == []


def test_cell_is_reproducible():
    first = bandit_values.grid_cell(2, 3, n_episodes=100, discounts=(0.9,))
    second = bandit_values.grid_cell(2, 3, n_episodes=100, discounts=(0.9,))
    assert first["rows"] == second["rows"] and first["best"] == second["best"]


def test_cell_without_the_dp_or_the_finite_horizon_index(monkeypatch):
    monkeypatch.setattr(bandit_values, "DEFAULT_MAX_BYTES", 0)  # no DP fits
    monkeypatch.setattr(bandit_values, "FINITE_HORIZON_GITTINS_MAX", 2)
    cell = bandit_values.grid_cell(3, 4, n_episodes=100, discounts=(0.9,))
    assert cell["bayes_optimal_value"] is None
    names = [row["policy"] for row in cell["rows"]]
    assert "Bayes-optimal (DP)" not in names and "Finite-horizon Gittins" not in names
    assert [row["policy"] for row in cell["skipped"]] == ["Finite-horizon Gittins"]


def test_gittins_pilot_ranks_the_discounts():
    rows = bandit_values.gittins_pilot(3, 5, discounts=(0.5, 0.9), n_episodes=200)
    assert sorted(row["discount"] for row in rows) == [0.5, 0.9]
    assert rows[0]["minus_best"] == 0.0 and rows[0]["mean_return"] >= rows[1]["mean_return"]
    assert rows[1]["minus_best"] == pytest.approx(rows[1]["mean_return"] - rows[0]["mean_return"], abs=1e-12)


def test_rl2_paper_figures_name_their_source():
    grid = {(k, n) for k in bandit_values.GRID_ARMS for n in bandit_values.GRID_HORIZONS}
    assert set(bandit_values.RL2_PAPER_TABLE) <= grid and set(bandit_values.RL2_PAPER_QUOTED) <= grid
    for figures in bandit_values.RL2_PAPER_QUOTED.values():
        assert all(isinstance(value, float) and source for value, source in figures.values())


def test_grid_discounts_come_from_the_pilot():
    chosen, tried = bandit_values.GRID_DISCOUNTS, bandit_values.PILOT_DISCOUNTS
    assert set(chosen) == set(tried) == set(bandit_values.GRID_HORIZONS)
    assert all(set(chosen[n]) <= set(tried[n]) for n in chosen)
    assert bandit_values.grid_discounts(500) == chosen[500] and bandit_values.grid_discounts(300) == chosen[500]
    assert bandit_values.grid_discounts(4) == chosen[10]


def test_grid_command_json_and_text(capsys):
    argv = ["--grid", "--arms", "2", "3", "--horizons", "3", "--episodes", "100", "--jobs", "1"]
    assert bandit_values.main([*argv, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    cells = report["cells"]
    assert [(c["arms"], c["horizon"]) for c in cells] == [(2, 3), (3, 3)]
    for cell in cells:
        assert cell["bayes_optimal_value"] == pytest.approx(bayes_optimal_value(cell["arms"], 3), abs=1e-12)
    assert report["wall_seconds"] > 0
    assert bandit_values.main(argv) == 0
    out = capsys.readouterr().out
    assert "<- best reference" in out and "total wall time" in out and "RL² paper" in out


@pytest.mark.slow
def test_grid_numbers_do_not_depend_on_the_pool():
    """Two processes (a pool) give the same cells as one: each cell has its own seed."""
    kwargs = {"arms": (2, 3), "horizons": (3, 4), "n_episodes": 100, "discounts": {3: (0.9,), 4: (0.9,)}}
    alone = bandit_values.run_grid(jobs=1, **kwargs)
    pooled = bandit_values.run_grid(jobs=2, **kwargs)
    strip = [{k: v for k, v in cell.items() if k != "seconds"} for cell in alone]
    assert strip == [{k: v for k, v in cell.items() if k != "seconds"} for cell in pooled]
