"""The batched RL² trainer: network, sampling, GAE, training, state machine, save/load, resume."""

import json
import signal
from fractions import Fraction

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from agents.bandit_eval import evaluate_bandit_agent, reference_policy  # noqa: E402
from agents.rl2 import (  # noqa: E402
    PRESETS,
    RecurrentActorCritic,
    RL2Config,
    RL2Machine,
    _gae,
    _rollout,
    _update,
    build_network,
    load_rl2,
    preset_config,
    sample_actions,
    train_rl2,
)
from agents.rollouts import rollout  # noqa: E402
from agents.runs import load_run  # noqa: E402
from bayes.evaluate import PairedComparison  # noqa: E402
from bayes.statemachine import StateMachine  # noqa: E402
from meta_envs.catalog import native_vector_env  # noqa: E402


def quiet(_message):
    pass


def tiny(**overrides):
    values = {"num_envs": 32, "timesteps": 1280, "eval_every": 640, "eval_episodes": 100, "hidden_size": 8,
              "net_arch": [8], "torch_threads": 1}
    values.update(overrides)
    return RL2Config(**values)


def params(network):
    return {k: v.clone() for k, v in network.state_dict().items()}


def same_params(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# ------------------------------------------------------------------------------ pieces


def test_gae_matches_the_sum_over_the_rest_of_the_episode():
    rng = np.random.default_rng(0)
    rewards = rng.integers(0, 3, size=(6, 4)).tolist()
    values = rng.integers(-2, 5, size=(6, 4)).tolist()
    gamma, lam = Fraction(9, 10), Fraction(3, 4)
    got = _gae(torch.tensor(rewards, dtype=torch.float64), torch.tensor(values, dtype=torch.float64),
               float(gamma), float(lam)).numpy()
    for b in range(4):
        v = [Fraction(values[t][b]) for t in range(6)] + [Fraction(0)]  # the episode ends: v_T = 0
        delta = [Fraction(rewards[t][b]) + gamma * v[t + 1] - v[t] for t in range(6)]
        for t in range(6):
            expected = sum((gamma * lam) ** (k - t) * delta[k] for k in range(t, 6))
            assert got[t, b] == pytest.approx(float(expected), abs=1e-12)
    # gamma = lambda = 1: the advantage is the return to go minus the value
    adv = _gae(torch.tensor(rewards, dtype=torch.float64), torch.tensor(values, dtype=torch.float64), 1.0, 1.0)
    to_go = np.cumsum(np.array(rewards)[::-1], axis=0)[::-1]
    assert np.allclose(adv.numpy(), to_go - np.array(values))


def test_sample_actions_follows_the_probabilities_and_the_generator():
    probs = torch.tensor([[0.2, 0.5, 0.3], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]).repeat(20_000, 1)
    a = sample_actions(probs, torch.Generator().manual_seed(1))
    b = sample_actions(probs, torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    first = a[0::3].numpy()
    counts = np.bincount(first, minlength=3) / len(first)
    assert np.allclose(counts, [0.2, 0.5, 0.3], atol=0.015)  # 4.5 standard errors
    assert (a[1::3] == 0).all() and (a[2::3] == 2).all()


@pytest.mark.parametrize("core", ["lstm", "gru", "rnn"])
def test_the_machine_steps_as_the_network_runs_whole_sequences(core):
    network = RecurrentActorCritic(4, 2, core, hidden_size=6, num_layers=2, net_arch=[5])
    machine = RL2Machine(network)
    assert isinstance(machine, StateMachine)
    obs = torch.randn(7, 3, 4)
    with torch.no_grad():
        logits, _, final = network(obs)
    state = machine.initial_state(3)
    assert state.shape == (3, network.state_size) == (3, (2 if core == "lstm" else 1) * 2 * 6)
    for t in range(7):
        state, probs = machine.step(state, obs[t].numpy())
        assert np.allclose(probs, torch.softmax(logits[t], -1).numpy(), atol=1e-6)
        assert np.allclose(probs.sum(1), 1.0)
    assert np.allclose(state, network.flat_state(final).numpy(), atol=1e-6)
    # h then c, layer by layer
    h = final[0] if core == "lstm" else final
    assert np.allclose(state[:, :6], h[0].numpy(), atol=1e-6) and np.allclose(state[:, 6:12], h[1].numpy(), atol=1e-6)
    assert torch.equal(network.flat_state(network.unflat_state(torch.as_tensor(state, dtype=torch.float32))),
                       torch.as_tensor(state, dtype=torch.float32))
    with pytest.raises(ValueError, match="state must have shape"):
        machine.step(np.zeros((3, 5)), obs[0].numpy())


def test_ppo_with_one_epoch_and_one_minibatch_takes_the_a2c_step():
    """At the rollout's own policy PPO's clipped ratio has the policy gradient's gradient."""
    results = []
    for update in ("a2c", "ppo"):
        config = tiny(update=update, n_epochs=1, minibatches=1, max_grad_norm=0.0)
        network = build_network(config)
        optimizer = torch.optim.SGD(network.parameters(), lr=0.1)
        env = native_vector_env(config.env_id, config.num_envs, **config.env_kwargs)
        batch = _rollout(network, env, 3, torch.Generator().manual_seed(0), grad=update == "a2c")
        _update(network, optimizer, batch, config, 0.01, torch.Generator().manual_seed(0))
        results.append((params(network), batch.actions))
    (a, actions_a), (b, actions_b) = results
    assert torch.equal(actions_a, actions_b)
    for key in a:
        assert torch.allclose(a[key], b[key], atol=1e-5), key


# ------------------------------------------------------------------------------ training


@pytest.mark.slow
def test_a_short_run_comes_near_bayes(tmp_path):
    """The quick preset (2,048,000 env steps, about 7 s on one core) on MetaBandit-v0, paired with
    the Bayes-optimal policy on the same 20,000 episodes: the paired Bayes gap
    ``mean(R_bayes - R_agent) / (V_bayes - V_random)`` is measured with a standard error of 0.005.

    Measured (this config, evaluation seed 7): seed 0: 0.082, seed 1: 0.063, seed 2: 0.065
    (standard errors 0.005); the bound is the worst of them plus 3 standard errors plus 0.05 of
    slack: 0.15 (random play is 1, the old bound was 0.5). Not every seed gets there: seed 3
    stalls at 0.380 and seed 4 reaches 0.109, so the bound holds for this seed's run, which is
    deterministic. Trebling the budget does not make it reliable either (6,144,000 steps: 0.040,
    0.210, 0.033 for seeds 0-2)."""
    config = preset_config("quick", "MetaBandit-v0", seed=0)
    result = train_rl2(config, tmp_path, log=quiet)
    machine, _ = load_rl2(tmp_path)
    evaluation = evaluate_bandit_agent(machine, "MetaBandit-v0", {}, 20_000, seed=7)
    name, bayes = reference_policy("MetaBandit-v0", {})
    pair = PairedComparison.of(evaluation, evaluate_bandit_agent(bayes, "MetaBandit-v0", {}, 20_000, seed=7))
    span = evaluation.bayes_optimal_return - evaluation.random_return
    paired_gap, paired_stderr = -pair.mean_difference / span, pair.stderr / span
    assert name == "bayes-optimal" and paired_stderr < 0.01, (name, paired_stderr)
    assert paired_gap < 0.15, (paired_gap, paired_stderr)
    assert result["seconds"] < 60 and result["timesteps"] >= config.timesteps


def test_same_seed_same_training_and_another_seed_differs(tmp_path):
    runs = [train_rl2(tiny(seed=s), tmp_path / f"run{i}", log=quiet) for i, s in enumerate((4, 4, 5))]
    nets = [params(load_rl2(tmp_path / f"run{i}")[0].network) for i in range(3)]
    assert same_params(nets[0], nets[1]) and runs[0]["history"][-1]["mean_return"] == runs[1]["history"][-1][
        "mean_return"]
    assert not same_params(nets[0], nets[2])


def test_save_load_round_trip_gives_identical_outputs(tmp_path):
    seen = {}

    def keep(info):
        seen["info"] = info

    train_rl2(tiny(), tmp_path, log=quiet, callback=keep)
    machine, config = load_run(tmp_path)
    assert isinstance(machine, RL2Machine) and config.algo == "rl2" and config == tiny()
    saved = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert same_params(params(machine.network), saved["network"])
    again, _ = load_rl2(tmp_path)
    obs = np.random.default_rng(0).random((5, 4))
    assert np.array_equal(machine.step(machine.initial_state(5), obs)[1], again.step(again.initial_state(5), obs)[1])
    first = evaluate_bandit_agent(machine, "MetaBandit-v0", {}, 300, seed=2)
    second = evaluate_bandit_agent(again, "MetaBandit-v0", {}, 300, seed=2)
    assert np.array_equal(first.returns, second.returns)
    assert set(seen["info"]) >= {"timesteps", "seconds", "mean_return", "policy_loss", "value_loss", "entropy"}


def test_a_stopped_run_resumes_bit_for_bit(tmp_path):
    config = tiny(timesteps=3200, eval_every=1280)
    train_rl2(config, tmp_path / "whole", log=quiet)
    stopped = train_rl2(config, tmp_path / "split", log=quiet, callback=lambda info: info["timesteps"] < 1920)
    assert stopped["timesteps"] == 1920
    messages = []
    resumed = train_rl2(config, tmp_path / "split", log=messages.append)
    assert any("resumed" in m for m in messages) and resumed["timesteps"] == 3200
    whole, _ = load_rl2(tmp_path / "whole")
    split, _ = load_rl2(tmp_path / "split")
    assert same_params(params(whole.network), params(split.network))
    whole_saved = torch.load(tmp_path / "whole" / "checkpoint.pt", weights_only=True)
    split_saved = torch.load(tmp_path / "split" / "checkpoint.pt", weights_only=True)
    for key in ("rng", "timesteps"):
        assert whole_saved[key] == split_saved[key]
    assert torch.equal(whole_saved["generator"], split_saved["generator"])


def test_ctrl_c_finishes_the_batch_and_keeps_a_checkpoint(tmp_path):
    def press_ctrl_c(info):
        if info["timesteps"] == 640:
            signal.raise_signal(signal.SIGINT)

    messages = []
    with pytest.raises(KeyboardInterrupt):
        train_rl2(tiny(timesteps=3200), tmp_path, log=messages.append, callback=press_ctrl_c)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is restored
    saved = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert saved["timesteps"] == 640 and any("interrupted" in m for m in messages)
    result = train_rl2(tiny(timesteps=3200), tmp_path, log=quiet)
    assert result["timesteps"] == 3200


def test_max_seconds_stops_with_a_checkpoint(tmp_path):
    result = train_rl2(tiny(timesteps=10**9, max_seconds=1e-9), tmp_path, log=quiet)
    assert result["timesteps"] == 0 and (tmp_path / "checkpoint.pt").exists()


@pytest.mark.slow
@pytest.mark.parametrize("core", ["gru", "rnn"])
def test_gru_and_rnn_cores_train_and_export_states(core, tmp_path):
    config = preset_config("quick", "MetaBandit-v0", core=core, timesteps=512_000, num_envs=256)
    train_rl2(config, tmp_path, log=quiet)
    machine, loaded = load_rl2(tmp_path)
    assert loaded.core == core and isinstance(machine.network.core, getattr(torch.nn, core.upper()))
    evaluation = evaluate_bandit_agent(machine, "MetaBandit-v0", {}, 4000, seed=3)
    assert evaluation.mean_return > evaluation.random_return + 5 * evaluation.stderr
    record = rollout(machine, "MetaBandit-v0", 50, seed=1)
    assert record.states.shape == (20, 50, config.hidden_size)  # h only: no cell state
    # the recorded states are the core's own: replaying the observations reproduces them
    obs = torch.as_tensor(record.observations, dtype=torch.float32)
    with torch.no_grad():
        out, _ = machine.network.core(obs)
    assert np.allclose(record.states, out.numpy(), atol=1e-5)


def test_gaussian_bandit_and_three_arms_train(tmp_path):
    for name, env_id, kwargs in (("g", "MetaGaussianBandit-v0", {}), ("k3", "MetaBandit-v0", {"n_arms": 3})):
        config = preset_config("quick", env_id, kwargs, timesteps=20_480, num_envs=256)
        result = train_rl2(config, tmp_path / name, log=quiet)
        machine, _ = load_rl2(tmp_path / name)
        assert machine.network.n_actions == (3 if name == "k3" else 2)
        assert np.isfinite(result["history"][-1]["mean_return"])


def test_tensorboard_logs_the_bayes_gap(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    train_rl2(tiny(), tmp_path, log=quiet)
    events = EventAccumulator(str(tmp_path / "tb"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"eval/bayes_gap", "eval/mean_return", "eval/regret", "train/policy_loss", "train/value_loss",
            "train/entropy", "rollout/ep_rew_mean", "time/fps", "train/ent_coef"} <= tags
    assert [e.step for e in events.Scalars("eval/bayes_gap")] == [640, 1280]


def test_progress_bar(tmp_path, capsys):
    train_rl2(tiny(), tmp_path, log=quiet, progress_bar=True)
    assert "1.28k/1.28k" in capsys.readouterr().err


# ------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"env_id": "MetaCoin-v0"}, "rl2 trains bandit agents"),
        ({"core": "transformer"}, "core must be one of"),
        ({"update": "sac"}, "update must be one of"),
        ({"num_envs": 0}, "num_envs"),
        ({"hidden_size": 2.5}, "hidden_size"),
        ({"gamma": 1.5}, "gamma must lie in"),
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"ent_coef": -0.1}, "ent_coef must be >= 0"),
        ({"net_arch": [64, 0]}, "net_arch"),
        ({"minibatches": 64}, "minibatches"),
        ({"eval_episodes": 1}, "eval_episodes"),
        ({"normalize_advantage": "yes"}, "normalize_advantage"),
        ({"algo": "ppo"}, "algo is 'rl2'"),
    ],
)
def test_bad_configs_are_refused_before_training(overrides, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        train_rl2(tiny(**overrides), tmp_path / "run", log=quiet)
    assert not (tmp_path / "run").exists()


def test_unknown_presets_keys_and_env_arguments(tmp_path):
    assert {"MetaBandit-v0", "MetaGaussianBandit-v0", "quick"} <= set(PRESETS)
    with pytest.raises(ValueError, match="unknown rl2 preset 'fast'"):
        preset_config("fast", "MetaBandit-v0")
    with pytest.raises(ValueError, match=r"unknown rl2 config keys \['lstm_size'\]"):
        preset_config("quick", "MetaBandit-v0", lstm_size=3)
    with pytest.raises(ValueError, match="n_arms"):
        train_rl2(tiny(env_kwargs={"n_arms": 0}), tmp_path / "run", log=quiet)
    assert not (tmp_path / "run").exists()


def test_a_folder_of_another_run_is_refused(tmp_path):
    train_rl2(tiny(), tmp_path, log=quiet)
    with pytest.raises(ValueError, match="another configuration"):
        train_rl2(tiny(hidden_size=4), tmp_path, log=quiet)
    # the budget may be raised: training continues
    assert train_rl2(tiny(timesteps=1920), tmp_path, log=quiet)["timesteps"] == 1920


def test_missing_corrupt_and_mismatched_checkpoints(tmp_path):
    with pytest.raises(ValueError, match="does not hold a readable rl2 run"):
        load_rl2(tmp_path)
    train_rl2(tiny(), tmp_path / "run", log=quiet)
    (tmp_path / "run" / "checkpoint.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="does not hold a readable rl2 run"):
        load_rl2(tmp_path / "run")
    train_rl2(tiny(), tmp_path / "other", log=quiet)
    config = json.loads((tmp_path / "other" / "config.json").read_text())
    config["env_kwargs"] = {"horizon": 10}
    (tmp_path / "other" / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="was made for"):
        load_rl2(tmp_path / "other")
