"""NormalizedPrediction: Box(-1, 1) actions mapped onto each prediction env's predictive parameters."""

import importlib
import itertools
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env

import meta_envs
from meta_envs.validation import InvalidActionError
from meta_envs.wrappers import (
    LOGIT_REACH,
    PREDICTION_ENV_IDS,
    NormalizedPrediction,
    NormalizedPredictionVector,
    prediction_map,
)

torch = pytest.importorskip("torch")  # imported at collection: no test pays for it
importlib.import_module("torch._dynamo")  # torch's first optimizer imports it lazily (about 1 s)
from stable_baselines3 import PPO  # noqa: E402
from stable_baselines3.common.env_checker import check_env as sb3_check_env  # noqa: E402
from stable_baselines3.common.env_util import make_vec_env  # noqa: E402
from stable_baselines3.common.vec_env import VecCheckNan  # noqa: E402

gym.register_envs(meta_envs)

#: A prior other than the default per env, so the maps are seen to follow the env's own prior.
OTHER_PRIORS = {
    "MetaCoin-v0": {"prior": (1.0, 9.0)},
    "MetaDie-v0": {"n_outcomes": 4, "prior": (0.5, 1.0, 2.0, 4.0)},
    "MetaGaussian-v0": {"prior": (3.0, 10.0), "noise_std": 0.5},
    "MetaExponential-v0": {"prior": (0.5, 3.0)},
}
CASES = [(env_id, {}) for env_id in PREDICTION_ENV_IDS] + list(OTHER_PRIORS.items())
CASE_IDS = [f"{env_id}-{'default' if not kwargs else 'other'}" for env_id, kwargs in CASES]


def wrapped(env_id, **kwargs):
    return NormalizedPrediction(gym.make(env_id, **kwargs))


def grid(dim, points):
    """Every combination of ``points`` values strictly inside (-1, 1): ``(points**dim, dim)``."""
    axis = np.linspace(-0.999, 0.999, points)
    return np.array(list(itertools.product(axis, repeat=dim)))


def assert_same_prediction(pmap, got, want, rtol=1e-5):
    """``got == want`` to relative ``rtol``; a location (the normal mean) to ``rtol`` times its
    map's span, since a float32 normalized action resolves it in absolute terms."""
    atol = np.where(np.array(pmap.kinds) == "affine", rtol * pmap.span, 0.0)
    got, want = np.broadcast_arrays(np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64))
    assert np.all(np.abs(got - want) <= atol + rtol * np.abs(want)), np.max(np.abs(got - want) - rtol * np.abs(want))


def centred(a):
    """The representative of a softmax action with ``max + min == 0`` (what ``normalize`` returns)."""
    return a - (a.max(axis=-1, keepdims=True) + a.min(axis=-1, keepdims=True)) / 2


# ------------------------------------------------------------------- env checkers


@pytest.mark.parametrize("env_id", PREDICTION_ENV_IDS)
def test_unwrapped_env_draws_sb3s_action_space_warning(env_id):
    """The problem solved: SB3 warns about the natural action box of every prediction env."""
    with pytest.warns(UserWarning, match="symmetric and normalized Box action space"):
        sb3_check_env(gym.make(env_id))


@pytest.mark.parametrize("env_id", PREDICTION_ENV_IDS)
def test_sb3_check_env_has_no_action_warning(env_id):
    env = wrapped(env_id)
    assert env.action_space == gym.spaces.Box(-1.0, 1.0, shape=gym.make(env_id).action_space.shape, dtype=np.float32)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sb3_check_env(env, warn=True)
    assert [str(w.message) for w in caught if "action" in str(w.message).lower()] == []


@pytest.mark.parametrize("env_id", PREDICTION_ENV_IDS)
def test_gymnasium_check_env_passes(env_id):
    with warnings.catch_warnings(record=True) as caught:  # e.g. "different from the unwrapped version": on purpose
        warnings.simplefilter("always")
        gym_check_env(wrapped(env_id), skip_render_check=True)
    assert [str(w.message) for w in caught if "action" in str(w.message).lower()] == []


# ----------------------------------------------------------------- the maps' values


