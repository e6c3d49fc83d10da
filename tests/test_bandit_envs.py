"""MetaBandit-v0 and MetaGaussianBandit-v0: tasks, posteriors, observations, common random numbers."""

import gymnasium as gym
import numpy as np
import pytest
from scipy import integrate, stats

import meta_envs  # noqa: F401  (registers the ids)


def run_episode(env, actions, seed=None, options=None):
    """Play ``actions``; return the observations, rewards and infos (reset included)."""
    obs, info = env.reset(seed=seed, options=options)
    observations, rewards, infos = [obs], [], [info]
    for t, action in enumerate(actions):
        obs, reward, terminated, truncated, info = env.step(action)
        observations.append(obs)
        rewards.append(reward)
        infos.append(info)
        assert terminated == (t == len(actions) - 1) and not truncated
    return observations, rewards, infos


@pytest.mark.parametrize("env_id", ["MetaBandit-v0", "MetaGaussianBandit-v0"])
def test_same_seed_same_episode(env_id):
    actions = np.random.default_rng(5).integers(0, 3, 20)
    a = run_episode(gym.make(env_id, n_arms=3), actions, seed=42)
    b = run_episode(gym.make(env_id, n_arms=3), actions, seed=42)
    c = run_episode(gym.make(env_id, n_arms=3), actions, seed=43)
    np.testing.assert_array_equal(np.array(a[0]), np.array(b[0]))
    np.testing.assert_array_equal(a[1], b[1])
    for ia, ib in zip(a[2], b[2], strict=True):
        np.testing.assert_array_equal(ia["task"], ib["task"])
        np.testing.assert_array_equal(ia["posterior"], ib["posterior"])
    assert not np.array_equal(a[2][0]["task"], c[2][0]["task"])


def test_bernoulli_tasks_match_the_prior_moments():
    prior = np.array([[1.0, 1.0], [2.0, 5.0], [0.3, 0.3]])
    envs = gym.make_vec(
        "MetaBandit-v0", num_envs=50_000, n_arms=3, prior=prior, vectorization_mode="vector_entry_point"
    )
    _, info = envs.reset(seed=0)
    tasks = info["task"]
    assert tasks.shape == (50_000, 3) and np.all((tasks >= 0) & (tasks <= 1))
    for k, (a, b) in enumerate(prior):
        mean, var = stats.beta.stats(a, b, moments="mv")
        se = np.sqrt(var / len(tasks))
        assert abs(tasks[:, k].mean() - mean) < 5 * se
        # variance of the sample variance ~ (mu4 - var^2)/n; 6% is > 5 standard errors here
        assert tasks[:, k].var() == pytest.approx(var, rel=0.06)
        assert stats.kstest(tasks[:, k], stats.beta(a, b).cdf).pvalue > 1e-3


def test_gaussian_tasks_match_the_prior_moments():
    envs = gym.make_vec(
        "MetaGaussianBandit-v0", num_envs=50_000, n_arms=2, prior=[[1.0, 2.0], [-3.0, 0.5]],
        vectorization_mode="vector_entry_point",
    )
    _, info = envs.reset(seed=1)
    for k, (m, s) in enumerate([(1.0, 2.0), (-3.0, 0.5)]):
        assert stats.kstest(info["task"][:, k], stats.norm(m, s).cdf).pvalue > 1e-3


def test_bernoulli_posterior_is_the_conjugate_update_of_what_was_observed():
    prior = np.array([[1.0, 2.0], [0.5, 0.5], [3.0, 1.0]])
    env = gym.make("MetaBandit-v0", n_arms=3, horizon=30, prior=prior)
    actions = np.random.default_rng(0).integers(0, 3, 30)
    observations, rewards, infos = run_episode(env, actions, seed=7)
    np.testing.assert_array_equal(infos[0]["posterior"], prior)
    successes, failures = np.zeros(3), np.zeros(3)
    for t, (action, reward) in enumerate(zip(actions, rewards, strict=True)):
        assert reward in (0.0, 1.0) and isinstance(reward, float)
        successes[action] += reward
        failures[action] += 1 - reward
        expected = np.stack([prior[:, 0] + successes, prior[:, 1] + failures], axis=1)
        np.testing.assert_array_equal(infos[t + 1]["posterior"], expected)
        # the observation: one-hot previous action, previous reward, elapsed fraction
        obs = observations[t + 1]
        np.testing.assert_array_equal(obs[:3], np.eye(3)[action])
        assert obs[3] == reward and obs[4] == np.float32((t + 1) / 30)
    np.testing.assert_array_equal(observations[0], np.zeros(5))
    np.testing.assert_array_equal(infos[-1]["task"], infos[0]["task"])  # one episode, one task


