"""Gymnasium's vector API on the native vector envs: ``max_episode_steps`` (as ``TimeLimit`` in
``SyncVectorEnv``), ``reset(seed=list)``, rendering, and the per-row infos of ``NativeVecEnv``.

Gymnasium 1.4 has no checker for vector envs (``gymnasium.utils.env_checker`` checks single
envs only), so the comparisons below are against ``SyncVectorEnv`` over the single envs.
"""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.error import ResetNeeded
from gymnasium.utils.env_checker import data_equivalence
from gymnasium.vector import AutoresetMode

import meta_envs
from meta_envs.catalog import native_vector_env
from meta_envs.core import MetaVectorEnv
from meta_envs.rendering import tile_frames

IDS = sorted(meta_envs.ENV_IDS)
MODES = [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP, AutoresetMode.DISABLED]


def sample_actions(space, n, steps, seed):
    space = gym.vector.utils.batch_space(space, n)
    space.seed(seed)
    return [space.sample() for _ in range(steps)]


def native_and_sync(env_id, n, mode, **kwargs):
    native = gym.make_vec(env_id, num_envs=n, autoreset_mode=mode, **kwargs)  # default: vector_entry_point
    sync = gym.make_vec(env_id, num_envs=n, vectorization_mode="sync", vector_kwargs={"autoreset_mode": mode},
                        **kwargs)
    return native, sync


# ------------------------------------------------------------------ max_episode_steps


def test_make_vec_passes_max_episode_steps_to_the_native_env():
    envs = gym.make_vec("MetaBandit-v0", num_envs=8, max_episode_steps=10)
    assert isinstance(envs.unwrapped, MetaVectorEnv)
    assert envs.unwrapped.max_episode_steps == 10
    assert gym.make_vec("MetaBandit-v0", num_envs=2).unwrapped.max_episode_steps is None


@pytest.mark.parametrize("mode", MODES, ids=lambda m: m.value)
@pytest.mark.parametrize("env_id", IDS)
def test_truncation_step_by_step_as_sync_vector_env_with_time_limit(env_id, mode):
    """Flags, clocks, autoreset timing and SAME_STEP's final_obs/final_info equal those of
    SyncVectorEnv over TimeLimit(single env); row 1 is reset by hand once to desynchronise it."""
    n, limit = 3, 5
    native, sync = native_and_sync(env_id, n, mode, horizon=20, max_episode_steps=limit)
    actions = sample_actions(native.single_action_space, n, 17, seed=1)
    obs_n, _ = native.reset(seed=0)
    obs_s, _ = sync.reset(seed=0)
    clock = np.zeros(n, dtype=int)  # steps into the current episode, counted here
    ended_before = np.zeros(n, dtype=bool)
    truncations = []
    for step, action in enumerate(actions):
        if step == 2:
            mask = np.array([False, True, False])
            obs_n, _ = native.reset(options={"reset_mask": mask})
            obs_s, _ = sync.reset(options={"reset_mask": mask.copy()})
            clock[1] = 0
            ended_before[1] = False
        np.testing.assert_array_equal(obs_n[:, -1], obs_s[:, -1])  # t / horizon
        obs_n, rew_n, term_n, trunc_n, info_n = native.step(action)
        obs_s, rew_s, term_s, trunc_s, info_s = sync.step(action)
        np.testing.assert_array_equal(term_n, term_s)
        np.testing.assert_array_equal(trunc_n, trunc_s)
        np.testing.assert_array_equal(obs_n[:, -1], obs_s[:, -1])
        assert not term_n.any()  # the horizon (20) is never reached
        if mode is AutoresetMode.NEXT_STEP:
            clock = np.where(ended_before, 0, clock + 1)
            np.testing.assert_array_equal(rew_n[ended_before], 0.0)
            np.testing.assert_array_equal(rew_s[ended_before], 0.0)
        else:
            clock = clock + 1
        np.testing.assert_array_equal(trunc_n, clock == limit)
        truncations.append(trunc_n.copy())
        assert ("final_obs" in info_n) == ("final_obs" in info_s)
        if "final_obs" in info_s:
            assert mode is AutoresetMode.SAME_STEP
            for key in ("_final_obs", "_final_info"):
                np.testing.assert_array_equal(info_n[key], info_s[key])
            for row in np.flatnonzero(info_s["_final_obs"]):
                assert info_n["final_obs"][row][-1] == info_s["final_obs"][row][-1] == np.float32(limit / 20)
            np.testing.assert_array_equal(info_n["final_info"]["_task"], info_s["final_info"]["_task"])
            np.testing.assert_array_equal(obs_n[trunc_n], 0.0)  # already the next episode
            clock[trunc_n] = 0
        ended_before = trunc_n.copy()
        if mode is AutoresetMode.DISABLED and ended_before.any():
            with pytest.raises(ResetNeeded, match="DISABLED"):
                native.step(action)
            obs_n, _ = native.reset(options={"reset_mask": ended_before.copy()})
            obs_s, _ = sync.reset(options={"reset_mask": ended_before.copy()})
            clock[ended_before] = 0
            ended_before[:] = False
    # rows 0 and 2 end at step 5, row 1 (reset before step 3) at step 7
    truncated_at = [np.flatnonzero(t).tolist() for t in truncations]
    assert truncated_at[4] == [0, 2] and truncated_at[6] == [1]


