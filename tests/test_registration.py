"""Every id is registered, passes Gymnasium's and stable-baselines3's checkers, and vectorises."""

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from gymnasium.vector import AutoresetMode

import meta_envs
from meta_envs.core import MetaEnv, MetaVectorEnv

EXPECTED_IDS = {
    "MetaBandit-v0",
    "MetaGaussianBandit-v0",
    "MetaCoin-v0",
    "MetaDie-v0",
    "MetaGaussian-v0",
    "MetaExponential-v0",
    "MetaSwitchingCoin-v0",
}

# Non-default arguments for every id, so the checkers also see other shapes and priors.
VARIANTS = {
    "MetaBandit-v0": {"n_arms": 3, "horizon": 7, "prior": [[1, 2], [3, 4], [0.5, 0.5]]},
    "MetaGaussianBandit-v0": {"n_arms": 4, "horizon": 5, "prior": (1.0, 2.0), "noise_std": [0.5, 1, 2, 3]},
    "MetaCoin-v0": {"horizon": 3, "prior": "bent"},
    "MetaDie-v0": {"n_outcomes": 5, "horizon": 4, "prior": [1, 2, 3, 4, 5]},
    "MetaGaussian-v0": {"horizon": 6, "prior": (-2.0, 0.5), "noise_std": 0.1},
    "MetaExponential-v0": {"horizon": 6, "prior": (3.0, 2.0)},
    "MetaSwitchingCoin-v0": {"horizon": 5, "prior": "bent", "hazard": 0.3},
}


def test_import_registers_every_id():
    assert set(meta_envs.ENV_IDS) == EXPECTED_IDS
    for env_id in EXPECTED_IDS:
        spec = gym.spec(env_id)
        assert spec.entry_point and spec.vector_entry_point
    meta_envs.register_all()  # idempotent
    gym.register_envs(meta_envs)


@pytest.mark.parametrize("env_id", sorted(EXPECTED_IDS))
@pytest.mark.parametrize("variant", [False, True])
def test_gymnasium_check_env(env_id, variant):
    env = gym.make(env_id, **(VARIANTS[env_id] if variant else {}))
    assert isinstance(env.unwrapped, MetaEnv)
    with warnings.catch_warnings():
        # honest infinite observation bounds of normal and exponential outcomes are warned about
        warnings.filterwarnings("ignore", message=".*infinity.*")
        warnings.filterwarnings("ignore", message=".*symmetric and normalized.*")
        check_env(env.unwrapped, skip_render_check=False)


@pytest.mark.parametrize("env_id", sorted(EXPECTED_IDS))
@pytest.mark.parametrize("variant", [False, True])
def test_sb3_check_env(env_id, variant):
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*symmetric and normalized.*")
        warnings.filterwarnings("ignore", message=".*infinity.*")
        sb3_check_env(gym.make(env_id, **(VARIANTS[env_id] if variant else {})), warn=True)


@pytest.mark.parametrize("env_id", sorted(EXPECTED_IDS))
def test_make_vec_uses_the_native_vector_env(env_id):
    envs = gym.make_vec(env_id, num_envs=5, vectorization_mode="vector_entry_point", **VARIANTS[env_id])
    assert isinstance(envs.unwrapped, MetaVectorEnv)
    assert envs.metadata["autoreset_mode"] is AutoresetMode.NEXT_STEP
    single = gym.make(env_id, **VARIANTS[env_id])
    assert envs.single_observation_space == single.observation_space
    assert envs.single_action_space == single.action_space
    obs, info = envs.reset(seed=3)
    assert obs.shape == (5, *single.observation_space.shape) and obs.dtype == np.float32
    envs.action_space.seed(0)
    obs, rewards, terminated, truncated, info = envs.step(envs.action_space.sample())
    assert obs in envs.observation_space
    assert rewards.shape == (5,) and rewards.dtype == np.float64 and np.all(np.isfinite(rewards))
    assert terminated.dtype == bool and truncated.dtype == bool and not truncated.any()
    _, single_info = single.reset(seed=0)
    for key in ("task", "posterior"):
        assert info[key].shape == (5, *np.shape(single_info[key]))
        assert info[f"_{key}"].dtype == bool and info[f"_{key}"].all()


@pytest.mark.parametrize("env_id", sorted(EXPECTED_IDS))
def test_default_vectorization_is_the_native_one(env_id):
    envs = gym.make_vec(env_id, num_envs=2)
    assert isinstance(envs.unwrapped, MetaVectorEnv)


@pytest.mark.parametrize("env_id", sorted(EXPECTED_IDS))
def test_rgb_array_frames(env_id):
    env = gym.make(env_id, render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame.dtype == np.uint8 and frame.shape[0] == 256 and frame.shape[2] == 3
    assert (frame != 255).any()  # something is drawn


def test_rgb_array_with_many_arms_draws_every_arm():
    env = gym.make("MetaBandit-v0", n_arms=300, render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (256, 900, 3)
    drawn_columns = (frame[:200] != 255).any(axis=(0, 2))
    assert drawn_columns.reshape(300, 3).any(axis=1).all()


@pytest.mark.parametrize("env_id", sorted(EXPECTED_IDS))
def test_render_ansi_shows_step_and_posterior(env_id):
    env = gym.make(env_id, render_mode="ansi")
    env.reset(seed=0)
    env.action_space.seed(0)
    env.step(env.action_space.sample())
    text = env.render()
    assert "t=1/" in text and "posterior=" in text and "reward=" in text
