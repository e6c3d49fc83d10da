"""Bad constructor arguments and bad actions get a clear error before any work starts."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.error import ResetNeeded

import meta_envs  # noqa: F401  (registers the ids)
from meta_envs.validation import InvalidActionError

BAD_ARGUMENTS = [
    # (id, kwargs, the argument the message must name)
    ("MetaBandit-v0", {"n_arms": 0}, "n_arms"),
    ("MetaBandit-v0", {"n_arms": 2.0}, "n_arms"),
    ("MetaBandit-v0", {"n_arms": True}, "n_arms"),
    ("MetaBandit-v0", {"horizon": 0}, "horizon"),
    ("MetaBandit-v0", {"horizon": -3}, "horizon"),
    ("MetaBandit-v0", {"prior": (0.0, 1.0)}, "prior"),
    ("MetaBandit-v0", {"prior": (-1.0, 1.0)}, "prior"),
    ("MetaBandit-v0", {"prior": (np.nan, 1.0)}, "prior"),
    ("MetaBandit-v0", {"prior": (np.inf, 1.0)}, "prior"),
    ("MetaBandit-v0", {"prior": (1.0, 1.0, 1.0)}, "prior"),
    ("MetaBandit-v0", {"n_arms": 3, "prior": [[1, 1], [1, 1]]}, "prior"),
    ("MetaBandit-v0", {"prior": "uniform"}, "prior"),
    ("MetaBandit-v0", {"prior": ("1", "1")}, "prior"),
    ("MetaGaussianBandit-v0", {"n_arms": 0}, "n_arms"),
    ("MetaGaussianBandit-v0", {"horizon": 0}, "horizon"),
    ("MetaGaussianBandit-v0", {"prior": (0.0, 0.0)}, "prior"),
    ("MetaGaussianBandit-v0", {"prior": (np.inf, 1.0)}, "prior"),
    ("MetaGaussianBandit-v0", {"prior": [[0, 1]] * 3}, "prior"),
    ("MetaGaussianBandit-v0", {"noise_std": 0.0}, "noise_std"),
    ("MetaGaussianBandit-v0", {"noise_std": [1.0, 2.0, 3.0]}, "noise_std"),
    ("MetaCoin-v0", {"horizon": 0}, "horizon"),
    ("MetaCoin-v0", {"prior": "loaded"}, "prior"),
    ("MetaCoin-v0", {"prior": (1.0, 0.0)}, "prior"),
    ("MetaCoin-v0", {"prior": (1.0, -2.0)}, "prior"),
    ("MetaCoin-v0", {"prior": [[1.0, 1.0], [1.0, 1.0]]}, "prior"),
    ("MetaCoin-v0", {"log_prob_floor": np.nan}, "log_prob_floor"),
    ("MetaCoin-v0", {"log_prob_floor": 1.0}, "log_prob_floor"),
    ("MetaCoin-v0", {"log_prob_floor": -np.inf}, "log_prob_floor"),
    ("MetaCoin-v0", {"log_prob_floor": "-5"}, "log_prob_floor"),
    ("MetaCoin-v0", {"log_prob_floor": [-5.0, -6.0]}, "log_prob_floor"),
    ("MetaDie-v0", {"n_outcomes": 1}, "n_outcomes"),
    ("MetaDie-v0", {"horizon": 0}, "horizon"),
    ("MetaDie-v0", {"prior": 0.0}, "prior"),
    ("MetaDie-v0", {"prior": [1.0, 1.0]}, "prior"),
    ("MetaDie-v0", {"prior": [1.0, np.nan, 1.0]}, "prior"),
    ("MetaGaussian-v0", {"horizon": 0}, "horizon"),
    ("MetaGaussian-v0", {"prior": (0.0, -1.0)}, "prior"),
    ("MetaGaussian-v0", {"prior": (np.nan, 1.0)}, "prior"),
    ("MetaGaussian-v0", {"noise_std": 0.0}, "noise_std"),
    ("MetaGaussian-v0", {"noise_std": [1.0, 1.0]}, "noise_std"),
    ("MetaExponential-v0", {"horizon": 0}, "horizon"),
    ("MetaExponential-v0", {"prior": (0.0, 1.0)}, "prior"),
    ("MetaExponential-v0", {"prior": (1.0, np.inf)}, "prior"),
    ("MetaExponential-v0", {"prior": (1.0,)}, "prior"),
    # priors whose outcomes float32 observations and actions cannot hold
    ("MetaExponential-v0", {"prior": (0.05, 0.05)}, "prior"),
    ("MetaExponential-v0", {"prior": (0.2, 1.0)}, "prior"),
    ("MetaExponential-v0", {"prior": (0.001, 0.001)}, "prior"),
    ("MetaGaussian-v0", {"prior": (0.0, 1e37)}, "prior"),
    ("MetaGaussian-v0", {"prior": (1e38, 1.0)}, "prior"),
    ("MetaGaussian-v0", {"prior": (0.0, 1e-160)}, "prior"),
    ("MetaGaussian-v0", {"noise_std": 1e200}, "noise_std"),
    ("MetaGaussian-v0", {"noise_std": 1e-35}, "noise_std"),
    ("MetaGaussianBandit-v0", {"prior": (0.0, 1e200)}, "prior"),
    ("MetaGaussianBandit-v0", {"noise_std": [1.0, 1e37]}, "noise_std"),
]


@pytest.mark.parametrize(("env_id", "kwargs", "name"), BAD_ARGUMENTS)
def test_bad_argument_raises_at_make_time_naming_it(env_id, kwargs, name):
    with pytest.raises(ValueError, match=name):
        gym.make(env_id, **kwargs)
    with pytest.raises(ValueError, match=name):
        gym.make_vec(env_id, num_envs=2, vectorization_mode="vector_entry_point", **kwargs)


@pytest.mark.parametrize("num_envs", [0, -1, 2.5])
def test_bad_num_envs(num_envs):
    with pytest.raises(ValueError, match="num_envs"):
        gym.make_vec("MetaBandit-v0", num_envs=num_envs, vectorization_mode="vector_entry_point")


def test_bad_autoreset_mode_and_render_mode():
    with pytest.raises(ValueError, match="autoreset_mode"):
        gym.make_vec("MetaCoin-v0", num_envs=2, vectorization_mode="vector_entry_point", autoreset_mode="sometimes")
    with pytest.raises(ValueError, match="render_mode"), pytest.warns(UserWarning, match="render_mode"):
        gym.make("MetaCoin-v0", render_mode="video")


BAD_ACTIONS = [
    ("MetaBandit-v0", 2, "integer in \\[0, 1\\]"),
    ("MetaBandit-v0", -1, "integer in \\[0, 1\\]"),
    ("MetaBandit-v0", 0.0, "dtype float64"),
    ("MetaBandit-v0", np.array([0, 1]), "shape"),
    ("MetaCoin-v0", np.array([1.5], dtype=np.float32), "\\[0, 1\\]"),
    ("MetaCoin-v0", np.array([-0.01]), "\\[0, 1\\]"),
    ("MetaCoin-v0", np.array([np.nan], dtype=np.float32), "\\[0, 1\\]"),
    ("MetaCoin-v0", 0.5, "shape \\(1,\\)"),
    ("MetaCoin-v0", np.array(["a"]), "dtype"),
    ("MetaDie-v0", np.array([0.5, 0.5], dtype=np.float32), "shape \\(3,\\)"),
    ("MetaDie-v0", np.array([0.5, 0.5, 1.5], dtype=np.float32), "\\[0, 1\\]"),
    ("MetaGaussian-v0", np.array([0.0, -1.0], dtype=np.float32), "expected"),
    ("MetaGaussian-v0", np.array([np.inf, 1.0]), "expected"),
    ("MetaExponential-v0", np.array([1.0, -1.0], dtype=np.float32), "expected"),
]


@pytest.mark.parametrize(("env_id", "action", "message"), BAD_ACTIONS)
def test_action_outside_the_space_raises_saying_what_was_expected(env_id, action, message):
    env = gym.make(env_id)
    env.reset(seed=0)
    with pytest.raises(InvalidActionError, match=message):
        env.step(action)
    # nothing happened: the episode is still at its first step
    assert env.unwrapped._t[0] == 0


def test_valid_actions_of_other_dtypes_are_accepted():
    env = gym.make("MetaCoin-v0")
    env.reset(seed=0)
    env.step(np.array([0.25]))  # float64 inside the float32 box
    env.step([0.25])  # a list
    bandit = gym.make("MetaBandit-v0")
    bandit.reset(seed=0)
    bandit.step(np.int32(1))
    bandit.step(1)


def test_vector_env_names_the_bad_sub_environments():
    envs = gym.make_vec("MetaBandit-v0", num_envs=4, vectorization_mode="vector_entry_point")
    envs.reset(seed=0)
    with pytest.raises(InvalidActionError, match=r"sub-environments \[2\].*integer in \[0, 1\]"):
        envs.step(np.array([0, 1, 5, 0]))
    with pytest.raises(InvalidActionError, match="shape"):
        envs.step(np.array([0, 1]))
    coins = gym.make_vec("MetaCoin-v0", num_envs=3, vectorization_mode="vector_entry_point")
    coins.reset(seed=0)
    with pytest.raises(InvalidActionError, match=r"sub-environments \[0, 2\]"):
        coins.step(np.array([[1.2], [0.5], [np.nan]], dtype=np.float32))
    gaussians = gym.make_vec("MetaGaussian-v0", num_envs=3, vectorization_mode="vector_entry_point")
    gaussians.reset(seed=0)
    with pytest.raises(InvalidActionError, match=r"sub-environments \[1\]"):  # a negative std only
        gaussians.step(np.array([[0.0, 1.0], [-5.0, -1.0], [5.0, 2.0]]))
    gaussians.step(np.array([[0.0, 1.0], [-5.0, 0.0], [5.0, 2.0]]))


def test_step_before_reset_and_after_the_end():
    env = gym.make("MetaCoin-v0", horizon=2).unwrapped
    with pytest.raises(ResetNeeded):
        env.step(np.array([0.5], dtype=np.float32))
    env.reset(seed=0)
    env.step(np.array([0.5], dtype=np.float32))
    *_, terminated, _, _ = env.step(np.array([0.5], dtype=np.float32))
    assert terminated
    with pytest.raises(ResetNeeded, match="horizon=2"):
        env.step(np.array([0.5], dtype=np.float32))
    envs = gym.make_vec("MetaCoin-v0", num_envs=2, vectorization_mode="vector_entry_point")
    with pytest.raises(ResetNeeded):
        envs.step(np.full((2, 1), 0.5, dtype=np.float32))


def test_bad_reset_options():
    env = gym.make("MetaBandit-v0")
    with pytest.raises(ValueError, match="unknown reset options"):
        env.reset(options={"tsak": [0.5, 0.5]})
    with pytest.raises(ValueError, match="task"):
        env.reset(options={"task": [0.5, 1.5]})
    with pytest.raises(ValueError, match="task"):
        env.reset(options={"task": [0.5, 0.5, 0.5]})
    envs = gym.make_vec("MetaBandit-v0", num_envs=3, vectorization_mode="vector_entry_point")
    with pytest.raises(ValueError, match="seed"):
        envs.reset(seed=[1, 2])  # a list of seeds must hold one per sub-environment
    envs.reset(seed=0)
    with pytest.raises(ValueError, match="reset_mask"):
        envs.reset(options={"reset_mask": np.array([True, False])})
    with pytest.raises(ValueError, match="reset_mask"):
        envs.reset(options={"reset_mask": np.zeros(3, dtype=bool)})
    with pytest.raises(ValueError, match="reset_mask"):
        envs.reset(options={"reset_mask": [True, True, True]})