def test_coin_map_reaches_one_in_a_million_and_centres_on_the_prior():
    env = wrapped("MetaCoin-v0")
    pmap = env.prediction_map
    assert pmap.kinds == ("logit",)
    assert pmap.span[0] == pytest.approx(13.815509557963773, rel=1e-12) == LOGIT_REACH
    np.testing.assert_allclose(pmap.params([[-1.0], [0.0], [1.0]])[:, 0], [1e-6, 0.5, 1 - 1e-6], rtol=1e-12)
    # an asymmetric prior: a = 0 is its prior predictive 0.1, and [1e-6, 1 - 1e-6] is still reached
    skewed = wrapped("MetaCoin-v0", prior=(1.0, 9.0)).prediction_map
    assert skewed.params([0.0])[0] == pytest.approx(0.1, rel=1e-12)
    assert skewed.params([-1.0])[0] <= 1e-6 and skewed.params([1.0])[0] == pytest.approx(1 - 1e-6, abs=1e-15)


def test_die_map_is_a_softmax_around_the_prior_predictive():
    pmap = wrapped("MetaDie-v0").prediction_map
    assert pmap.span == pytest.approx([LOGIT_REACH / 2] * 3, rel=1e-12)  # 6.9078
    np.testing.assert_allclose(pmap.params([0.0, 0.0, 0.0]), [1 / 3] * 3, rtol=1e-12)
    np.testing.assert_allclose(pmap.params([0.7, 0.7, 0.7]), [1 / 3] * 3, rtol=1e-12)  # shift invariant
    q = pmap.params([1.0, -1.0, -1.0])
    assert q[1] / q[0] == pytest.approx(1e-6 / (1 - 1e-6), rel=1e-9)  # two faces' odds move by exp(2 * 6.9078)
    other = wrapped("MetaDie-v0", **OTHER_PRIORS["MetaDie-v0"]).prediction_map
    np.testing.assert_allclose(other.params(np.zeros(4)), np.array([0.5, 1, 2, 4]) / 7.5, rtol=1e-12)


def test_gaussian_map_is_affine_in_the_mean_and_logarithmic_in_the_std():
    pmap = wrapped("MetaGaussian-v0").prediction_map
    assert pmap.kinds == ("affine", "log")
    ends = pmap.params([[-1.0, -1.0], [0.0, 0.0], [1.0, 1.0]])
    std0 = np.sqrt(2.0)  # the prior predictive std, prior std 1 and noise 1
    np.testing.assert_allclose(ends[:, 0], [-20.0, 0.0, 20.0], rtol=1e-12, atol=1e-12)  # 0 +- 10 (1 + 1)
    np.testing.assert_allclose(ends[:, 1], [std0 / 25, std0, 25 * std0], rtol=1e-7)  # 25 std0: half the float32 bound
    # a prior 20x wider than the noise: the std map widens below to reach the Bayes std >= noise
    other = wrapped("MetaGaussian-v0", **OTHER_PRIORS["MetaGaussian-v0"])
    low, high = other.prediction_map.params([[-1.0, -1.0], [1.0, 1.0]])
    assert low[0] == pytest.approx(3.0 - 105.0) and high[0] == pytest.approx(3.0 + 105.0)
    smallest_bayes_std = np.sqrt(0.5**2 + 1 / (1 / 10.0**2 + 20 / 0.5**2))  # after H = 20 outcomes
    assert low[1] == pytest.approx(smallest_bayes_std / 10, rel=1e-12)
    assert high[1] == pytest.approx(25 * np.hypot(10.0, 0.5), rel=1e-7)
    assert high[1] < other.unwrapped.action_space.high[1]


def test_exponential_map_spans_many_orders_of_magnitude_inside_the_bound():
    env = wrapped("MetaExponential-v0")
    pmap = env.prediction_map
    np.testing.assert_allclose(pmap.params([0.0, 0.0]), [1.0, 1.0], rtol=1e-12)  # the prior predictive Lomax(1, 1)
    low, high = pmap.params([[-1.0, -1.0], [1.0, 1.0]])
    np.testing.assert_allclose([low[0], high[0]], [1 / 210, 210], rtol=1e-12)  # (a0 + H) * 10 at H = 20
    # the scale: P(b + sum of 20 outcomes > 4e11) < 1e-9, times the margin 10
    np.testing.assert_allclose([low[1], high[1]], [1 / 4e12, 4e12], rtol=1e-6)
    bound = float(env.unwrapped.action_space.high[1])
    heavy = wrapped("MetaExponential-v0", prior=(0.3, 1.0)).prediction_map
    top = heavy.params([1.0, 1.0])
    assert np.all(np.isfinite(top)) and top[1] <= bound / 4 and top[1] > 1e36


# ------------------------------------------------------------------ inverse and Bayes