@pytest.mark.parametrize("mode", MODES, ids=lambda m: m.value)
def test_max_episode_steps_at_the_horizon_sets_both_flags_as_time_limit(mode):
    native, sync = native_and_sync("MetaCoin-v0", 2, mode, horizon=4, max_episode_steps=4)
    native.reset(seed=0)
    sync.reset(seed=0)
    action = np.full((2, 1), 0.5, dtype=np.float32)
    for step in range(4):
        _, _, term_n, trunc_n, _ = native.step(action)
        _, _, term_s, trunc_s, _ = sync.step(action)
        np.testing.assert_array_equal(term_n, term_s)
        np.testing.assert_array_equal(trunc_n, trunc_s)
        assert term_n.all() == trunc_n.all() == (step == 3)


@pytest.mark.parametrize("mode", MODES, ids=lambda m: m.value)
def test_max_episode_steps_beyond_the_horizon_changes_nothing(mode):
    plain = gym.make_vec("MetaDie-v0", num_envs=4, horizon=3, autoreset_mode=mode)
    limited = gym.make_vec("MetaDie-v0", num_envs=4, horizon=3, autoreset_mode=mode, max_episode_steps=4)
    results = []
    for envs in (plain, limited):
        out = [envs.reset(seed=5)]
        for action in sample_actions(envs.single_action_space, 4, 10, seed=2):
            out.append(envs.step(action))
            if mode is AutoresetMode.DISABLED and out[-1][2].any():
                out.append(envs.reset(options={"reset_mask": out[-1][2].copy()}))
        results.append(out)
    assert data_equivalence(results[0], results[1], exact=True)
    assert any(step[2].any() for step in results[1] if len(step) == 5)  # some episodes terminated
    assert not any(step[3].any() for step in results[1] if len(step) == 5)  # none truncated


@pytest.mark.parametrize("value", [0, -1, 2.5, True, "5"])
def test_bad_max_episode_steps(value):
    with pytest.raises(ValueError, match="max_episode_steps"):
        gym.make_vec("MetaBandit-v0", num_envs=2, max_episode_steps=value)


def test_every_vector_env_takes_max_episode_steps_and_render_mode():
    for env_id in IDS:
        envs = gym.make_vec(env_id, num_envs=2, max_episode_steps=3, render_mode="ansi")
        assert envs.unwrapped.max_episode_steps == 3 and envs.render_mode == "ansi"


# ------------------------------------------------------------------ reset(seed=list)


def tasks_after(envs, seed):
    _, info = envs.reset(seed=seed)
    rewards = envs.step(envs.action_space.sample())[1]
    return info["task"], rewards


