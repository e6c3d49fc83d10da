"""stable-baselines3 trains on every env without NaN, including at the edges of the action space."""

import gymnasium as gym
import numpy as np
import pytest

import meta_envs

torch = pytest.importorskip("torch")
from stable_baselines3 import PPO  # noqa: E402
from stable_baselines3.common.env_util import make_vec_env  # noqa: E402
from stable_baselines3.common.vec_env import VecCheckNan  # noqa: E402


@pytest.mark.parametrize("env_id", sorted(meta_envs.ENV_IDS))
def test_ppo_trains_a_few_hundred_steps_without_nan(env_id):
    torch.set_num_threads(1)
    venv = VecCheckNan(make_vec_env(env_id, n_envs=2, seed=0), raise_exception=True)
    rewards = []

    model = PPO("MlpPolicy", venv, n_steps=64, batch_size=32, n_epochs=2, seed=0, device="cpu")
    model.learn(total_timesteps=384)
    for param in model.policy.parameters():
        assert torch.isfinite(param).all()
    # a rollout of the trained policy: actions clipped to the bounds by SB3 give finite rewards
    obs = venv.reset()
    for _ in range(40):
        action, _ = model.predict(obs, deterministic=False)
        obs, reward, _, _ = venv.step(action)
        rewards.append(reward)
    assert np.all(np.isfinite(rewards))
    env = gym.make(env_id)
    if isinstance(env.action_space, gym.spaces.Box):
        floor = env.unwrapped.dynamics.log_prob_floor
        assert np.min(rewards) >= floor


@pytest.mark.filterwarnings("ignore:.*precision lowered by casting to float32")  # RescaleAction's own Box
@pytest.mark.parametrize("env_id", ["MetaCoin-v0", "MetaDie-v0", "MetaGaussian-v0", "MetaExponential-v0"])
def test_rescaled_actions_stay_inside_the_space(env_id):
    """RescaleAction (and SAC/TD3's own rescaling) computes high - low: the bounds keep it finite."""
    env = gym.wrappers.RescaleAction(gym.make(env_id), -1.0, 1.0)
    env.reset(seed=0)
    shape = env.action_space.shape
    with np.errstate(all="raise"):
        for action in (np.ones(shape), -np.ones(shape), np.zeros(shape)):
            _, reward, *_ = env.step(action.astype(np.float32))
            assert np.isfinite(reward)


@pytest.mark.parametrize("env_id", ["MetaGaussian-v0", "MetaExponential-v0"])
def test_sac_trains_a_few_steps(env_id):
    from stable_baselines3 import SAC

    torch.set_num_threads(1)
    model = SAC("MlpPolicy", gym.make(env_id), learning_starts=64, batch_size=32, seed=0, device="cpu")
    model.learn(total_timesteps=128)
    for param in model.policy.parameters():
        assert torch.isfinite(param).all()