@pytest.mark.parametrize(("env_id", "kwargs"), CASES, ids=CASE_IDS)
def test_normalize_inverts_action_on_a_grid(env_id, kwargs):
    env = wrapped(env_id, **kwargs)
    dim = env.action_space.shape[0]
    a = grid(dim, {1: 401, 2: 41, 3: 15, 4: 9}[dim]).astype(np.float32)
    params = env.action(a)  # batched: (N, D) at once
    assert params.shape == a.shape and params.dtype == np.float64
    assert np.all(params >= env.unwrapped.action_space.low) and np.all(params <= env.unwrapped.action_space.high)
    expected = centred(a.astype(np.float64)) if env_id == "MetaDie-v0" else a
    np.testing.assert_allclose(env.prediction_map.normalize(params), expected, rtol=0, atol=1e-9)
    back = env.normalize(params)
    assert back.dtype == np.float32
    np.testing.assert_allclose(back, expected, rtol=0, atol=1e-6)
    assert_same_prediction(env.prediction_map, env.action(back), params)  # the same prediction again


@pytest.mark.parametrize(("env_id", "kwargs"), CASES, ids=CASE_IDS)
def test_bayes_predictive_is_a_normalized_action_inside_the_box(env_id, kwargs):
    env = wrapped(env_id, **kwargs)
    env.reset(seed=1)
    for _ in range(5):
        action = env.bayes_action()
        assert env.action_space.contains(action)
        env.step(action)
    bayes = env.unwrapped.bayes_predictive()
    a = env.normalize(bayes)
    assert np.all(np.abs(a) < 1)
    assert_same_prediction(env.prediction_map, env.action(a), bayes)  # from a float32 normalized action
    np.testing.assert_allclose(env.prediction_map.params(env.prediction_map.normalize(bayes)), bayes, rtol=1e-12)


@pytest.mark.parametrize(("env_id", "kwargs"), CASES, ids=CASE_IDS)
def test_every_bayes_predictive_of_the_horizon_is_reached_strictly_inside(env_id, kwargs):
    """Acting Bayes-optimally through the vector wrapper: 512 episodes of 20 steps, every
    normalized Bayes action at least the margin (a factor 10) inside the ends of the box."""
    envs = NormalizedPredictionVector(gym.make_vec(env_id, 512, vectorization_mode="vector_entry_point", **kwargs))
    envs.reset(seed=0)
    largest = 0.0
    for _ in range(envs.unwrapped.horizon):
        actions = envs.bayes_action()
        assert actions.shape == (512, envs.single_action_space.shape[0])
        largest = max(largest, float(np.abs(actions).max()))
        assert_same_prediction(envs.prediction_map, envs.actions(actions), envs.unwrapped.bayes_predictive())
        _, rewards, *_ = envs.step(actions)
        assert np.all(np.isfinite(rewards))
    spans = envs.prediction_map.span
    assert largest <= 1 - np.log(10) / spans.max() + 1e-6


