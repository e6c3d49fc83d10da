"""meta-bayes simulate: the analysis between a trained run and its Bayes agent, and its pictures."""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("matplotlib")

from benchmarks import cli  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


def assert_png(path):
    import matplotlib.image

    data = open(path, "rb").read()
    assert data.startswith(PNG) and len(data) > 10_000
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 300 and image.shape[1] > 300


@pytest.mark.slow
@pytest.mark.parametrize("env_id", ["MetaDie-v0", "MetaCoin-v0"])
def test_simulate_a_predictor_run(env_id, tmp_path, capsys):
    run = tmp_path / "run"
    assert cli.main(["train", env_id, "--algo", "supervised", "--timesteps", "51200", "--out", str(run)]) == 0
    capsys.readouterr()
    figures = tmp_path / "figs"
    assert cli.main(["simulate", str(run), "--episodes", "60", "--out", str(figures), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["reference"] == "Bayes" and summary["n_train"] + summary["n_test"] == 60
    for key in ("bayes_in_agent", "agent_in_bayes"):
        direction = summary[key]
        # the network's quality is unknown (test_simulation.py has the machines whose figures are
        # known), but the figures' structure is: the output dissimilarity is the mean over the
        # 20 steps of the per-step figures (each over the same held-out episodes) ...
        assert len(direction["per_step_output"]) == 20
        assert np.isclose(np.mean(direction["per_step_output"]), direction["output_dissimilarity"], rtol=1e-9,
                          atol=0), direction
        # ... and a float32 LSTM and exact posterior counts are never mapped onto each other exactly
        assert direction["state_dissimilarity"] > 0 and direction["state_stderr"] > 0, direction
        assert np.isfinite(direction["state_stderr"]) and np.isfinite(direction["output_stderr"])
    assert summary["n_train"] == summary["n_test"] == 30
    assert sorted(summary["figures"]) == [str(figures / "predictions.png"), str(figures / "simulation_panel.png")]
    for path in summary["figures"]:
        assert_png(path)


@pytest.mark.slow
def test_simulate_a_bandit_run(tmp_path, capsys):
    pytest.importorskip("sb3_contrib")
    run = tmp_path / "run"
    argv = ["train", "MetaBandit-v0", "--algo", "recurrent-ppo", "--preset", "quick", "--timesteps", "2560",
            "--out", str(run), "--no-progress"]
    assert cli.main(argv) == 0
    capsys.readouterr()
    assert cli.main(["simulate", str(run), "--episodes", "40"]) == 0
    out = capsys.readouterr().out
    assert "bayes_in_agent" in out and "return difference" in out
    assert_png(run / "figures" / "simulation_panel.png")


@pytest.mark.parametrize(("argv", "message"), [
    (["simulate", "no/such/run"], "no such folder"),
    (["simulate", ".", "--episodes", "4"], "--episodes"),
])
def test_simulate_bad_input(argv, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(argv) == 2
    assert message in capsys.readouterr().err
