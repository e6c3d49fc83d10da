"""Gittins indices of Bernoulli arms against published values and a second, independent method.

Published values: Christian & Griffiths, *Algorithms to Live By* (2016), ch. 2 ("Explore/
Exploit"), which prints the Gittins index tables for a Beta(1, 1) prior ("wins" s and "losses" f,
posterior Beta(1 + s, 1 + f)) at discounts 0.9 and 0.99, from Gittins, Glazebrook and Weber,
*Multi-armed Bandit Allocation Indices*. The values quoted in its text are asserted at the
printed precision (4 decimals). The book itself (its Table 8.x) could not be consulted here.
"""

from __future__ import annotations

import math
import os
import stat

import numpy as np
import pytest

from bayes.bandits import gittins, gittins_calibration
from bayes.bandits.base import argmax_probabilities
from bayes.bandits.dp import bayes_optimal_value
from bayes.bandits.gittins import (
    FiniteHorizonGittinsPolicy,
    GittinsPolicy,
    finite_horizon_gittins_index,
    gittins_index,
    gittins_table,
    truncation_depth,
)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    """Every test caches under its own directory (and so starts with empty in-memory caches)."""
    monkeypatch.setenv("META_BAYES_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


# --------------------------------------------------------------------------- published values

# (wins, losses) -> index, Beta(1, 1) prior, quoted in Algorithms to Live By, ch. 2
PUBLISHED_09 = {(0, 0): 0.7029, (1, 1): 0.6346, (2, 2): 0.6010, (9, 1): 0.8695}
PUBLISHED_099 = {(0, 0): 0.8699}


@pytest.mark.parametrize(("discount", "table"), [(0.9, PUBLISHED_09), (0.99, PUBLISHED_099)])
def test_published_values_at_printed_precision(discount, table):
    for (wins, losses), printed in table.items():
        value = gittins_index(1 + wins, 1 + losses, discount, tol=1e-7)
        assert round(value, 4) == pytest.approx(printed, abs=1e-12), (wins, losses, value)


def test_published_remarks():
    # "even a failure on the very first pull, producing a record of 0-1, makes for a Gittins index
    # that's still above 50%" (discount 0.9 table)
    assert gittins_index(1, 2, 0.9, tol=1e-8) > 0.5
    # the untried arm is worth more than a known 0.7 arm (0.9 table)
    assert gittins_index(1, 1, 0.9, tol=1e-8) > 0.7


def test_widely_quoted_value_at_095():
    # 0.7614 is widely quoted for Beta(1, 1) at discount 0.95, but no published source for it was
    # found here; it is checked against the restart-in-state method below instead.
    value = gittins_index(1, 1, 0.95, tol=1e-7)
    assert value == pytest.approx(restart_in_state_index(1.0, 1.0, 0.95, tol=1e-7), abs=3e-7)
    assert round(value, 4) == pytest.approx(0.7614, abs=1e-12)


# --------------------------------------------------------------------------- restart in state


def restart_in_state_index(a: float, b: float, discount: float, tol: float) -> float:
    """Katehakis & Veinott (1987): the index of x is (1 - discount) V(x), where V is the value of
    the problem in which every step may continue from the current state y or restart from x:

        V(y) = max(r(y) + discount E V(y'), r(x) + discount E V(x')),   r(y) = posterior mean.

    Solved by (Jacobi) value iteration on the subtree of x truncated at the depth N that the
    calibration uses for ``tol``; at depth N a state continues for ever (value r(y) / (1 -
    discount)) or restarts, as retiring-or-not there in the calibration.
    """
    depth = truncation_depth(discount, tol, a + b)
    j = np.arange(depth + 1)[:, None]  # pulls made
    t = np.arange(depth + 1)[None, :]  # successes among them
    valid = t <= j
    mean = np.where(valid, (a + t) / (a + b + j), 0.0)
    value = np.zeros((depth + 1, depth + 1))
    for _ in range(100_000):
        cont = np.empty_like(value)
        cont[:-1, :-1] = mean[:-1, :-1] + discount * (
            mean[:-1, :-1] * value[1:, 1:] + (1 - mean[:-1, :-1]) * value[1:, :-1]
        )
        cont[:-1, -1] = 0.0
        cont[-1] = mean[-1] / (1 - discount)  # the truncation layer: continue for ever ...
        restart = cont[0, 0]  # ... or restart from x (whose continuation value is V(x))
        new = np.where(valid, np.maximum(cont, restart), 0.0)
        change = np.abs(new - value).max()
        value = new
        if change < 1e-13:
            break
    return float((1 - discount) * value[0, 0])


@pytest.mark.parametrize(
    ("a", "b", "discount"),
    [(1.0, 1.0, 0.5), (1.0, 1.0, 0.9), (2.0, 5.0, 0.9), (7.0, 3.0, 0.8), (0.5, 0.5, 0.9), (3.0, 2.0, 0.95)],
)
def test_calibration_equals_restart_in_state(a, b, discount):
    tol = 1e-7
    assert gittins_index(a, b, discount, tol=tol) == pytest.approx(
        restart_in_state_index(a, b, discount, tol), abs=2 * tol
    )


def test_truncation_depth_meets_its_bound():
    def bound(discount, depth, total):
        return discount**depth / (4 * (1 - discount) * math.sqrt(total + depth + 1))

    for discount, tol, total in [(0.9, 1e-6, 2.0), (0.99, 1e-9, 2.0), (0.5, 1e-3, 10.0), (0.999, 1e-5, 3.5)]:
        n = truncation_depth(discount, tol, total)
        assert bound(discount, n, total) <= tol / 2 < bound(discount, n - 1, total)  # the smallest such depth
        assert bound(discount, n, total) <= discount**n / (1 - discount)  # the plainer bound


@pytest.mark.parametrize("tol", [1e-2, 1e-3, 1e-5])
def test_loose_tolerances_are_honoured(tol):
    for a, b, discount in [(1.0, 1.0, 0.9), (4.0, 2.0, 0.99), (1.0, 6.0, 0.95)]:
        precise = gittins_index(a, b, discount, tol=1e-10)
        assert abs(gittins_index(a, b, discount, tol=tol) - precise) <= tol
    table = gittins_table(0.95, 5, tol=tol, prior=(1.0, 3.0))
    for s, f in [(0, 0), (5, 0), (0, 5), (2, 2)]:
        assert abs(table[s, f] - gittins_index(1.0 + s, 3.0 + f, 0.95, tol=1e-10)) <= tol


# --------------------------------------------------------------------------- structure


def test_monotone_and_bounded():
    table = gittins_table(0.9, 30, tol=1e-7)
    s, f = np.meshgrid(np.arange(31), np.arange(31), indexing="ij")
    inside = s + f <= 30
    assert np.all(np.isnan(table[~inside]))
    mean = (1 + s) / (2 + s + f)
    assert np.all(table[inside] >= mean[inside]) and np.all(table[inside] < 1)
    assert np.all(np.diff(table, axis=0)[(s + f)[1:] <= 30] > 0)  # more successes: larger index
    assert np.all(np.diff(table, axis=1)[(s + f)[:, 1:] <= 30] < 0)  # more failures: smaller index
    by_discount = [gittins_index(2, 3, d, tol=1e-8) for d in (0.1, 0.5, 0.8, 0.9, 0.95)]
    assert np.all(np.diff(by_discount) > 0)
    assert by_discount[0] > 2 / 5


def test_finite_horizon_index():
    for a, b in [(1.0, 1.0), (3.0, 7.0), (0.5, 2.0)]:
        assert finite_horizon_gittins_index(a, b, 1) == a / (a + b)
        values = [finite_horizon_gittins_index(a, b, r, tol=1e-10) for r in range(1, 25)]
        assert np.all(np.diff(values) > 0) and values[-1] < 1
    # two pulls left from Beta(1, 1): pull, then keep the arm only after a success (mean 2/3 > lam):
    # 2 lam = 1/2 (1 + 2/3) + 1/2 lam, so lam = 5/9
    assert finite_horizon_gittins_index(1, 1, 2, tol=1e-11) == pytest.approx(5 / 9, abs=1e-11)


def test_finite_horizon_index_approaches_the_discounted_one():
    # with many pulls left and a discount near 1 both indices exceed the mean by much
    assert finite_horizon_gittins_index(1, 1, 100, tol=1e-8) > gittins_index(1, 1, 0.9, tol=1e-8)


def test_table_equals_index_state_by_state():
    tol = 1e-7
    table = gittins_table(0.9, 8, tol=tol, prior=(2.0, 0.5))
    for s in range(9):
        for f in range(9 - s):
            assert table[s, f] == pytest.approx(gittins_index(2.0 + s, 0.5 + f, 0.9, tol=1e-9), abs=tol + 1e-9)


# --------------------------------------------------------------------------- disk cache


def _calls(monkeypatch):
    count = {"n": 0}
    run = gittins_calibration.Calibration.run

    def counted(self):
        count["n"] += 1
        return run(self)

    monkeypatch.setattr(gittins_calibration.Calibration, "run", counted)
    return count


def test_cache_round_trip(_private_cache, monkeypatch):
    count = _calls(monkeypatch)
    first = gittins_table(0.9, 6, tol=1e-6)
    index = gittins_index(2, 3, 0.9, tol=1e-6)
    files = sorted(os.listdir(_private_cache))
    assert len(files) == 2 and all(name.endswith(".npy") for name in files) and count["n"] == 2
    gittins._TABLES.clear()
    gittins._INDICES.clear()
    assert np.array_equal(gittins_table(0.9, 6, tol=1e-6), first, equal_nan=True)
    assert gittins_index(2, 3, 0.9, tol=1e-6) == index
    assert count["n"] == 2  # read back, not recomputed
    gittins_table(0.9, 6, tol=1e-5)  # another tol, another key
    gittins_table(0.9, 6, tol=1e-6, prior=(1.0, 2.0))  # another prior, another key
    assert count["n"] == 4 and len(os.listdir(_private_cache)) == 4
    returned = gittins_table(0.9, 6, tol=1e-6)
    returned[0, 0] = -1.0  # the caller's copy, not the cache's
    assert gittins_table(0.9, 6, tol=1e-6)[0, 0] == first[0, 0]


def test_cache_disabled(_private_cache):
    gittins_table(0.9, 4, tol=1e-6, cache=False)
    gittins_index(1, 1, 0.9, tol=1e-6, cache=False)
    assert not _private_cache.exists() or not os.listdir(_private_cache)


@pytest.mark.parametrize(
    "damage",
    [
        lambda path: path.write_bytes(b"not a numpy file"),
        lambda path: path.write_bytes(path.read_bytes()[:-20]),  # truncated
        lambda path: np.save(path, np.zeros((3, 3))),  # wrong shape
        lambda path: np.save(path, np.where(np.isnan(np.load(path)), np.nan, 2.0)),  # impossible values
    ],
)
def test_corrupt_cache_file_is_recomputed(_private_cache, monkeypatch, damage):
    first = gittins_table(0.9, 6, tol=1e-6)
    (path,) = list(_private_cache.iterdir())
    damage(path)
    gittins._TABLES.clear()
    count = _calls(monkeypatch)
    assert np.array_equal(gittins_table(0.9, 6, tol=1e-6), first, equal_nan=True)
    assert count["n"] == 1
    assert np.array_equal(np.load(path), first, equal_nan=True)  # repaired


def test_corrupt_index_cache_is_recomputed(_private_cache, monkeypatch):
    value = gittins_index(1, 1, 0.9, tol=1e-6)
    (path,) = list(_private_cache.iterdir())
    np.save(path, np.array([5.0]))
    gittins._INDICES.clear()
    count = _calls(monkeypatch)
    assert gittins_index(1, 1, 0.9, tol=1e-6) == value and count["n"] == 1


def test_cache_files_keep_their_names_and_are_ordinary_files(_private_cache):
    gittins_table(0.9, 3, tol=1e-6)
    gittins_index(1, 1, 0.9, tol=1e-6)
    # the names hash the version, the kind and every argument; the same arguments find the same file
    names = sorted(os.listdir(_private_cache))
    assert names == ["index-0ee7bdff8e402b1a07cb19ee.npy", "table-8216fee96403be92117de11e.npy"]  # no temporary file
    for name in names:
        assert stat.S_IMODE((_private_cache / name).stat().st_mode) == 0o644


def test_cache_that_cannot_be_written_is_skipped(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("META_BAYES_CACHE", str(blocker / "cache"))  # no folder can be made below a file
    table = gittins_table(0.9, 4, tol=1e-6)
    assert np.array_equal(table, gittins_table(0.9, 4, tol=1e-6, cache=False), equal_nan=True)
    assert gittins_index(1, 1, 0.9, tol=1e-6) == gittins_index(1, 1, 0.9, tol=1e-6, cache=False)
    assert sorted(os.listdir(tmp_path)) == ["a-file"] and blocker.read_text() == ""


# --------------------------------------------------------------------------- policies


def test_ties_uniform_at_the_symmetric_start():
    for k in (2, 3):
        policy = GittinsPolicy(k, discount=0.9)
        assert np.array_equal(policy.action_probabilities(policy.initial_state(4)), np.full((4, k), 1 / k))
        policy = FiniteHorizonGittinsPolicy(k, horizon=10)
        assert np.array_equal(policy.action_probabilities(policy.initial_state(4)), np.full((4, k), 1 / k))


def test_policy_prefers_the_higher_index():
    policy = GittinsPolicy(2, discount=0.9)
    # arm 0 untried (mean 0.5, index 0.7029); arm 1 won 9 of 15 (mean 0.588, index 0.630): explore
    state = np.array([[0.0, 9.0, 0.0, 6.0], [9.0, 0.0, 6.0, 0.0], [3.0, 1.0, 0.0, 2.0]])
    expected = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    assert np.array_equal(policy.action_probabilities(state), expected)
    indices = policy.indices(state)
    assert indices[0, 0] == pytest.approx(gittins_index(1, 1, 0.9, tol=1e-9), abs=1e-6)
    assert indices[0, 1] == pytest.approx(gittins_index(10, 7, 0.9, tol=1e-9), abs=1e-6)
    # per-arm priors: the arm with the better prior goes first
    policy = GittinsPolicy(2, discount=0.9, prior=[(1.0, 1.0), (2.0, 1.0)])
    assert np.array_equal(policy.action_probabilities(policy.initial_state(1)), [[0.0, 1.0]])


def test_policy_table_grows_with_the_counts():
    policy = GittinsPolicy(2, discount=0.9)
    small = policy.action_probabilities(np.array([[1.0, 1.0, 0.0, 0.0]]))
    assert np.array_equal(small, [[0.5, 0.5]])
    state = np.array([[40.0, 0.0, 10.0, 1.0]])
    indices = policy.indices(state)
    assert indices[0, 0] == pytest.approx(gittins_index(41, 11, 0.9, tol=1e-9), abs=1e-6)
    assert len(policy.table((1.0, 1.0), 50)) > 50


def test_finite_horizon_policy():
    policy = FiniteHorizonGittinsPolicy(2, horizon=10)
    # one pull left (9 made): the index is the mean, arm 0 (Beta(5, 4), mean 0.556) beats the less
    # known arm 1 (Beta(2, 2), mean 0.5) ...
    last = np.array([[4.0, 1.0, 3.0, 1.0]])
    assert np.array_equal(policy.action_probabilities(last), [[1.0, 0.0]])
    assert np.array_equal(policy.indices(last), [[5 / 9, 0.5]])
    # ... but with 21 pulls left the less known arm has the larger index
    longer = FiniteHorizonGittinsPolicy(2, horizon=30)
    assert np.array_equal(longer.action_probabilities(last), [[0.0, 1.0]])
    # the episode is over: uniform
    assert np.array_equal(policy.action_probabilities(np.array([[5.0, 3.0, 0.0, 2.0]])), [[0.5, 0.5]])
    with pytest.raises(ValueError, match="horizon"):
        policy.action_probabilities(np.array([[6.0, 3.0, 0.0, 2.0]]))
    # a vectorised batch agrees with the indices computed one at a time
    rng = np.random.default_rng(0)
    state = np.zeros((10_000, 4))
    for _ in range(6):
        arm = rng.integers(0, 2, 10_000)
        win = rng.random(10_000) < 0.5
        state[np.arange(10_000), arm + 2 * (~win)] += 1
    values = policy.indices(state)
    for row in rng.integers(0, 10_000, 5):
        s, f = state[row, :2], state[row, 2:]
        for k in range(2):
            assert values[row, k] == pytest.approx(finite_horizon_gittins_index(1 + s[k], 1 + f[k], 4), abs=2e-9)
    assert np.array_equal(policy.action_probabilities(state), argmax_probabilities(values))
    computed_on_demand = policy.indices(state)
    policy.precompute()
    assert np.array_equal(policy.indices(state), computed_on_demand)


def mean_return(policy, episodes: int, horizon: int, seed: int) -> tuple[float, float]:
    """Monte-Carlo return over ``horizon`` steps with p ~ Beta(1, 1): (mean, standard error).

    The return of an episode is the sum of the pulled arm's p (its expected reward given p),
    which has the same mean as the sum of the rewards and a smaller variance; rewards drawn from
    one uniform per step drive the policy's state.
    """
    rng = np.random.default_rng(seed)
    k = policy.n_arms
    p = rng.beta(1.0, 1.0, size=(episodes, k))
    rows = np.arange(episodes)
    state = policy.initial_state(episodes)
    observation = np.zeros((episodes, k + 2))
    total = np.zeros(episodes)
    for t in range(horizon):
        state = policy.update(state, observation)
        action = policy.sample_actions(state, rng)
        reward = (rng.random(episodes) < p[rows, action]).astype(np.float64)
        total += p[rows, action]
        observation = np.zeros((episodes, k + 2))
        observation[rows, action] = 1.0
        observation[:, k] = reward
        observation[:, k + 1] = (t + 1) / horizon
    return float(total.mean()), float(total.std() / math.sqrt(episodes))


@pytest.mark.parametrize("policy", [GittinsPolicy(2, discount=0.9), FiniteHorizonGittinsPolicy(2, horizon=20)])
def test_monte_carlo_return_is_near_bayes_optimal(policy):
    optimal = bayes_optimal_value(2, 20)
    assert optimal == pytest.approx(12.4313, abs=1e-4)
    mean, error = mean_return(policy, 40_000, 20, seed=1)
    assert error < 0.03
    assert 10.0 < mean <= optimal + 4 * error  # better than random (10), no better than optimal
    assert mean > optimal - 0.1  # Gittins is near-optimal


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("discount", [0.0, 1.0, -0.5, 1.5, float("nan"), float("inf"), "0.9", True, [0.9, 0.8]])
def test_bad_discount(discount):
    with pytest.raises(ValueError, match="discount"):
        gittins_index(1, 1, discount)
    with pytest.raises(ValueError, match="discount"):
        gittins_table(discount, 3)
    with pytest.raises(ValueError, match="discount"):
        GittinsPolicy(2, discount=discount)


@pytest.mark.parametrize("tol", [0.0, -1e-6, 1.0, 2.0, float("nan"), 1e-13, "1e-6"])
def test_bad_tol(tol):
    with pytest.raises(ValueError, match="tol"):
        gittins_index(1, 1, 0.9, tol=tol)
    with pytest.raises(ValueError, match="tol"):
        gittins_table(0.9, 3, tol=tol)
    with pytest.raises(ValueError, match="tol"):
        finite_horizon_gittins_index(1, 1, 3, tol=tol)
    with pytest.raises(ValueError, match="tol"):
        GittinsPolicy(2, tol=tol)


@pytest.mark.parametrize("value", [0.0, -1.0, float("inf"), float("nan"), "1", None, [1.0, 2.0]])
def test_bad_alpha_beta(value):
    with pytest.raises(ValueError, match="alpha"):
        gittins_index(value, 1, 0.9)
    with pytest.raises(ValueError, match="beta"):
        gittins_index(1, value, 0.9)
    with pytest.raises(ValueError, match="alpha"):
        finite_horizon_gittins_index(value, 1, 3)
    with pytest.raises(ValueError, match="beta"):
        finite_horizon_gittins_index(1, value, 3)


@pytest.mark.parametrize("max_count", [-1, 2.5, 3.0, True, "3", None])
def test_bad_max_count(max_count):
    with pytest.raises(ValueError, match="max_count"):
        gittins_table(0.9, max_count)


@pytest.mark.parametrize("remaining", [0, -1, 1.5, 2.0, True, "2"])
def test_bad_remaining(remaining):
    with pytest.raises(ValueError, match="remaining"):
        finite_horizon_gittins_index(1, 1, remaining)


@pytest.mark.parametrize("prior", [(0.0, 1.0), (1.0, -1.0), (1.0,), (1.0, 2.0, 3.0), (1.0, float("nan")), "ab"])
def test_bad_prior(prior):
    with pytest.raises(ValueError, match="prior"):
        gittins_table(0.9, 3, prior=prior)


def test_bad_policy_arguments():
    with pytest.raises(ValueError, match="horizon"):
        FiniteHorizonGittinsPolicy(2, horizon=0)
    with pytest.raises(ValueError, match="n_arms"):
        GittinsPolicy(0)
    with pytest.raises(ValueError, match="prior"):
        GittinsPolicy(2, prior=(1.0, 0.0))
    with pytest.raises(ValueError, match="integer"):
        GittinsPolicy(2, discount=0.9).action_probabilities(np.array([[0.5, 0.0, 0.0, 0.0]]))
    with pytest.raises(ValueError, match="non-negative"):
        GittinsPolicy(2, discount=0.9).action_probabilities(np.array([[-1.0, 0.0, 0.0, 0.0]]))


def test_lattice_too_large_names_the_smallest_tol():
    with pytest.raises(ValueError, match=r"lattice .* the smallest tol that fits is about") as info:
        gittins_index(1, 1, 0.999, tol=1e-9)
    smallest = float(info.value.args[0].rsplit(" ", 1)[-1])
    assert 1e-9 < smallest < 1e-3
    depth = truncation_depth(0.999, smallest, 2.0)
    assert 16 * (depth + 1) * (depth + 2) // 2 <= gittins.MAX_LATTICE_BYTES  # that tol fits
    with pytest.raises(ValueError, match="smallest tol"):
        gittins_table(0.999, 10, tol=1e-9)
    with pytest.raises(ValueError, match="no tol < 1 fits"):
        gittins_index(1, 1, 0.99999, tol=1e-3)
