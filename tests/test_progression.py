"""Training snapshots (agents.training, agents.runs) and ``meta-bayes progression`` (benchmarks.progression)."""

import itertools
import json
import math
import signal

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from agents.evaluation import evaluate_run  # noqa: E402
from agents.predictor import PredictorConfig, PredictorMachine, train_predictor  # noqa: E402
from agents.rl2 import RL2Config, train_rl2  # noqa: E402
from agents.runs import list_snapshots, load_run, snapshot_path  # noqa: E402
from agents.training import select_snapshots, snapshot_ladder, snapshot_schedule  # noqa: E402
from benchmarks import cli  # noqa: E402
from benchmarks.progression import run_progression, settled_at  # noqa: E402


def quiet(_message):
    pass


def coin(**overrides):
    """A tiny supervised run on MetaCoin-v0: 20 gradient steps of 16 episodes, 5 snapshots."""
    values = {"env_id": "MetaCoin-v0", "steps": 20, "eval_every": 20, "eval_episodes": 50, "hidden_size": 8,
              "batch_size": 16, "snapshots": 5}
    values.update(overrides)
    return PredictorConfig(**values)


def weights(path, key="network"):
    return torch.load(path, weights_only=True)[key]


def same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def progress_of(run):
    return [p for p, _ in list_snapshots(run)]


# ------------------------------------------------------------------------------ the schedule


@pytest.mark.parametrize(("count", "updates"), [(10, 1000), (10, 10), (5, 20), (3, 4), (1, 7), (10, 11), (7, 10**6),
                                                (10, 10**7), (2, 2)])
def test_the_schedule_is_log_spaced_distinct_and_ends_with_the_last_update(count, updates):
    points = snapshot_schedule(count, updates)
    assert len(points) == count and points[-1] == updates
    assert all(a < b for a, b in itertools.pairwise(points))
    assert points[0] == (1 if count > 1 else updates)
    if updates >= 100 * count:  # past the first few integers: geometric, each within rounding of its target
        for k, point in enumerate(points):
            assert abs(point - updates ** (k / (count - 1))) <= 0.5 + 1e-9 * updates


def test_the_schedule_of_ten_over_a_thousand_updates_and_bad_counts():
    assert snapshot_schedule(10, 1000) == [1, 2, 5, 10, 22, 46, 100, 215, 464, 1000]
    assert snapshot_schedule(7, 10**6) == [10**k for k in range(7)]
    for count, updates in ((0, 5), (6, 5), (-1, 5)):
        with pytest.raises(ValueError, match="snapshots must be in"):
            snapshot_schedule(count, updates)


def test_a_time_limited_ladder_leaves_n_log_spaced_snapshots_wherever_the_run_stops():
    ladder = snapshot_ladder(10, 10**6)
    assert set(snapshot_schedule(10, 10**6)) <= set(ladder) and len(ladder) < 150
    for stop in (5, 37, 1234, 98765, 10**6):
        saved = sorted({u for u in ladder if u <= stop} | {stop})
        kept = select_snapshots(10, saved)
        assert kept[-1] == stop and kept[0] == 1 and len(kept) == min(10, len(saved)), (stop, kept)
        if stop >= 1000:  # each near its geometric target (the ladder has 20 rungs a decade)
            for k, value in enumerate(kept):
                assert abs(math.log(value) - math.log(stop) * k / 9) < math.log(1.15), (stop, kept)
    # a run that reached its budget keeps the schedule itself; progress values count env steps
    assert select_snapshots(10, [u * 640 for u in ladder], 640) == [u * 640 for u in snapshot_schedule(10, 10**6)]
    assert select_snapshots(3, [u * 640 for u in range(1, 11)], 640) == [640, 1920, 6400]  # updates 1, 3, 10
    assert select_snapshots(3, [640, 1280, 6400]) == [640, 1280, 6400]  # no more than it keeps: all


# ------------------------------------------------------------------------------ writing and loading


