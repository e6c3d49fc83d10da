"""RecurrentPPO on the bandit envs: the VecEnv adapter, training, the state machine, save/load, resume."""

import json
import signal

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sb3_contrib")

from sb3_contrib import RecurrentPPO  # noqa: E402

from agents.bandit_eval import evaluate_bandit_agent, reference_policy  # noqa: E402
from agents.recurrent_ppo import (  # noqa: E402
    PRESETS,
    RecurrentPPOConfig,
    RecurrentPPOMachine,
    build_model,
    load_recurrent_ppo,
    preset_config,
    train_recurrent_ppo,
)
from agents.vec_env import NativeVecEnv  # noqa: E402
from bayes.evaluate import PairedComparison  # noqa: E402
from bayes.statemachine import StateMachine  # noqa: E402


def quiet(_message):
    pass


def tiny(**overrides):
    values = {"num_envs": 16, "batch_size": 160, "n_epochs": 1, "timesteps": 640, "eval_every": 640,
              "eval_episodes": 200, "lstm_hidden_size": 8, "net_arch": [8], "torch_threads": 1}
    values.update(overrides)
    return RecurrentPPOConfig(**values)


# ------------------------------------------------------------------------------ the VecEnv


def test_native_vec_env_follows_sb3_conventions():
    venv = NativeVecEnv("MetaBandit-v0", num_envs=3, seed=5, horizon=2)
    obs = venv.reset()
    assert obs.shape == (3, 4) and not obs.any()
    venv.step_async(np.array([0, 1, 1]))
    obs, rewards, dones, infos = venv.step_wait()
    assert not dones.any() and rewards.dtype == np.float32
    assert all(set(info) == {"task", "posterior"} and info["posterior"].shape == (2, 2) for info in infos)
    assert np.array_equal(obs[:, :2], [[1, 0], [0, 1], [0, 1]]) and np.allclose(obs[:, 3], 0.5)
    actions = np.array([1, 0, 1])
    obs, rewards, dones, infos = venv.step(actions)
    assert dones.all()
    assert not obs.any()  # already the next episode's first observation
    for row, info in enumerate(infos):  # the finished episode's last observation
        assert info["TimeLimit.truncated"] is False
        final = info["terminal_observation"]
        assert np.array_equal(final[:2], np.eye(2)[actions[row]]) and final[2] == rewards[row] and final[3] == 1.0
    assert venv.get_attr("horizon") == [2, 2, 2]
    with pytest.raises(AttributeError, match="share one vector env"):
        venv.set_attr("horizon", 3)


def test_native_vec_env_seeding_repeats_episodes():
    def rewards(seed_via_method):
        venv = NativeVecEnv("MetaBandit-v0", num_envs=64, seed=None if seed_via_method else 11)
        if seed_via_method:
            venv.seed(11)
        venv.reset()
        return np.stack([venv.step(np.zeros(64, dtype=int))[1] for _ in range(25)])

    assert np.array_equal(rewards(True), rewards(False))


def test_native_vec_env_bad_input():
    with pytest.raises(ValueError, match="env_id"):
        NativeVecEnv("CartPole-v1")
    with pytest.raises(ValueError, match="num_envs"):
        NativeVecEnv("MetaBandit-v0", num_envs=0)
    with pytest.raises(ValueError, match="horizon"):
        NativeVecEnv("MetaBandit-v0", horizon=0)


# ---------------------------------------------------------------------- the state machine


def test_the_machine_reproduces_the_policy_during_collection():
    """The log-probabilities SB3 stored while collecting a rollout are the machine's."""
    torch.set_num_threads(1)
    model = build_model(tiny(num_envs=8, batch_size=80, lstm_hidden_size=16, net_arch=[16]))
    _, callback = model._setup_learn(160, None)
    callback.on_training_start(locals(), globals())
    model.collect_rollouts(model.env, callback, model.rollout_buffer, model.n_steps)
    buffer = model.rollout_buffer
    machine = RecurrentPPOMachine(model.policy)
    assert isinstance(machine, StateMachine)
    state = machine.initial_state(8)
    for t in range(model.n_steps):  # n_steps is the horizon: one whole episode per row
        state, probs = machine.step(state, buffer.observations[t])
        taken = buffer.actions[t, :, 0].astype(int)
        assert np.allclose(np.log(probs[np.arange(8), taken]), buffer.log_probs[t], atol=1e-5)
        if t + 1 < model.n_steps:  # the buffer holds the LSTM state each step started from
            assert np.allclose(state[:, :16], buffer.hidden_states_pi[t + 1, 0], atol=1e-5)
            assert np.allclose(state[:, 16:], buffer.cell_states_pi[t + 1, 0], atol=1e-5)