def test_reset_with_a_list_of_seeds_is_deterministic():
    envs = gym.make_vec("MetaGaussian-v0", num_envs=4)
    envs.action_space.seed(0)
    task_a, rewards_a = tasks_after(envs, [0, 1, 2, 3])
    envs.action_space.seed(0)
    task_b, rewards_b = tasks_after(envs, [0, 1, 2, 3])
    np.testing.assert_array_equal(task_a, task_b)
    np.testing.assert_array_equal(rewards_a, rewards_b)
    assert envs.unwrapped.np_random_seed == -1  # Gymnasium's "not one int"
    for other in ([0, 1, 2, 4], [3, 2, 1, 0], [2**32, 0, 0, 0], [0, 1, 0, 0]):  # [2**32, 0] is not [0, 1]
        assert not np.array_equal(tasks_after(envs, other)[0], task_a)
    assert not np.array_equal(tasks_after(envs, [2**32, 0, 0, 0])[0], tasks_after(envs, [0, 1, 0, 0])[0])
    assert not np.array_equal(tasks_after(envs, 0)[0], task_a)  # an int seed is another stream
    np.testing.assert_array_equal(tasks_after(envs, (0, 1, 2, 3))[0], task_a)  # a tuple as a list


def test_reset_with_an_int_seed_is_unchanged():
    """One generator seeded as the single env seeds its own: ``seeding.np_random(seed)``."""
    envs = gym.make_vec("MetaBandit-v0", num_envs=3)
    _, info = envs.reset(seed=7)
    rng, _ = gym.utils.seeding.np_random(7)
    np.testing.assert_array_equal(info["task"], envs.unwrapped.dynamics.new_tasks(rng, 3))
    assert envs.unwrapped.np_random_seed == 7


def test_one_seed_in_a_list_is_sync_vector_envs_stream_for_one_env():
    native = gym.make_vec("MetaExponential-v0", num_envs=1)
    sync = gym.make_vec("MetaExponential-v0", num_envs=1, vectorization_mode="sync")
    for seed in (3, 2**40 + 1):
        _, info_n = native.reset(seed=[seed])
        _, info_s = sync.reset(seed=[seed])
        np.testing.assert_array_equal(info_n["task"], info_s["task"])
        np.testing.assert_array_equal(native.reset(seed=seed)[1]["task"], info_s["task"])


def test_a_list_of_seeds_is_not_sync_vector_envs_streams_for_several_envs():
    """Documented: one generator for all rows, so sub-env i is not seeded with seeds[i] alone."""
    native = gym.make_vec("MetaCoin-v0", num_envs=3)
    sync = gym.make_vec("MetaCoin-v0", num_envs=3, vectorization_mode="sync")
    assert not np.array_equal(native.reset(seed=[0, 1, 2])[1]["task"], sync.reset(seed=[0, 1, 2])[1]["task"])


def test_none_entries_in_a_seed_list():
    envs = gym.make_vec("MetaCoin-v0", num_envs=3)
    twin = gym.make_vec("MetaCoin-v0", num_envs=3)
    envs.reset(seed=11)
    twin.reset(seed=11)
    # only None: no reseeding, as seed=None (the generator carries on)
    np.testing.assert_array_equal(envs.reset(seed=[None, None, None])[1]["task"], twin.reset()[1]["task"])
    # some None: fresh entropy for those, so not reproducible
    first = envs.reset(seed=[0, None, 2])[1]["task"]
    assert not np.array_equal(envs.reset(seed=[0, None, 2])[1]["task"], first)


@pytest.mark.parametrize("seed", [[0, 1], [0, 1, 2, 3], [], [0, 1.5, 2], [0, "1", 2], [0, -1, 2], [0, True, 2],
                                  [0, 2**128, 2]])
def test_bad_seed_lists(seed):
    envs = gym.make_vec("MetaBandit-v0", num_envs=3)
    with pytest.raises(ValueError, match="seed"):
        envs.reset(seed=seed)