def test_normalize_clips_and_handles_the_edges_of_each_domain():
    coin = wrapped("MetaCoin-v0")
    np.testing.assert_array_equal(coin.normalize([[0.0], [1.0], [1e-9], [0.5]])[:, 0], [-1.0, 1.0, -1.0, 0.0])
    die = wrapped("MetaDie-v0")
    # a zero weight: the other faces keep their exact odds, the zero face goes to -1
    a = die.prediction_map.normalize([0.0, 0.25, 0.75])
    assert a[0] == -1.0 and a[2] == 1.0
    q = die.prediction_map.params(a)
    assert q[2] / q[1] == pytest.approx(3.0, rel=1e-12) and q[0] < 1e-5
    # scale does not matter for weights
    np.testing.assert_allclose(die.normalize([2.0, 1.0, 1.0]), die.normalize([0.5, 0.25, 0.25]), atol=1e-7)
    gaussian = wrapped("MetaGaussian-v0")
    np.testing.assert_array_equal(gaussian.normalize([[1e6, 0.0], [-1e6, 1e6]]), [[1.0, -1.0], [-1.0, 1.0]])
    for bad, pmap in (([1.5], coin), ([-0.1, 0.5, 0.6], die), ([0.0, -1.0], gaussian), ([np.nan, 1.0], gaussian)):
        with pytest.raises(ValueError, match="params"):
            pmap.normalize(bad)
    with pytest.raises(ValueError, match="positive sum"):
        die.normalize([0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match=r"shape \(\.\.\., 2\)"):
        gaussian.normalize([1.0, 2.0, 3.0])


# ---------------------------------------------------------------- stepping the wrapper


@pytest.mark.parametrize(("env_id", "kwargs"), CASES, ids=CASE_IDS)
def test_random_normalized_actions_give_finite_rewards(env_id, kwargs):
    env = wrapped(env_id, **kwargs)
    env.reset(seed=0)
    env.action_space.seed(0)
    floor = env.unwrapped.dynamics.log_prob_floor
    dim = env.action_space.shape[0]
    corners = [np.full(dim, v, dtype=np.float32) for v in (-1.0, 1.0)]
    rewards = []
    for i in range(200):
        action = corners[i] if i < 2 else env.action_space.sample()
        _, reward, terminated, _, _ = env.step(action)
        rewards.append(reward)
        if terminated:
            env.reset()
    assert np.all(np.isfinite(rewards)) and min(rewards) >= floor


def test_out_of_box_actions_raise_and_batches_map_row_by_row():
    env = wrapped("MetaGaussian-v0")
    env.reset(seed=0)
    for bad in ([1.5, 0.0], [np.nan, 0.0], [0.0], [[0.0, 2.0]]):
        with pytest.raises(InvalidActionError, match=r"\[-1, 1\]"):
            env.step(np.array(bad, dtype=np.float32))
    batch = np.array([[0.1, -0.2], [-0.5, 0.9], [1.0, -1.0]])
    np.testing.assert_array_equal(env.action(batch), np.stack([env.action(row) for row in batch]))
    np.testing.assert_array_equal(env.action(batch.reshape(3, 1, 2)), env.action(batch).reshape(3, 1, 2))


def test_the_vector_wrapper_steps_as_the_single_wrapper_maps():
    envs = NormalizedPredictionVector(gym.make_vec("MetaExponential-v0", 4, vectorization_mode="vector_entry_point"))
    single = wrapped("MetaExponential-v0")
    assert envs.single_action_space == single.action_space
    assert envs.action_space == gym.spaces.Box(-1.0, 1.0, shape=(4, 2), dtype=np.float32)
    actions = np.array([[-1.0, 1.0], [0.0, 0.0], [0.3, -0.7], [1.0, 1.0]], dtype=np.float32)
    np.testing.assert_array_equal(envs.actions(actions), single.action(actions))
    envs.reset(seed=0)
    _, rewards, *_ = envs.step(actions)
    assert rewards.shape == (4,) and np.all(np.isfinite(rewards))
    with pytest.raises(InvalidActionError):
        envs.step(actions[:3])


# ---------------------------------------------------------------------- refusals


def test_refuses_envs_that_are_not_prediction_envs():
    with pytest.raises(ValueError, match=r"needs one of the prediction envs.*got MetaBandit-v0.*Discrete"):
        NormalizedPrediction(gym.make("MetaBandit-v0"))
    with pytest.raises(ValueError, match="MetaGaussianBandit-v0"):
        NormalizedPrediction(gym.make("MetaGaussianBandit-v0"))
    with pytest.raises(ValueError, match="prediction envs"):
        NormalizedPredictionVector(gym.make_vec("MetaBandit-v0", 2, vectorization_mode="vector_entry_point"))
    with pytest.raises(ValueError, match="prediction envs"):
        prediction_map(gym.make("CartPole-v1"))


@pytest.mark.filterwarnings("ignore:.*precision lowered by casting to float32")
def test_refuses_an_action_space_changed_by_another_wrapper():
    with pytest.raises(ValueError, match="another wrapper changed it"):
        NormalizedPrediction(gym.wrappers.RescaleAction(gym.make("MetaCoin-v0"), -1.0, 1.0))


# ----------------------------------------------------------------------- training


def test_ppo_trains_on_the_wrapped_coin_without_nan():
    venv = VecCheckNan(make_vec_env("MetaCoin-v0", n_envs=2, seed=0, wrapper_class=NormalizedPrediction), True)
    model = PPO("MlpPolicy", venv, n_steps=64, batch_size=64, n_epochs=1, seed=0, device="cpu")
    model.learn(total_timesteps=256)
    assert all(torch.isfinite(p).all() for p in model.policy.parameters())
    obs = venv.reset()
    for _ in range(20):
        action, _ = model.predict(obs)
        obs, reward, _, _ = venv.step(action)
        assert np.all(np.isfinite(reward)) and np.all(reward >= -50.0)