def test_snapshots_of_a_supervised_run_are_the_weights_at_their_steps(tmp_path):
    run = tmp_path / "run"
    train_predictor(coin(), run, log=quiet)
    assert progress_of(run) == snapshot_schedule(5, 20) == [1, 2, 4, 9, 20]
    assert json.loads((run / "config.json").read_text())["snapshots"] == 5
    assert not (run / "snapshots" / "config.json").exists()
    for progress, path in list_snapshots(run):
        assert path == snapshot_path(run, progress) and path.name == f"{progress:012d}.pt"
        saved = torch.load(path, weights_only=True)
        assert set(saved) == {"network", "step", "seconds", "env"} and saved["step"] == progress
        machine, config = load_run(run, checkpoint=path)
        assert isinstance(machine, PredictorMachine) and config == coin()
        assert same(machine.network.state_dict(), saved["network"])
    # training is seeded: a run of k steps (without snapshots) ends with the weights of the snapshot at k
    for k in (4, 9):
        train_predictor(coin(steps=k, snapshots=0), tmp_path / f"to{k}", log=quiet)
        assert same(weights(tmp_path / f"to{k}" / "checkpoint.pt"), weights(snapshot_path(run, k)))
        assert not (tmp_path / f"to{k}" / "snapshots").exists()
    assert same(weights(run / "checkpoint.pt"), weights(snapshot_path(run, 20)))  # the last one is the final run


def test_rl2_snapshots_are_the_weights_of_a_run_stopped_there(tmp_path):
    def tiny(**overrides):
        values = {"num_envs": 32, "timesteps": 3200, "eval_every": 3200, "eval_episodes": 50, "hidden_size": 8,
                  "net_arch": [8], "torch_threads": 1, "snapshots": 3}
        return RL2Config(**{**values, **overrides})

    train_rl2(tiny(), tmp_path / "whole", log=quiet)
    assert tiny().updates() == 5 and tiny().update_size() == 640
    assert progress_of(tmp_path / "whole") == [640, 1280, 3200]  # batches 1, 2 and 5 of 5
    stopped = train_rl2(tiny(snapshots=0), tmp_path / "stopped", log=quiet,
                        callback=lambda info: info["timesteps"] < 1280)
    assert stopped["timesteps"] == 1280
    assert same(weights(tmp_path / "stopped" / "checkpoint.pt"), weights(snapshot_path(tmp_path / "whole", 1280)))
    assert same(weights(tmp_path / "whole" / "checkpoint.pt"), weights(snapshot_path(tmp_path / "whole", 3200)))


def test_recurrent_ppo_snapshots_hold_the_policy_trained_on_their_steps(tmp_path):
    pytest.importorskip("sb3_contrib")
    from agents.recurrent_ppo import RecurrentPPOConfig, train_recurrent_ppo

    def tiny(**overrides):  # constant schedules, so a shorter budget trains the same steps the same way
        values = {"num_envs": 16, "batch_size": 160, "n_epochs": 1, "timesteps": 1280, "eval_every": 640,
                  "eval_episodes": 100, "lstm_hidden_size": 8, "net_arch": [8], "torch_threads": 1,
                  "learning_rate": 1e-3, "learning_rate_final": 1e-3, "ent_coef": 0.01, "ent_coef_final": 0.01,
                  "snapshots": 3}
        return RecurrentPPOConfig(**{**values, **overrides})

    train_recurrent_ppo(tiny(), tmp_path / "whole", log=quiet)
    assert progress_of(tmp_path / "whole") == [320, 640, 1280]  # rollouts 1, 2 and 4 of 4
    train_recurrent_ppo(tiny(timesteps=640, snapshots=0), tmp_path / "short", log=quiet)
    assert same(weights(tmp_path / "short" / "checkpoint.pt", "policy"),
                weights(snapshot_path(tmp_path / "whole", 640), "policy"))
    assert same(weights(tmp_path / "whole" / "checkpoint.pt", "policy"),
                weights(snapshot_path(tmp_path / "whole", 1280), "policy"))
    machine, _ = load_run(tmp_path / "whole", checkpoint=snapshot_path(tmp_path / "whole", 320))
    assert machine.state_size == 16