def test_bad_seed_types():
    envs = gym.make_vec("MetaBandit-v0", num_envs=3)
    for seed in (1.5, "0", np.array([0, 1, 2])):
        with pytest.raises(TypeError, match="seed"):
            envs.reset(seed=seed)


# ------------------------------------------------------------------ rendering


def test_render_modes_in_metadata_and_bad_render_mode():
    envs = gym.make_vec("MetaBandit-v0", num_envs=2)
    assert envs.metadata["render_modes"] == ["ansi", "rgb_array"]
    assert envs.metadata["render_fps"] > 0
    with pytest.raises(ValueError, match="render_mode"):
        gym.make_vec("MetaBandit-v0", num_envs=2, render_mode="human")
    with pytest.warns(UserWarning, match="render_mode"):
        assert envs.render() is None


@pytest.mark.parametrize("env_id", IDS)
def test_rgb_array_is_one_frame_per_sub_env_as_the_single_env_draws(env_id):
    """Gymnasium's VectorEnv.render contract (a tuple of num_envs frames, as SyncVectorEnv and
    as the vector HumanRendering/RecordVideo wrappers expect); with one env, the single env's frame."""
    envs = gym.make_vec(env_id, num_envs=3, render_mode="rgb_array")
    with pytest.raises(ResetNeeded):
        envs.render()
    envs.reset(seed=0)
    frames = envs.render()
    assert isinstance(frames, tuple) and len(frames) == 3
    for frame in frames:
        assert isinstance(frame, np.ndarray) and frame.dtype == np.uint8
        assert frame.ndim == 3 and frame.shape[0] == 256 and frame.shape[2] == 3
    one = gym.make_vec(env_id, num_envs=1, render_mode="rgb_array", horizon=3)
    single = gym.make(env_id, render_mode="rgb_array", horizon=3)
    one.reset(seed=4)
    single.reset(seed=4)
    for action in sample_actions(single.action_space, 1, 5, seed=0):
        np.testing.assert_array_equal(one.render()[0], single.render())
        one.step(action)
        if single.unwrapped._t[0] == 3:
            single.reset()
        else:
            single.step(action[0])


@pytest.mark.parametrize("env_id", IDS)
def test_ansi_is_one_line_per_sub_env_as_the_single_env_writes(env_id):
    one = gym.make_vec(env_id, num_envs=1, render_mode="ansi", horizon=2)
    single = gym.make(env_id, render_mode="ansi", horizon=2)
    one.reset(seed=4)
    single.reset(seed=4)
    texts = []
    for action in sample_actions(single.action_space, 1, 5, seed=0):
        (text,) = one.render()
        assert text == single.render()
        texts.append(text)
        one.step(action)
        if single.unwrapped._t[0] == 2:
            single.reset()  # what the vector env does on the next step (NEXT_STEP)
        else:
            single.step(action[0])
    assert texts[0].startswith("t=0/2 new task posterior=") and texts[1].startswith("t=1/2 action=")
    assert texts[3].startswith("t=0/2 new task")  # the autoreset step


def test_ansi_lines_follow_each_sub_env():
    envs = gym.make_vec("MetaBandit-v0", num_envs=3, horizon=2, render_mode="ansi")
    envs.reset(seed=0)
    envs.step(np.array([0, 1, 0]))
    envs.reset(options={"reset_mask": np.array([False, True, False])})
    texts = envs.render()  # each as the single env writes it: a 2-D posterior spans two lines
    assert len(texts) == 3
    assert texts[0].startswith("t=1/2 action=0 reward=") and texts[1].startswith("t=0/2 new task")
    assert texts[2].startswith("t=1/2 action=0 reward=")
    lines = envs.unwrapped.render_tiled(max_envs=2).split("\n")  # one line per sub-env
    assert lines == [text.replace("\n ", " ") for text in texts[:2]]
    assert lines[1] == "t=0/2 new task posterior=[[1. 1.] [1. 1.]]"


