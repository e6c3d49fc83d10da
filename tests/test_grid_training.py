"""The RL² grid: the value target scaled per remaining step, and pairing with the best index policy."""

from types import SimpleNamespace

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from agents.bandit_eval import evaluate_bandit_agent, reference_evaluation  # noqa: E402
from agents.evaluation import bandit_summary  # noqa: E402
from agents.rl2 import RL2Config, build_network  # noqa: E402
from bayes.bandits import BayesOptimalPolicy, GreedyPolicy  # noqa: E402
from bayes.bandits.references import index_references, reference_discounts  # noqa: E402
from bayes.evaluate import evaluate_bandit_policy  # noqa: E402
from benchmarks.sweep_results import cell_metrics, paired_gap, table_lines  # noqa: E402
from benchmarks.sweep_spec import SpecError, load_spec  # noqa: E402

# 10 arms at 30 pulls: the exact DP needs about 12 GiB, so "best" pairs with the index policies
BIG = {"n_arms": 10, "horizon": 30}


def test_value_per_step_scales_the_head_by_the_steps_remaining():
    """values[t] = (T - t) x head output, for every t of an episode, with either critic."""
    for critic in ("core", "belief"):
        config = RL2Config(env_id="MetaBandit-v0", env_kwargs={"n_arms": 3, "horizon": 7}, hidden_size=8,
                           net_arch=[8], critic=critic, value_per_step=True)
        network = build_network(config)
        assert network.value_horizon == 7
        out = torch.randn(7, 4, 8)
        beliefs = torch.randn(7, 4, 7) if critic == "belief" else None
        values = network.values(out, beliefs)
        head = network.value_head(beliefs if critic == "belief" else out).squeeze(-1)
        np.testing.assert_allclose(values.detach().numpy(), (head * torch.arange(7, 0, -1.0)[:, None]).detach().numpy(),
                                   rtol=1e-6)
    plain = build_network(RL2Config(env_id="MetaBandit-v0", hidden_size=8, net_arch=[8]))
    assert plain.value_horizon == 0


def test_value_per_step_leaves_the_policy_and_its_weights_alone():
    """The flag changes the critic's target only: the same seed gives the same weights and logits."""
    kwargs = {"env_id": "MetaBandit-v0", "env_kwargs": {"n_arms": 2, "horizon": 5}, "hidden_size": 8, "net_arch": [8]}
    a, b = build_network(RL2Config(**kwargs)), build_network(RL2Config(**kwargs, value_per_step=True))
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert torch.equal(x, y), name
    obs = torch.randn(5, 3, a.obs_size)
    assert torch.equal(a(obs)[0], b(obs)[0])


def test_value_per_step_is_checked_as_a_flag():
    config = RL2Config(env_id="MetaBandit-v0", value_per_step="yes")
    with pytest.raises(ValueError, match="value_per_step must be true or false"):
        config.validate()


def test_the_candidates_follow_the_horizon():
    assert reference_discounts(100) == (0.98, 0.99)
    assert reference_discounts(30) == (0.5, 0.6)  # nearer 10 than 100 in ratio
    assert reference_discounts(300) == (0.99, 0.995)
    names = list(index_references(5, 100))
    assert names == ["Finite-horizon Gittins", "Gittins (discount 0.98)", "Gittins (discount 0.99)", "Bayes-UCB",
                     "Thompson sampling"]
    assert "Finite-horizon Gittins" not in index_references(5, 500)


def test_best_reference_is_the_best_candidate_on_the_same_episodes():
    episodes, seed = 600, 3
    name, result, candidates = reference_evaluation("MetaBandit-v0", BIG, episodes, seed, reference="best")
    assert set(candidates) == {"finite-horizon-gittins", "gittins-0.5", "gittins-0.6", "bayes-ucb",
                               "thompson-sampling"}
    assert name == max(candidates, key=candidates.get)
    assert result.mean_return == candidates[name]
    # each candidate's figure is its own evaluation on those episodes, recomputed independently
    policies = index_references(10, 30)
    again = evaluate_bandit_policy(policies["Thompson sampling"], n_arms=10, horizon=30, n_episodes=episodes, seed=seed)
    assert candidates["thompson-sampling"] == pytest.approx(again.mean_return, abs=1e-12)
    # the default keeps Thompson sampling; where the DP fits, both give the Bayes-optimal policy
    default = reference_evaluation("MetaBandit-v0", BIG, episodes, seed)
    assert default[0] == "thompson-sampling" and default[2] is None
    assert default[1].mean_return == candidates["thompson-sampling"]
    small = reference_evaluation("MetaBandit-v0", {"n_arms": 2, "horizon": 10}, 200, 0, reference="best")
    exact = evaluate_bandit_policy(BayesOptimalPolicy(2, 10), n_arms=2, horizon=10, n_episodes=200, seed=0)
    assert small[0] == "bayes-optimal" and small[2] is None and small[1].mean_return == exact.mean_return
    with pytest.raises(ValueError, match="reference must be one of"):
        reference_evaluation("MetaBandit-v0", BIG, 10, 0, reference="oracle")


def test_a_summary_pairs_the_agent_with_the_best_reference_and_the_sweep_reads_it():
    config = SimpleNamespace(env_id="MetaBandit-v0", env_kwargs=BIG)
    agent = GreedyPolicy(10)
    summary = bandit_summary(agent, config, 600, None, 3, reference="best")
    paired = summary["paired"]
    assert paired["reference"] == max(paired["candidates"], key=paired["candidates"].get)
    assert paired["reference_return"] == paired["candidates"][paired["reference"]]
    greedy = evaluate_bandit_agent(agent, "MetaBandit-v0", BIG, 600, 3)
    assert paired["mean_difference"] == pytest.approx(greedy.mean_return - paired["reference_return"], abs=1e-12)
    gap, stderr, name = paired_gap(summary)
    assert name == paired["reference"]
    assert gap == pytest.approx(-paired["mean_difference"] / (paired["reference_return"] - summary["random_return"]))
    assert stderr == pytest.approx(paired["stderr"] / (paired["reference_return"] - summary["random_return"]))
    record = {"env_id": "MetaBandit-v0", "evaluation": {"trained": summary}, "training": {"train_seconds": 1.0}}
    metrics = cell_metrics(record)
    assert metrics["reference_return"] == paired["reference_return"]
    assert metrics["paired_stderr"] == paired["stderr"]
    config_entry = {"config": "grid", "env_id": "MetaBandit-v0", "seeds": [0], "reference": paired["reference"],
                    "metrics": {k: {"mean": v, "half_width": None} for k, v in metrics.items()}}
    header, row = [line for line in table_lines([config_entry]) if line.startswith("| ")][:2]
    assert header.startswith("| config | seeds | reference | return | reference_return |")
    assert row.startswith(f"| grid | 1 | {paired['reference']} | {summary['mean_return']:.3f} | "
                          f"{paired['reference_return']:.3f} |")


def test_a_spec_names_a_bad_reference(tmp_path):
    spec = tmp_path / "grid.yaml"
    spec.write_text("tasks: [bandit-2arm]\nevaluation: {reference: oracle}\n")
    with pytest.raises(SpecError, match=r"evaluation\.reference: must be one of default, best, got 'oracle'"):
        load_spec(spec)


def test_the_command_line_refuses_an_unknown_reference(tmp_path, capsys):
    from benchmarks import cli

    assert cli.main(["evaluate", str(tmp_path), "--reference", "oracle"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--reference" in err[0] and "oracle" in err[0]