def test_machine_state_is_h_then_c_of_every_layer():
    model = build_model(tiny())
    machine = RecurrentPPOMachine(model.policy)
    obs = np.random.default_rng(0).random((5, 4))
    state, probs = machine.step(machine.initial_state(5), obs)
    assert state.shape == (5, 16) and np.allclose(probs.sum(axis=1), 1.0)
    with torch.no_grad():
        _, (h, c) = model.policy.lstm_actor(torch.as_tensor(obs, dtype=torch.float32)[None])
    assert np.allclose(state[:, :8], h[0].numpy(), atol=1e-6) and np.allclose(state[:, 8:], c[0].numpy(), atol=1e-6)
    again, _ = machine.step(machine.initial_state(5), obs)  # step is pure
    assert np.array_equal(state, again)
    with pytest.raises(ValueError, match="state must have shape"):
        machine.step(np.zeros((5, 3)), obs)


# ------------------------------------------------------------------------------- training


@pytest.mark.slow
def test_a_short_run_beats_random_by_the_measured_margin(tmp_path):
    """The quick preset with three times its budget (300,000 env steps, about 35 s on one core) on
    MetaBandit-v0, paired with the Bayes-optimal policy on the same 4000 episodes (seed 3): the
    paired Bayes gap ``mean(R_bayes - R_agent) / (V_bayes - V_random)`` (random play: 1).

    A minute of RecurrentPPO is not near Bayes. Measured, paired gap (standard error about 0.013):
    300,000 steps: seed 0: 0.180, seed 1: 0.230, seed 2: 0.085; the quick preset's own 100,000
    steps: 0.722, 0.452, 0.330; 400,000 steps (over a minute): seed 0: 0.140. The bound is the
    worst seed at 300,000 steps plus 3 standard errors plus 0.05 of slack: 0.32."""
    config = preset_config("quick", "MetaBandit-v0", seed=0, timesteps=300_000, eval_every=300_000)
    result = train_recurrent_ppo(config, tmp_path, log=quiet)
    machine, _ = load_recurrent_ppo(tmp_path)
    evaluation = evaluate_bandit_agent(machine, "MetaBandit-v0", {}, episodes=4000, seed=3)
    name, bayes = reference_policy("MetaBandit-v0", {})
    pair = PairedComparison.of(evaluation, evaluate_bandit_agent(bayes, "MetaBandit-v0", {}, episodes=4000, seed=3))
    span = evaluation.bayes_optimal_return - evaluation.random_return
    paired_gap, paired_stderr = -pair.mean_difference / span, pair.stderr / span
    assert name == "bayes-optimal" and paired_stderr < 0.02, (name, paired_stderr)
    assert paired_gap < 0.32, (paired_gap, paired_stderr)
    assert result["history"][-1]["timesteps"] == result["timesteps"] >= config.timesteps
    assert (tmp_path / "model.zip").exists() and list((tmp_path / "tb").rglob("events.out.tfevents.*"))


def test_save_load_round_trip_gives_identical_actions(tmp_path):
    train_recurrent_ppo(tiny(), tmp_path, log=quiet)
    machine, config = load_recurrent_ppo(tmp_path)
    assert config == tiny()
    sb3 = RecurrentPPO.load(tmp_path / "model.zip", device="cpu")  # SB3's own zip: the same policy
    obs = np.random.default_rng(1).random((6, 4)).astype(np.float32)
    _, probs = machine.step(machine.initial_state(6), obs)
    with torch.no_grad():
        zeros = torch.zeros(1, 6, 8)
        dist, _ = sb3.policy.get_distribution(torch.as_tensor(obs), (zeros, zeros), torch.zeros(6))
    assert np.allclose(probs, dist.distribution.probs.numpy(), atol=1e-6)
    first = evaluate_bandit_agent(machine, "MetaBandit-v0", {}, episodes=300, seed=4)
    second = evaluate_bandit_agent(load_recurrent_ppo(tmp_path)[0], "MetaBandit-v0", {}, episodes=300, seed=4)
    assert np.array_equal(first.returns, second.returns)