def test_render_tiled_grows_with_the_tiles():
    envs = gym.make_vec("MetaBandit-v0", num_envs=6, render_mode="rgb_array")
    envs.reset(seed=0)
    frames = envs.render()
    tiled = [envs.unwrapped.render_tiled(max_envs=k) for k in (1, 2, 4, 9)]
    for image in tiled:
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    np.testing.assert_array_equal(tiled[0], frames[0])
    assert tiled[1].shape == (256, 2 * 256 + 2, 3)  # side by side, 2 grey pixels apart
    np.testing.assert_array_equal(tiled[1][:, 258:], frames[1])
    assert tiled[2].shape == (2 * 256 + 2, 2 * 256 + 2, 3)  # a 2 x 2 grid
    np.testing.assert_array_equal(tiled[2][258:, 258:], frames[3])
    assert tiled[3].shape == (2 * 256 + 2, 3 * 256 + 4, 3)  # 6 envs, 9 asked: 3 columns, 2 rows
    assert tiled[1].shape[1] > tiled[0].shape[1] and tiled[3].shape[1] > tiled[2].shape[1]
    np.testing.assert_array_equal(envs.unwrapped.render_tiled(), tiled[2])  # default: the first 4
    with pytest.raises(ValueError, match="max_envs"):
        envs.unwrapped.render_tiled(max_envs=0)


def test_render_tiled_ansi_is_lines_joined():
    envs = gym.make_vec("MetaDie-v0", num_envs=5, render_mode="ansi")
    envs.reset(seed=0)
    text = envs.unwrapped.render_tiled(max_envs=3)
    assert text.split("\n") == list(envs.render()[:3])  # one-line texts (a 1-D posterior)
    assert len(envs.unwrapped.render_tiled(max_envs=50).split("\n")) == 5


def test_tile_frames_fills_empty_cells_white_and_refuses_mixed_shapes():
    red = np.zeros((4, 5, 3), dtype=np.uint8)
    red[..., 0] = 255
    image = tile_frames([red, red, red])
    assert image.shape == (10, 12, 3)
    np.testing.assert_array_equal(image[6:, 7:], 255)  # the empty fourth cell
    np.testing.assert_array_equal(image[4:6], 128)  # the gap
    with pytest.raises(ValueError, match="shape"):
        tile_frames([red, np.zeros((4, 6, 3), dtype=np.uint8)])
    with pytest.raises(ValueError, match="at least one"):
        tile_frames([])


def test_stepping_without_render_mode_keeps_nothing_for_rendering():
    envs = gym.make_vec("MetaBandit-v0", num_envs=2).unwrapped
    envs.reset(seed=0)
    envs.step(np.zeros(2, dtype=np.int64))
    assert envs._last_actions is None and envs._last_rewards is None


# ------------------------------------------------------------------ NativeVecEnv infos


def test_native_vec_env_infos_hold_each_rows_task_and_posterior():
    pytest.importorskip("stable_baselines3")
    from agents.vec_env import NativeVecEnv

    n = 4
    venv = NativeVecEnv("MetaBandit-v0", num_envs=n, seed=3, horizon=3)
    twin = native_vector_env("MetaBandit-v0", n, AutoresetMode.SAME_STEP, horizon=3)
    venv.reset()
    _, info = twin.reset(seed=3)
    for row in range(n):
        np.testing.assert_array_equal(venv.reset_infos[row]["task"], info["task"][row])
        np.testing.assert_array_equal(venv.reset_infos[row]["posterior"], info["posterior"][row])
    saw_done = False
    for step, actions in enumerate(sample_actions(venv.action_space, n, 8, seed=0)):
        if step == 1:  # desynchronise row 2 (both envs draw the same numbers)
            mask = np.array([False, False, True, False])
            venv.vector_env.reset(options={"reset_mask": mask})
            twin.reset(options={"reset_mask": mask})
        _, _, dones, infos = venv.step(actions)
        _, _, terminated, _, info = twin.step(actions)
        np.testing.assert_array_equal(dones, terminated)
        # a done row reports the episode that ended (as DummyVecEnv); the new one is in reset_infos
        step_info = info["final_info"] if dones.any() else info
        for row in range(n):
            np.testing.assert_array_equal(infos[row]["task"], step_info["task"][row])
            np.testing.assert_array_equal(infos[row]["posterior"], step_info["posterior"][row])
            if dones[row]:
                saw_done = True
                assert infos[row]["TimeLimit.truncated"] is False
                np.testing.assert_array_equal(venv.reset_infos[row]["task"], info["task"][row])
                np.testing.assert_array_equal(venv.reset_infos[row]["posterior"], info["posterior"][row])
                assert not np.array_equal(venv.reset_infos[row]["task"], infos[row]["task"])
            else:
                np.testing.assert_array_equal(infos[row]["task"], info["task"][row])
    assert saw_done