def test_an_interrupted_run_keeps_its_snapshots_and_resumes_the_schedule(tmp_path):
    train_predictor(coin(), tmp_path / "straight", log=quiet)

    def press_ctrl_c(info):
        if info["step"] == 6:
            signal.raise_signal(signal.SIGINT)

    split = tmp_path / "split"
    with pytest.raises(KeyboardInterrupt):
        train_predictor(coin(), split, log=quiet, callback=press_ctrl_c)
    assert progress_of(split) == [1, 2, 4]  # those written so far; no extra one where it stopped
    # a snapshot beyond the checkpoint (as a second Ctrl-C can leave) is written again, or removed
    snapshot_path(split, 9).write_bytes(b"left over")
    snapshot_path(split, 15).write_bytes(b"left over")
    messages = []
    train_predictor(coin(), split, log=messages.append)
    assert any("resumed" in m and "step 6" in m for m in messages)
    assert progress_of(split) == progress_of(tmp_path / "straight") == [1, 2, 4, 9, 20]
    for progress in (1, 4, 9, 20):
        assert same(weights(snapshot_path(split, progress)), weights(snapshot_path(tmp_path / "straight", progress)))


def test_a_larger_budget_on_resume_keeps_n_snapshots_up_to_the_new_end(tmp_path):
    train_predictor(coin(steps=20), tmp_path, log=quiet)
    train_predictor(coin(steps=40), tmp_path, log=quiet)
    kept = progress_of(tmp_path)
    assert len(kept) == 5 and kept[0] == 1 and kept[-1] == 40
    assert same(weights(tmp_path / "checkpoint.pt"), weights(snapshot_path(tmp_path, 40)))


def test_a_time_limited_run_keeps_n_log_spaced_snapshots_ending_at_its_last_step(tmp_path):
    config = coin(steps=10**6, max_seconds=1.0, snapshots=4)
    result = train_predictor(config, tmp_path, log=quiet)
    kept = progress_of(tmp_path)
    assert result["step"] > 20 and len(kept) == 4 and kept[0] == 1 and kept[-1] == result["step"]
    assert same(weights(tmp_path / "checkpoint.pt"), weights(snapshot_path(tmp_path, result["step"])))
    ratios = [math.log(b / a) for a, b in itertools.pairwise(kept)]
    assert max(ratios) < 2 * min(ratios), kept  # near a geometric progression
    again = train_predictor(config, tmp_path, log=quiet)  # out of time: nothing more, the same snapshots
    assert again["step"] == result["step"] and progress_of(tmp_path) == kept


def test_a_run_folder_from_before_snapshots_still_loads_and_resumes(tmp_path):
    config = coin(snapshots=0, steps=4, eval_every=4)
    train_predictor(config, tmp_path, log=quiet)
    path = tmp_path / "config.json"
    old = json.loads(path.read_text())
    del old["snapshots"]
    path.write_text(json.dumps(old))
    _, loaded = load_run(tmp_path)
    assert loaded.snapshots == 0 and loaded == config
    messages = []
    train_predictor(coin(snapshots=0, steps=8, eval_every=4), tmp_path, log=messages.append)  # not "another run"
    assert any("resumed" in m for m in messages) and json.loads(path.read_text())["snapshots"] == 0
    with pytest.raises(ValueError, match="another configuration"):
        train_predictor(coin(snapshots=3, steps=8, eval_every=4), tmp_path, log=quiet)


# ------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "MetaCoin-v0", "--algo", "supervised", "--snapshots", "0", "--out", "x"],
         "argument --snapshots: expected an int >= 1, got 0"),
        (["train", "MetaCoin-v0", "--algo", "supervised", "--timesteps", "10240", "--snapshots", "3", "--out", "x"],
         "snapshots must be at most the run's number of updates, 2 gradient steps, got 3"),
        (["train", "MetaBandit-v0", "--algo", "rl2", "--preset", "quick", "--timesteps", "20480", "--snapshots", "5",
          "--out", "x"], "snapshots must be at most the run's number of updates, 2 batches"),
        (["train", "MetaBandit-v0", "--algo", "recurrent-ppo", "--preset", "quick", "--timesteps", "2560",
          "--snapshots", "3", "--out", "x"], "snapshots must be at most the run's number of updates, 2 rollouts"),
        (["train", "MetaBandit-v0", "--algo", "rl2", "--hp", "snapshots=3", "--out", "x"],
         "--hp cannot set ['snapshots']"),
        (["progression", "no/such/run"], "no such folder"),
        (["progression", "plain"], "holds no snapshots"),
        (["progression", "plain", "--episodes", "4"], "--episodes"),
        (["progression", "plain", "--episodes", "2000000"], "--episodes must be at most 1,048,576"),
        (["progression", "plain", "--out", ""], "--out must name a folder"),
    ],
)
def test_bad_input_is_one_line_before_any_work(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "config.json").write_text(json.dumps({"algo": "supervised", "env_id": "MetaCoin-v0"}))
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"meta-bayes {argv[0]}: error:") and message in err and err.count("\n") == 1, err
    assert not (tmp_path / "x").exists() and not (tmp_path / "plain" / "figures").exists()