def test_same_seed_same_training(tmp_path):
    first = train_recurrent_ppo(tiny(), tmp_path / "a", log=quiet)["history"]
    second = train_recurrent_ppo(tiny(), tmp_path / "b", log=quiet)["history"]
    assert [h["mean_return"] for h in first] == [h["mean_return"] for h in second]
    a = torch.load(tmp_path / "a" / "checkpoint.pt", weights_only=True)["policy"]
    b = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=True)["policy"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_an_interrupted_run_resumes_from_its_checkpoint(tmp_path):
    train_recurrent_ppo(tiny(timesteps=640), tmp_path, log=quiet)
    saved = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert saved["timesteps"] == 640
    messages = []
    result = train_recurrent_ppo(tiny(timesteps=1280), tmp_path, log=messages.append)
    assert messages[0].startswith(f"resumed {tmp_path} at 640")
    assert result["timesteps"] == 1280 and [h["timesteps"] for h in result["history"]] == [640, 1280]
    assert json.loads((tmp_path / "config.json").read_text())["timesteps"] == 1280


def test_ctrl_c_keeps_a_checkpoint_to_resume_from(tmp_path, monkeypatch):
    from agents import recurrent_ppo

    calls = {"n": 0}

    def interrupt(self):
        calls["n"] += 1
        if calls["n"] == 50:  # during the third rollout of 20 steps: Ctrl-C, the env step finishes
            signal.raise_signal(signal.SIGINT)
        return True

    with monkeypatch.context() as patch:
        patch.setattr(recurrent_ppo.BayesGapCallback, "_on_step", interrupt)
        with pytest.raises(KeyboardInterrupt):
            train_recurrent_ppo(tiny(timesteps=1600, eval_every=1600), tmp_path, log=quiet)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is restored
    saved = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert saved["timesteps"] == 50 * 16  # SB3 counts a step before its callbacks run
    result = train_recurrent_ppo(tiny(timesteps=1600, eval_every=1600), tmp_path, log=quiet)
    assert result["timesteps"] >= 1600 and result["history"][-1]["timesteps"] == result["timesteps"]


def test_max_seconds_stops_with_a_checkpoint(tmp_path):
    result = train_recurrent_ppo(tiny(timesteps=10_000_000, max_seconds=0.5), tmp_path, log=quiet)
    assert 0 < result["timesteps"] < 10_000_000
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=True)["timesteps"] == result["timesteps"]


def test_gaussian_bandit_trains_and_evaluates(tmp_path):
    result = train_recurrent_ppo(tiny(env_id="MetaGaussianBandit-v0"), tmp_path, log=quiet)
    assert result["history"][-1]["bayes_gap"] is None and np.isfinite(result["history"][-1]["mean_return"])


# ------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"env_id": "MetaCoin-v0"}, "bandit agents"),
        ({"num_envs": 0}, "num_envs"),
        ({"gamma": 1.5}, "gamma"),
        ({"ent_coef": -0.1}, "ent_coef"),
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"net_arch": [0]}, "net_arch"),
        ({"batch_size": 10_000}, "batch_size"),
        ({"env_kwargs": {"n_arms": 0}}, "n_arms"),
        ({"algo": "ppo"}, "algo"),
    ],
)
def test_bad_configs_are_refused_before_training(overrides, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        train_recurrent_ppo(tiny(**overrides), tmp_path, log=quiet)
    assert not (tmp_path / "checkpoint.pt").exists()


def test_unknown_presets_and_keys():
    with pytest.raises(ValueError, match="unknown RecurrentPPO preset"):
        preset_config("fastest", "MetaBandit-v0")
    with pytest.raises(ValueError, match="unknown RecurrentPPO config keys"):
        RecurrentPPOConfig.from_dict({"learning_rat": 0.1})
    assert set(PRESETS) >= {"MetaBandit-v0", "MetaGaussianBandit-v0", "quick"}


def test_a_folder_of_another_run_is_refused(tmp_path):
    train_recurrent_ppo(tiny(), tmp_path, log=quiet)
    with pytest.raises(ValueError, match="another configuration"):
        train_recurrent_ppo(tiny(env_kwargs={"n_arms": 3}), tmp_path, log=quiet)


def test_missing_corrupt_and_mismatched_checkpoints(tmp_path):
    with pytest.raises(ValueError, match="readable RecurrentPPO run"):
        load_recurrent_ppo(tmp_path / "nothing")
    train_recurrent_ppo(tiny(), tmp_path, log=quiet)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "env_kwargs": {"n_arms": 3}}))
    with pytest.raises(ValueError, match=r"was made for .*MetaBandit-v0.*not for .*n_arms.: 3"):
        load_recurrent_ppo(tmp_path)  # a checkpoint made for 2 arms, a config for 3
    (tmp_path / "config.json").write_text(json.dumps(config))
    (tmp_path / "checkpoint.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="readable RecurrentPPO run"):
        load_recurrent_ppo(tmp_path)
