"""The native vector envs: Gymnasium's autoreset modes, and the same episodes as the single env."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.error import ResetNeeded
from gymnasium.vector import AutoresetMode
from scipy import stats

import meta_envs

IDS = sorted(meta_envs.ENV_IDS)


def make_vec(env_id, num_envs, **kwargs):
    return gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="vector_entry_point", **kwargs)


def sample_actions(space, n, seed):
    space = gym.vector.utils.batch_space(space, n)
    space.seed(seed)
    return space.sample()


@pytest.mark.parametrize("env_id", IDS)
def test_one_sub_environment_replays_the_single_env_exactly(env_id):
    """Both draw from one generator in the same order: same seed, same episodes."""
    single = gym.make(env_id, horizon=5)
    vector = make_vec(env_id, 1, horizon=5)
    obs_s, info_s = single.reset(seed=9)
    obs_v, info_v = vector.reset(seed=9)
    actions = sample_actions(single.action_space, 12, seed=1)  # 12 = two episodes and a bit
    for t in range(12):
        np.testing.assert_array_equal(obs_v[0], obs_s)
        np.testing.assert_array_equal(info_v["task"][0], info_s["task"])
        np.testing.assert_array_equal(info_v["posterior"][0], info_s["posterior"])
        if t % 6 == 5:  # NEXT_STEP autoreset: the vector env resets on the step after the end
            obs_v, rewards, terminated, _, info_v = vector.step(actions[t : t + 1])
            obs_s, info_s = single.reset()
            assert rewards[0] == 0.0 and not terminated[0]
            continue
        obs_v, rewards, terminated, _, info_v = vector.step(actions[t : t + 1])
        obs_s, reward, term, _, info_s = single.step(actions[t])
        assert rewards[0] == reward and terminated[0] == term


@pytest.mark.parametrize("env_id", IDS)
def test_vector_and_single_env_agree_in_distribution(env_id):
    """Returns of a fixed random policy: many single episodes vs one vector batch (two-sample KS)."""
    n, horizon = 1500, 6
    single = gym.make(env_id, horizon=horizon)
    single.action_space.seed(0)
    single.reset(seed=123)
    returns_single = []
    for _ in range(n):
        single.reset()
        total = 0.0
        for _ in range(horizon):
            total += single.step(single.action_space.sample())[1]
        returns_single.append(total)
    vector = make_vec(env_id, n, horizon=horizon)
    vector.reset(seed=456)
    returns_vector = np.zeros(n)
    for t in range(horizon):
        returns_vector += vector.step(sample_actions(single.action_space, n, seed=t))[1]
    assert stats.ks_2samp(returns_single, returns_vector).pvalue > 1e-3


def test_next_step_autoreset():
    envs = make_vec("MetaBandit-v0", 3, horizon=2)
    _, info0 = envs.reset(seed=0)
    a = np.zeros(3, dtype=np.int64)
    envs.step(a)
    obs, rewards, terminated, truncated, info = envs.step(a)
    assert terminated.all() and not truncated.any()
    np.testing.assert_array_equal(info["task"], info0["task"])
    obs, rewards, terminated, truncated, info = envs.step(a)  # the reset step
    np.testing.assert_array_equal(obs, 0.0)
    np.testing.assert_array_equal(rewards, 0.0)
    assert not terminated.any()
    assert not np.array_equal(info["task"], info0["task"])
    np.testing.assert_array_equal(info["posterior"], np.ones((3, 2, 2)))


def test_same_step_autoreset_reports_final_observation_and_info():
    envs = make_vec("MetaCoin-v0", 4, horizon=3, autoreset_mode=AutoresetMode.SAME_STEP)
    assert envs.metadata["autoreset_mode"] is AutoresetMode.SAME_STEP
    _, info0 = envs.reset(seed=0)
    action = np.full((4, 1), 0.5, dtype=np.float32)
    for _ in range(2):
        _, _, terminated, _, info = envs.step(action)
        assert not terminated.any() and "final_obs" not in info
    obs, rewards, terminated, _, info = envs.step(action)
    assert terminated.all()
    np.testing.assert_allclose(rewards, np.log(0.5))
    np.testing.assert_array_equal(obs, 0.0)  # already the next episode's first observation
    assert info["_final_obs"].all() and info["_final_info"].all()
    final = np.stack(info["final_obs"])
    np.testing.assert_array_equal(final[:, 1:], np.tile([1.0, 1.0], (4, 1)))  # outcome seen, t/h = 1
    np.testing.assert_array_equal(info["final_info"]["task"], info0["task"])
    np.testing.assert_array_equal(info["final_info"]["posterior"].sum(axis=1), 2.0 + 3)
    assert not np.array_equal(info["task"], info0["task"])
    np.testing.assert_array_equal(info["posterior"], np.ones((4, 2)))


def test_disabled_autoreset_needs_a_masked_reset():
    envs = make_vec("MetaBandit-v0", 3, horizon=2, autoreset_mode="Disabled")
    _, info0 = envs.reset(seed=0)
    a = np.array([0, 1, 0])
    envs.step(a)
    *_, terminated, _, _ = envs.step(a)
    assert terminated.all()
    with pytest.raises(ResetNeeded, match="reset_mask"):
        envs.step(a)
    mask = np.array([True, False, True])
    obs, info = envs.reset(options={"reset_mask": mask})
    np.testing.assert_array_equal(info["_task"], mask)
    np.testing.assert_array_equal(obs[mask], 0.0)
    assert obs[1].sum() > 0  # the last observation of the episode that was not reset
    np.testing.assert_array_equal(info["task"][1], info0["task"][1])
    with pytest.raises(ResetNeeded):  # sub-environment 1 is still finished
        envs.step(a)
    envs.reset(options={"reset_mask": np.array([False, True, False])})
    obs, _, terminated, _, info = envs.step(a)
    assert not terminated.any()
    # rows now run one step apart only in their tasks, not their clocks
    np.testing.assert_array_equal(obs[:, -1], np.float32(0.5))


def test_partial_reset_desynchronises_clocks_under_next_step():
    envs = make_vec("MetaDie-v0", 2, horizon=3)
    envs.reset(seed=0)
    action = np.full((2, 3), 1 / 3, dtype=np.float32)
    envs.step(action)
    envs.reset(options={"reset_mask": np.array([False, True])})
    _, _, terminated, _, _ = envs.step(action)
    obs, _, terminated, _, _ = envs.step(action)
    np.testing.assert_array_equal(terminated, [True, False])
    np.testing.assert_allclose(obs[:, -1], [1.0, 2 / 3])
    obs, rewards, terminated, _, info = envs.step(action)  # row 0 resets, row 1 ends
    np.testing.assert_array_equal(terminated, [False, True])
    assert rewards[0] == 0.0 and rewards[1] != 0.0
    np.testing.assert_array_equal(obs[0], 0.0)
    np.testing.assert_array_equal(info["posterior"][0], [1.0, 1.0, 1.0])
    assert info["posterior"][1].sum() == 3 + 3


def test_reset_with_given_tasks():
    envs = make_vec("MetaBandit-v0", 3)
    _, info = envs.reset(seed=0, options={"task": [0.1, 0.9]})
    np.testing.assert_array_equal(info["task"], [[0.1, 0.9]] * 3)
    tasks = np.array([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]])
    _, info = envs.reset(options={"task": tasks})
    np.testing.assert_array_equal(info["task"], tasks)
    _, info = envs.reset(options={"task": tasks, "reset_mask": np.array([False, True, False])})
    np.testing.assert_array_equal(info["task"][1], tasks[1])
    with pytest.raises(ValueError, match="rows"):
        envs.reset(options={"task": tasks[:2]})


def test_returned_arrays_are_not_changed_by_later_steps():
    envs = make_vec("MetaBandit-v0", 4, horizon=3)
    obs0, info0 = envs.reset(seed=0)
    kept = obs0.copy(), info0["task"].copy(), info0["posterior"].copy()
    obs1, *_ = envs.step(np.zeros(4, dtype=np.int64))
    kept1 = obs1.copy()
    envs.reset(options={"reset_mask": np.array([True, False, False, True])})
    for _ in range(5):
        envs.step(np.ones(4, dtype=np.int64))
    np.testing.assert_array_equal(obs0, kept[0])
    np.testing.assert_array_equal(info0["task"], kept[1])
    np.testing.assert_array_equal(info0["posterior"], kept[2])
    np.testing.assert_array_equal(obs1, kept1)


def test_sync_vector_env_of_the_single_env_also_works():
    envs = gym.make_vec("MetaCoin-v0", num_envs=3, vectorization_mode="sync")
    _, info = envs.reset(seed=0)
    assert info["posterior"].shape == (3, 2)
    _, rewards, *_ = envs.step(np.full((3, 1), 0.5, dtype=np.float32))
    np.testing.assert_allclose(rewards, np.log(0.5))


def test_writing_into_returned_terminations_does_not_change_the_env():
    envs = make_vec("MetaBandit-v0", 2, horizon=1, autoreset_mode="Disabled")
    envs.reset(seed=0)
    _, _, terminated, _, _ = envs.step(np.zeros(2, dtype=np.int64))
    terminated[:] = False  # the caller's array, not the env's state
    with pytest.raises(ResetNeeded):
        envs.step(np.zeros(2, dtype=np.int64))
