"""The rl2 belief critic: exact features of the posterior, and an actor that never reads them."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from agents.bandit_eval import base_env  # noqa: E402
from agents.belief import belief_features, belief_size  # noqa: E402
from agents.rl2 import RL2Config, RL2Machine, _rollout, build_network, load_rl2, train_rl2  # noqa: E402
from meta_envs.catalog import native_vector_env  # noqa: E402


def quiet(_message):
    pass


def test_bernoulli_features_are_the_posterior_means_and_counts():
    model = base_env("MetaBandit-v0", {"n_arms": 2}).model
    posterior = np.array([[[3.0, 1.0], [1.0, 2.0]], [[1.0, 1.0], [1.0, 1.0]]])  # (alpha, beta) per arm
    got = belief_features(model, posterior, t=3, horizon=20)
    assert got.dtype == np.float32 and got.shape == (2, belief_size(model)) == (2, 5)
    np.testing.assert_allclose(got[0], [3 / 4, 1 / 3, 4 / 20, 3 / 20, 3 / 20], rtol=1e-6)
    np.testing.assert_allclose(got[1], [1 / 2, 1 / 2, 2 / 20, 2 / 20, 3 / 20], rtol=1e-6)


def test_gaussian_features_are_standardised_by_the_prior():
    model = base_env("MetaGaussianBandit-v0", {}).model
    mean, std = np.asarray(model.prior_mean, float), np.asarray(model.prior_std, float)
    posterior = np.stack([np.stack([mean + 0.5 * std, 0.25 * std], axis=-1)])  # (1, K, 2)
    got = belief_features(model, posterior, t=10, horizon=20)
    k = len(mean)
    np.testing.assert_allclose(got[0], [0.5] * k + [0.25] * k + [0.5], rtol=1e-6)


def test_a_predictor_model_is_refused():
    with pytest.raises(ValueError, match="belief critic needs"):
        belief_size(base_env("MetaDie-v0", {}).model)


def test_the_rollout_features_follow_the_pulls_exactly():
    """With a Beta(1, 1) prior on each of K arms, the pseudo-counts before step t sum to 2K + t."""
    config = RL2Config(env_id="MetaBandit-v0", env_kwargs={"n_arms": 3}, num_envs=16, hidden_size=8, net_arch=[8],
                       critic="belief")
    network = build_network(config)
    env = native_vector_env("MetaBandit-v0", 16, n_arms=3)
    batch = _rollout(network, env, seed=5, generator=torch.Generator().manual_seed(0), grad=False)
    horizon = env.horizon
    beliefs = batch.beliefs.numpy()  # (T, B, 2K + 1)
    assert beliefs.shape == (horizon, 16, 7)
    counts = beliefs[:, :, 3:6].sum(-1) * horizon
    np.testing.assert_allclose(counts, (6 + np.arange(horizon))[:, None].repeat(16, 1), rtol=1e-5)
    np.testing.assert_allclose(beliefs[:, :, 6], (np.arange(horizon) / horizon)[:, None].repeat(16, 1), rtol=1e-6)
    # the arm pulled at t gains one pseudo-count at t + 1
    pulled = np.eye(3)[batch.actions.numpy()[:-1]]  # (T-1, B, K)
    np.testing.assert_allclose((beliefs[1:, :, 3:6] - beliefs[:-1, :, 3:6]) * horizon, pulled, atol=1e-5)
    assert batch.values.shape == (horizon, 16)


def test_the_exported_agent_never_reads_the_critic(tmp_path):
    """The state machine is the core and the policy head: replacing the value head changes nothing."""
    config = RL2Config(num_envs=32, timesteps=1280, eval_every=640, eval_episodes=100, hidden_size=8, net_arch=[8],
                       torch_threads=1, critic="belief", critic_arch=[16])
    train_rl2(config, tmp_path / "run", log=quiet)
    machine, loaded = load_rl2(tmp_path / "run")
    assert loaded.critic == "belief" and machine.network.value_head[0].in_features == 5
    obs = torch.rand(7, 4)
    state = machine.initial_state(7)
    _, before = machine.step(state, obs.numpy())
    for p in machine.network.value_head.parameters():
        torch.nn.init.normal_(p)
    other = RL2Machine(machine.network)
    _, after = other.step(other.initial_state(7), obs.numpy())
    np.testing.assert_array_equal(before, after)
    # and the network's policy needs no posterior: values are None without one
    logits, values, _ = machine.network(obs[None])
    assert values is None and logits.shape == (1, 7, 2)