def test_native_vec_env_infos_match_dummy_vec_env_under_max_episode_steps():
    """Keys, TimeLimit.truncated (truncated and not terminated) and done flags as DummyVecEnv
    over gym.make(..., max_episode_steps=...) gives them."""
    pytest.importorskip("stable_baselines3")
    from stable_baselines3.common.vec_env import DummyVecEnv

    from agents.vec_env import NativeVecEnv

    n = 2
    kwargs = {"horizon": 4, "max_episode_steps": 3}
    native = NativeVecEnv("MetaCoin-v0", num_envs=n, seed=0, **kwargs)
    dummy = DummyVecEnv([lambda: gym.make("MetaCoin-v0", **kwargs) for _ in range(n)])
    native.reset()
    dummy.reset()
    actions = np.full((n, 1), 0.5, dtype=np.float32)
    for step in range(7):
        _, _, dones_n, infos_n = native.step(actions)
        _, _, dones_d, infos_d = dummy.step(actions)
        np.testing.assert_array_equal(dones_n, dones_d)
        assert dones_n.all() == (step % 3 == 2)
        for info_n, info_d in zip(infos_n, infos_d, strict=True):
            assert {"task", "posterior"} <= set(info_n) and {"task", "posterior"} <= set(info_d)
            assert info_n["task"].shape == info_d["task"].shape
            assert info_n["posterior"].shape == info_d["posterior"].shape
            assert info_n.get("TimeLimit.truncated", False) == info_d["TimeLimit.truncated"]
            assert ("terminal_observation" in info_n) == ("terminal_observation" in info_d)
            if "terminal_observation" in info_n:
                assert info_n["TimeLimit.truncated"] is True  # cut at 3 < horizon 4: SB3 bootstraps
                assert info_n["terminal_observation"][-1] == info_d["terminal_observation"][-1]


def test_native_vec_env_without_task_info():
    pytest.importorskip("stable_baselines3")
    from agents.vec_env import NativeVecEnv

    venv = NativeVecEnv("MetaBandit-v0", num_envs=3, seed=0, horizon=1, task_info=False)
    venv.reset()
    assert venv.reset_infos == [{}, {}, {}]
    _, _, dones, infos = venv.step(np.zeros(3, dtype=int))
    assert dones.all() and all(set(info) == {"terminal_observation", "TimeLimit.truncated"} for info in infos)


def test_native_vec_env_renders_through_sb3():
    pytest.importorskip("stable_baselines3")
    from agents.vec_env import NativeVecEnv

    venv = NativeVecEnv("MetaBandit-v0", num_envs=2, seed=0, render_mode="rgb_array")
    assert venv.render_mode == "rgb_array"
    venv.reset()
    images = venv.get_images()
    assert len(images) == 2 and all(image.dtype == np.uint8 and image.shape[0] == 256 for image in images)
    tiled = venv.render()  # SB3's tile_images
    assert tiled.dtype == np.uint8 and tiled.shape[2] == 3 and tiled.shape[0] * tiled.shape[1] == 2 * 256 * 256
    assert NativeVecEnv("MetaBandit-v0", num_envs=2).get_images() == [None, None]
