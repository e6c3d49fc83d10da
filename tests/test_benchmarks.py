"""The throughput benchmark runs and reports its figures (functional only: no timing asserted)."""

import json

import gymnasium as gym
import pytest

import meta_envs  # noqa: F401
from benchmarks import throughput


def test_measure_counts_sub_environment_steps():
    envs = gym.make_vec("MetaBandit-v0", num_envs=8, vectorization_mode="vector_entry_point")
    rate = throughput.measure(envs, seconds=0.01)
    assert rate > 0


def test_throughput_json_report(capsys):
    code = throughput.main(["--env", "MetaCoin-v0", "--num-envs", "2", "4", "--seconds", "0.01", "--json", "--no-pin"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    rows = report["results"]["MetaCoin-v0"]["rows"]
    assert [row["num_envs"] for row in rows] == [2, 4]
    for row in rows:
        assert row["native"] > 0 and row["sync"] > 0
        assert abs(row["ratio"] - row["native"] / row["sync"]) < 1e-9


@pytest.mark.slow
def test_throughput_table_names_the_targets(capsys):
    code = throughput.main(["--num-envs", "1024", "4096", "--seconds", "0.01", "--no-pin"])
    out = capsys.readouterr().out
    assert "target native@4096 >= 10,000,000 steps/s" in out
    assert "target native@4096 / sync@1024 >= 50" in out
    assert code == (1 if "(MISSED)" in out else 0)  # a missed target exits 1


def test_bandit_reference_case_runs_in_a_fresh_process():
    from benchmarks import bandit_references

    figures = bandit_references.run_case("bayes_optimal_value(2, 2)")
    assert abs(figures["value"] - (0.5 + 7 / 12)) < 1e-12
    assert figures["seconds"] >= 0 and figures["peak_mib"] > 0


def test_bandit_value_tables():
    from benchmarks import bandit_values

    (row,) = bandit_values.horizon_table([2])
    assert abs(row["bayes_optimal"] - (0.5 + 7 / 12)) < 1e-12
    rows = bandit_values.baseline_table(horizon=4, n_episodes=200)
    assert rows[0]["policy"] == "Bayes-optimal" and abs(rows[0]["bayes_gap"]) < 1e-12
    assert all(r["exact_return"] <= rows[0]["exact_return"] + 1e-12 for r in rows)
    assert rows[-1]["policy"] == "Random" and abs(rows[-1]["exact_return"] - 2.0) < 1e-12


def test_gaussian_value_table_is_paired_against_gittins():
    from benchmarks import bandit_values

    rows = bandit_values.gaussian_table(horizon=3, n_episodes=200)
    assert len(rows) == 6 and rows[0]["minus_gittins_095"] == 0.0 and rows[0]["paired_stderr"] == 0.0


def test_predictor_training_benchmark_runs(tmp_path, capsys):
    pytest.importorskip("torch")
    from benchmarks import predictor_training

    code = predictor_training.main(["--seconds", "0.3", "--episodes", "100", "--out", str(tmp_path), "--json"])
    rows = json.loads(capsys.readouterr().out)
    assert all(r["met"] == (r["mean_kl_h20"] <= predictor_training.TARGET_KL) for r in rows)
    assert code == (0 if all(r["met"] for r in rows) else 1)  # a missed target exits 1
    assert [r["env"] for r in rows] == ["MetaCoin-v0", "MetaDie-v0", "MetaGaussian-v0", "MetaExponential-v0",
                                        "MetaSwitchingCoin-v0"]
    assert all(r["mean_kl_h20"] >= 0 and r["train_seconds"] < 5 for r in rows)


@pytest.mark.slow
def test_recurrent_ppo_throughput_part_reports_both_setups(capsys):
    pytest.importorskip("sb3_contrib")
    from benchmarks import recurrent_ppo_training

    code = recurrent_ppo_training.main(["--part", "throughput", "--seconds", "0.01", "--threads", "1", "--json"])
    report = json.loads(capsys.readouterr().out)["throughput"]
    assert code == (0 if report["ratio"] >= recurrent_ppo_training.TARGETS["throughput_ratio"] else 1)
    assert report["stock_steps_per_second"] > 0 and report["preset_steps_per_second"] > 0
    assert abs(report["ratio"] - report["preset_steps_per_second"] / report["stock_steps_per_second"]) < 1e-9


def test_recurrent_ppo_evaluation_part_needs_a_run(tmp_path):
    from benchmarks import recurrent_ppo_training

    with pytest.raises(SystemExit, match="needs a trained run"):
        recurrent_ppo_training.main(["--part", "evaluation", "--out", str(tmp_path)])


def test_the_rl2_benchmark_fails_on_any_missed_target():
    from benchmarks import rl2_training

    fast = {"rl2_steps_per_second": 400_000, "ratio": 60.0}
    assert rl2_training._verdicts({"throughput": fast}) == [True, True]
    assert rl2_training._verdicts({"throughput": {**fast, "ratio": 12.5}}) == [True, False]
    # paired gap 0.24 / (13 - 1) = 0.02: the target's edge, met; the Bayes gap itself is not what is judged
    evaluate = {"bayes_gap": 0.5, "bayes_optimal_return": 13.0, "random_return": 1.0,
                "paired": {"reference": "bayes-optimal", "mean_difference": -0.24}}
    row = {"evaluate": evaluate, "max_gap": 0.02, "minutes": 1.5, "train_seconds": 90.0,
           "gaussian": {"pairs": {"gittins-0.9": {"difference": -0.01}}}}
    assert rl2_training._verdicts({"quality": [row]}) == [True, False]
    assert rl2_training._verdicts({"quality": [{**row, "train_seconds": 91.0, "gaussian": {}}]}) == [False]
    worse = {**evaluate, "paired": {"reference": "bayes-optimal", "mean_difference": -0.25}}
    assert rl2_training._verdicts({"quality": [{**row, "evaluate": worse, "gaussian": {}}]}) == [False]
    none = {**evaluate, "bayes_gap": None}
    assert rl2_training._verdicts({"quality": [{**row, "evaluate": none, "max_gap": None}]}) == [False]


@pytest.mark.parametrize(("local_seconds", "same", "code"), [(5.0, True, 0), (7.0, True, 1), (5.0, False, 1)])
def test_sweep_scaling_exits_1_on_a_missed_ratio_or_differing_cells(monkeypatch, capsys, local_seconds, same, code):
    from benchmarks import sweep_scaling

    def fake_run(out, backend, timesteps, threads, workers):
        seconds = local_seconds if backend == "local" else 10.0
        return {"seconds": seconds, "evaluations": [1.0 if same or backend == "serial" else 2.0], "step_seconds": {}}

    monkeypatch.setattr(sweep_scaling, "_run", fake_run)
    assert sweep_scaling.main([]) == code
    out = capsys.readouterr().out
    verdict = "met" if local_seconds <= 6 else "MISSED"
    assert f"ratio local / serial: {local_seconds / 10:.3f} (target <= 0.6: {verdict})" in out