def test_gaussian_posterior_matches_numerical_bayes_rule():
    prior_mean, prior_std, noise = np.array([0.5, -1.0]), np.array([2.0, 0.7]), np.array([1.5, 0.3])
    env = gym.make("MetaGaussianBandit-v0", prior=np.stack([prior_mean, prior_std], 1), noise_std=noise, horizon=8)
    actions = [0, 1, 1, 0, 0, 1, 0, 0]
    _, rewards, infos = run_episode(env, actions, seed=3)
    pulls = {0: [], 1: []}
    for action, reward in zip(actions, rewards, strict=True):
        pulls[action].append(reward)
    for k in (0, 1):
        def unnormalised(mu, k=k):
            return stats.norm.pdf(mu, prior_mean[k], prior_std[k]) * np.prod(stats.norm.pdf(pulls[k], mu, noise[k]))

        # integrate over a window that holds all the posterior mass (width from the data alone)
        centre = np.mean(pulls[k])
        width = 30 * min(prior_std[k], noise[k] / np.sqrt(len(pulls[k]))) + abs(centre - prior_mean[k])
        lo, hi = centre - width, centre + width

        def moment(f, lo=lo, hi=hi, unnormalised=unnormalised):
            return integrate.quad(lambda m: f(m) * unnormalised(m), lo, hi, epsabs=0, epsrel=1e-12, limit=500)[0]

        z = moment(lambda m: 1.0)
        mean = moment(lambda m: m) / z
        std = np.sqrt(moment(lambda m, mean=mean: (m - mean) ** 2) / z)
        np.testing.assert_allclose(infos[-1]["posterior"][k], [mean, std], rtol=1e-8)


def test_fixed_task_and_common_random_numbers():
    """With one seed, the arm k reward at step t does not depend on the actions taken."""
    env = gym.make("MetaBandit-v0", n_arms=2, horizon=200)
    task = {"task": [0.3, 0.6]}
    _, low, infos = run_episode(env, [0] * 200, seed=11, options=task)
    np.testing.assert_array_equal(infos[0]["task"], [0.3, 0.6])
    _, high, _ = run_episode(env, [1] * 200, seed=11, options=task)
    # one uniform per step, mapped through the pulled arm: a 1 from the worse arm implies a 1
    # from the better arm at the same step
    assert np.all(np.array(low) <= np.array(high))
    mixed_actions = np.random.default_rng(0).integers(0, 2, 200)
    _, mixed, _ = run_episode(env, mixed_actions, seed=11, options=task)
    expected = np.where(mixed_actions == 0, low, high)
    np.testing.assert_array_equal(mixed, expected)


def test_expected_return_of_a_fixed_arm_is_horizon_times_prior_mean():
    envs = gym.make_vec("MetaBandit-v0", num_envs=20_000, prior=[[2.0, 3.0], [1.0, 1.0]],
                        vectorization_mode="vector_entry_point")
    envs.reset(seed=2)
    total = np.zeros(20_000)
    for _ in range(20):
        _, rewards, terminated, _, _ = envs.step(np.zeros(20_000, dtype=np.int64))
        total += rewards
    assert terminated.all()
    # E[return] = 20 * 2/5 = 8; Var = Var(E[R|p]) + E[Var(R|p)] with R|p ~ Binomial(20, p)
    p_mean, p_var = 0.4, 2 * 3 / (25 * 6)
    var = 400 * p_var + 20 * (p_mean - (p_var + p_mean**2))
    assert abs(total.mean() - 8.0) < 5 * np.sqrt(var / 20_000)
    assert total.var() == pytest.approx(var, rel=0.05)
