"""Supervised LSTM predictors: they learn, save and load exactly, resume, and adapt as state machines."""

import json

import gymnasium as gym
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import meta_envs  # noqa: E402, F401
from agents.predictor import (  # noqa: E402
    LSTMPredictor,
    PredictorConfig,
    PredictorMachine,
    _batch,
    load_predictor,
    train_predictor,
)
from bayes.evaluate import evaluate_predictor  # noqa: E402
from bayes.statemachine import StateMachine  # noqa: E402


def quiet(_message):
    pass


# The mean KL per step to the Bayes predictive (nats) after 1500 steps of 256 episodes (hidden size
# 32, about 7 s on one core), on 4000 fresh episodes (seed 1). Measured for seeds 0, 1, 2:
#   MetaCoin-v0          0.00040  0.00088  0.00072   (standard errors <= 1e-5)
#   MetaDie-v0           0.00060  0.00052  0.00079   (<= 9e-6)
#   MetaGaussian-v0      0.00094  0.00117  0.00099   (<= 2.3e-5)
#   MetaExponential-v0   0.00092  0.00275  0.00267   (<= 1e-4)
# Each bound is 1.5 x (the worst seed + 3 standard errors). For scale: the untrained network is at
# 0.13-0.33, and 300 steps (the old test's budget) reach 0.0012-0.0023 (0.007-0.010 exponential).
KL_BOUNDS = {"MetaCoin-v0": 0.0014, "MetaDie-v0": 0.0013, "MetaGaussian-v0": 0.0019, "MetaExponential-v0": 0.0046,
             "MetaSwitchingCoin-v0": 0.0005}  # measured 0.00024 (seed 0)


@pytest.mark.slow
@pytest.mark.parametrize("env_id", sorted(KL_BOUNDS))
def test_a_short_run_brings_the_kl_near_zero(env_id, tmp_path):
    config = PredictorConfig(env_id=env_id, steps=1500, eval_every=1500, eval_episodes=1000, hidden_size=32, seed=0)
    model = gym.make(env_id).unwrapped.model
    train_predictor(config, tmp_path, log=quiet)
    machine, _ = load_predictor(tmp_path)
    evaluation = evaluate_predictor(machine, model, 20, 4000, seed=1)
    assert evaluation.mean_kl < KL_BOUNDS[env_id], (evaluation.mean_kl, evaluation.mean_kl_stderr)
    assert evaluation.mean_kl_stderr < KL_BOUNDS[env_id] / 10
    assert (tmp_path / "checkpoint.pt").exists() and list((tmp_path / "tb").iterdir())


def test_the_adapter_steps_like_the_network_and_save_load_is_exact(tmp_path):
    config = PredictorConfig(env_id="MetaDie-v0", steps=20, eval_every=20, eval_episodes=100, hidden_size=16)
    train_predictor(config, tmp_path, log=quiet)
    machine, loaded_config = load_predictor(tmp_path)
    assert isinstance(machine, StateMachine) and loaded_config == config
    model = gym.make("MetaDie-v0").unwrapped.model
    obs, _ = _batch(model, 20, 5, np.random.default_rng(0))
    with torch.no_grad():
        raw, _ = machine.network(torch.from_numpy(obs))
        whole = machine.network.params(raw).numpy()
    state = machine.initial_state(5)
    for t in range(20):
        state, output = machine.step(state, obs[t])
        np.testing.assert_allclose(output, whole[t], rtol=1e-5, atol=1e-6)
    # a second load gives the same outputs
    again, _ = load_predictor(tmp_path)
    _, out_a = machine.step(machine.initial_state(5), obs[0])
    _, out_b = again.step(again.initial_state(5), obs[0])
    np.testing.assert_array_equal(out_a, out_b)


def test_an_interrupted_run_resumes_to_the_same_weights(tmp_path):
    straight = PredictorConfig(env_id="MetaCoin-v0", steps=40, eval_every=20, eval_episodes=100, hidden_size=8)
    train_predictor(straight, tmp_path / "straight", log=quiet)
    first = PredictorConfig(env_id="MetaCoin-v0", steps=20, eval_every=20, eval_episodes=100, hidden_size=8)
    train_predictor(first, tmp_path / "resumed", log=quiet)
    messages = []
    train_predictor(straight, tmp_path / "resumed", log=messages.append)
    assert any("resumed" in m and "step 20" in m for m in messages)
    a = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=True)["network"]
    b = torch.load(tmp_path / "resumed" / "checkpoint.pt", weights_only=True)["network"]
    for key in a:
        torch.testing.assert_close(a[key], b[key])


def test_the_clock_input_is_optional(tmp_path):
    config = PredictorConfig(env_id="MetaGaussian-v0", steps=3, eval_every=3, eval_episodes=50, hidden_size=8,
                             use_time_input=True)
    train_predictor(config, tmp_path, log=quiet)
    machine, loaded = load_predictor(tmp_path)
    assert loaded.use_time_input and machine.network.lstm.input_size == 3
    obs = np.zeros((2, 3))
    obs[1, -1] = 0.5  # only the clock differs
    _, output = machine.step(machine.initial_state(2), obs)
    assert not np.allclose(output[0], output[1])
    plain = LSTMPredictor(gym.make("MetaGaussian-v0").unwrapped.model, 8)
    assert plain.lstm.input_size == 2
    _, output = PredictorMachine(plain).step(np.zeros((2, 16)), obs)
    np.testing.assert_array_equal(output[0], output[1])


def test_bad_input(tmp_path):
    with pytest.raises(ValueError, match="prediction env"):
        train_predictor(PredictorConfig(env_id="MetaBandit-v0"), tmp_path / "a", log=quiet)
    with pytest.raises(ValueError, match="hidden_size"):
        train_predictor(PredictorConfig(hidden_size=0), tmp_path / "b", log=quiet)
    with pytest.raises(ValueError, match="horizon"):
        train_predictor(PredictorConfig(env_kwargs={"horizon": 0}), tmp_path / "c", log=quiet)
    run = tmp_path / "d"
    train_predictor(PredictorConfig(steps=2, eval_every=2, eval_episodes=10, hidden_size=4), run, log=quiet)
    with pytest.raises(ValueError, match="another configuration"):
        train_predictor(PredictorConfig(steps=2, hidden_size=8), run, log=quiet)
    (run / "checkpoint.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="readable predictor run"):
        load_predictor(run)
    with pytest.raises(ValueError, match="readable predictor run"):
        load_predictor(tmp_path / "missing")
    (run / "config.json").write_text(json.dumps({"env_id": "MetaCoin-v0", "nonsense": 1}))
    with pytest.raises(ValueError, match="readable predictor run"):
        load_predictor(run)


def test_a_time_budget_counts_the_time_already_spent(tmp_path):
    config = PredictorConfig(env_id="MetaCoin-v0", steps=10**6, max_seconds=0.3, eval_every=10**6,
                             eval_episodes=50, hidden_size=8)
    first = train_predictor(config, tmp_path, log=quiet)
    assert 0 < first["step"] < 10**6 and first["history"][-1]["step"] == first["step"]  # evaluated at the end
    messages = []
    again = train_predictor(config, tmp_path, log=messages.append)  # the budget is spent: nothing more to train
    assert again["step"] == first["step"] and again["history"] == first["history"]
    assert any("out of time" in m for m in messages)