def test_progression_of_a_run_without_snapshots_says_how_to_make_them(tmp_path):
    train_predictor(coin(snapshots=0, steps=2, eval_every=2), tmp_path, log=quiet)
    with pytest.raises(ValueError, match=r"meta-bayes train MetaCoin-v0 --algo supervised --snapshots 10"):
        run_progression(tmp_path, episodes=16)


# ------------------------------------------------------------------------------ progression


def test_settled_at_is_where_a_curve_stays_near_its_final_value():
    assert settled_at([1, 2, 4, 8], [1.0, 0.5, 0.11, 0.1]) == 4  # linear: 0.11 <= 0.1 + 0.09
    assert settled_at([1, 2, 4, 8], [1.0, 0.1, 0.5, 0.01]) == 8  # log scale; it left again at 4
    assert settled_at([1, 2], [0.3, None]) is None


def test_a_progression_end_to_end_matches_evaluate_at_the_last_snapshot(tmp_path, capsys):
    run = tmp_path / "run"
    train_predictor(coin(snapshots=2, steps=6, eval_every=6), run, log=quiet)
    figures = tmp_path / "figures"
    assert cli.main(["progression", str(run), "--episodes", "16", "--seed", "3", "--out", str(figures), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert [row["progress"] for row in result["snapshots"]] == [1, 6]
    assert result["unit"] == "gradient steps" and result["reference"] == "Bayes" and result["episodes"] == 16
    final = evaluate_run(run, episodes=16, seed=3)
    last = result["snapshots"][-1]
    assert last["mean_kl"] == last["behaviour"] == final["mean_kl"]
    assert last["mean_kl_stderr"] == final["mean_kl_stderr"] and last["log_loss"] == final["log_loss"]
    for row in result["snapshots"]:
        for key in ("bayes_in_agent", "agent_in_bayes"):
            assert np.isfinite(row[key]["state_dissimilarity"]) and row[key]["state_stderr"] > 0
            assert np.isfinite(row[key]["output_dissimilarity"])
    assert set(result["settled_at"]) == {"behaviour", "bayes_in_agent", "agent_in_bayes"}
    assert result["figure"] == str(figures / "progression.png")
    assert (figures / "progression.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert cli.main(["progression", str(run), "--episodes", "16", "--out", str(figures)]) == 0
    out = capsys.readouterr().out
    assert "gradient steps" in out and "Bayes in agent" in out and "settled" in out


@pytest.mark.slow
def test_a_bandit_progression_measures_the_paired_gap_as_evaluate_does(tmp_path):
    run = tmp_path / "rl2"
    config = RL2Config(num_envs=64, timesteps=6400, eval_every=6400, eval_episodes=100, hidden_size=8, net_arch=[8],
                       torch_threads=1, snapshots=3)
    train_rl2(config, run, log=quiet)
    result = run_progression(run, episodes=40, out=tmp_path / "figs", seed=1)
    assert [row["progress"] for row in result["snapshots"]] == [1280, 2560, 6400]  # batches 1, 2 and 5 of 5
    assert result["unit"] == "env steps" and result["behaviour_measure"].startswith("paired Bayes gap")
    final = evaluate_run(run, episodes=40, seed=1)
    last = result["snapshots"][-1]
    span = final["bayes_optimal_return"] - final["random_return"]
    assert last["paired"] == final["paired"]
    assert math.isclose(last["behaviour"], -final["paired"]["mean_difference"] / span, rel_tol=1e-12, abs_tol=1e-15)
    for row in result["snapshots"]:
        assert row["agent_in_bayes"]["return_difference"] is not None
