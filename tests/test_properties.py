"""Property-based tests (hypothesis) of the envs and the conjugate models over wild inputs.

The property, whatever constructor arguments, priors, tasks and actions are drawn (sizes from
-2^64 to 10^30, floats from -1e308 to 1e308 with subnormals, NaN and infinities, pairs of the
wrong shape, per-arm arrays, strings, booleans, None): the env either

- refuses them with a ``ValueError`` whose message names the argument: at construction
  (``gym.make`` / ``gym.make_vec``), at ``reset(options={"task": ...})`` (naming ``task``) or at
  ``step`` (an action outside the action space, naming the ``action``); or
- steps with finite observations inside its observation space, finite rewards, and
  ``info["posterior"]`` (and ``bayes_predictive()``) equal, to 1e-9 relative with a small
  absolute floor, to the conjugate update computed *here*, from the prior as documented and
  the outcomes read back from the observations and rewards (no library code is used for it).

Arguments, tasks and actions are drawn from a conservative "valid" branch or a "wild" one.
Only the wild ones may be refused: valid arguments, tasks the env drew itself and actions
inside the action space must be accepted, so that an env which refuses everything cannot
pass. Sizes above :data:`MUST_REFUSE_SIZE` must be refused, and every example runs under
an address-space cap (:func:`memory_cap`) so that a size that is accepted and allocates
gigabytes fails fast with ``MemoryError`` (not a ``ValueError``: a failure) instead of
exhausting the machine.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.vector import AutoresetMode
from hypothesis import Phase, given, settings
from hypothesis import note as hypothesis_note
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

import meta_envs
from bayes.models import BetaBernoulli, DirichletCategorical, GammaExponential, NormalKnownNoise

gym.register_envs(meta_envs)

# ----------------------------------------------------------------------------- set-up

#: Sizes (``n_arms``, ``n_outcomes``, ``horizon``, ``num_envs``) above this must be refused with a
#: ``ValueError``: 2^32 is far beyond any bound a fix would choose (the study uses at most 50
#: arms and horizons of a few hundred) and below 10^12, the size that today's code accepts.
MUST_REFUSE_SIZE = 2**32

#: Address space an example may add (``RLIMIT_AS``): an accepted env must fit in it (the ones
#: drawn here need a few MiB; a size accepted without bound does not).
MEMORY_HEADROOM = 2 << 30

#: At most this many steps per episode (huge valid horizons are never played to the end).
MAX_STEPS = 8

#: Relative tolerance of every comparison with the conjugate update computed here ...
RTOL = 1e-9
#: ... and its absolute floor: the rounding of subnormal numbers (exact formulas otherwise).
ATOL = 1e-320

#: float32 rounding of an outcome ``x`` observed as float32: ``|x - float32(x)|`` is at most
#: half an ulp, ``2^-24 |x|`` for normal numbers and ``2^-150`` below them (doubled for slack).
F32_REL, F32_ABS = 2.0**-23, 2.0**-149

ENV_IDS = meta_envs.ENV_IDS

#: The constructor defaults, as each env's docstring documents them.
DEFAULTS: dict[str, dict[str, Any]] = {
    "MetaBandit-v0": {"n_arms": 2, "horizon": 20, "prior": (1.0, 1.0)},
    "MetaGaussianBandit-v0": {"n_arms": 2, "horizon": 20, "prior": (0.0, 1.0), "noise_std": 1.0},
    "MetaCoin-v0": {"horizon": 20, "prior": "uniform", "log_prob_floor": -50.0},
    "MetaDie-v0": {"n_outcomes": 3, "horizon": 20, "prior": 1.0, "log_prob_floor": -50.0},
    "MetaGaussian-v0": {"horizon": 20, "prior": (0.0, 1.0), "noise_std": 1.0, "log_prob_floor": -50.0},
    "MetaExponential-v0": {"horizon": 20, "prior": (1.0, 1.0), "log_prob_floor": -50.0},
    "MetaSwitchingCoin-v0": {"horizon": 20, "prior": "uniform", "hazard": 0.1, "log_prob_floor": -50.0},
}

#: The named coin priors of ``MetaCoin-v0``'s docstring.
COIN_PRIORS = {"uniform": (1.0, 1.0), "fair": (20.0, 20.0), "bent": (0.2, 0.2)}

SIZE_ARGS = ("n_arms", "n_outcomes", "horizon", "num_envs")

#: Every test: no deadline (first calls import and compile); no example database (no
#: ``.hypothesis`` folder in the checkout); no "explain" phase, which traces failing examples
#: and took minutes on the huge-size failures; the blob to reproduce a failure is printed.
SETTINGS = {
    # the same examples on every run (CI, a fresh clone): a failure reproduces; widen the search
    # locally with --hypothesis-seed=N and derandomize off
    "derandomize": True,
    "deadline": None,
    "database": None,
    "print_blob": True,
    "phases": [phase for phase in Phase if phase is not Phase.explain],
}


def note(text: str) -> None:
    """``hypothesis.note`` inside a hypothesis test; nothing in the parametrized ones."""
    with contextlib.suppress(InvalidArgument):
        hypothesis_note(text)


@contextlib.contextmanager
def memory_cap(headroom: int = MEMORY_HEADROOM):
    """Cap the process's address space at its current size plus ``headroom`` (Linux): numpy then
    raises ``MemoryError`` at once for a huge array instead of filling the machine's memory."""
    try:
        import resource

        with open("/proc/self/status") as status:
            size_kb = next(int(line.split()[1]) for line in status if line.startswith("VmSize:"))
    except (ImportError, OSError, StopIteration):
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = size_kb * 1024 + headroom
    for limit in (soft, hard):  # never raise a limit set outside
        if limit != resource.RLIM_INFINITY:
            cap = min(cap, limit)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


# ------------------------------------------------------------------------- strategies

NASTY_FLOATS = (
    0.0, -0.0, 5e-324, 1e-310, 1e-300, 1e-100, 1e-45, 1e-38, 1e-30, 1e-5, 0.5, 1.0, -1.0, 2.0, 1e30,
    1e38, 3.4e38, 3.5e38, 1e100, 1.5e100, 1e300, 1e308, 1.7976931348623157e308, -1e-310, -1e300, -1e308,
    math.nan, math.inf, -math.inf,
)  # fmt: skip
#: Sizes that do not allocate (horizons) are drawn from the whole range; those that allocate
#: (arms, faces, sub-environments) only up to 10^4 or above MUST_REFUSE_SIZE, where any array of
#: that length fails at once: a size in between that today's code accepts would allocate
#: gigabytes on every example (and every shrinking step) before failing.
HUGE_SIZES = (MUST_REFUSE_SIZE + 1, 10**12, 2**53 + 1, 2**63 - 1, 2**63, 2**64, 10**30)
SMALL_SIZES = (0, -1, -(2**63), 1001, 10**4)
GRAY_SIZES = (10**6, 2**24 + 1, 10**9, 2**31 - 1, 2**31, 2**32)

WILD_FLOATS = st.one_of(st.floats(), st.sampled_from(NASTY_FLOATS), st.floats(-1e308, 1e308))
WILD_REALS = st.one_of(
    WILD_FLOATS,
    st.integers(-(10**20), 10**20),
    st.floats(width=32).map(np.float32),
    st.integers(-(2**63), 2**63 - 1).map(np.int64),
)
NOT_NUMBERS = st.sampled_from(
    (None, True, False, np.True_, "", "1.0", "nan", "uniform", "fair", "bent", "loaded", (), [], {})
)
WILD_ARRAYS = st.one_of(
    st.lists(WILD_REALS, max_size=4),
    st.lists(st.lists(WILD_REALS, max_size=3), min_size=1, max_size=3),  # wrong or ragged shapes
    st.lists(WILD_FLOATS, max_size=4).map(np.array),
)
WILD_VALUES = st.one_of(WILD_REALS, NOT_NUMBERS, WILD_ARRAYS)


def wild_sizes(allocates: bool) -> st.SearchStrategy:
    """Sizes gone wrong: negative, zero, huge, floats, booleans, strings, None."""
    huge = st.integers(MUST_REFUSE_SIZE + 1, 10**12) if allocates else st.integers(0, 10**12)
    nasty = SMALL_SIZES + HUGE_SIZES + (() if allocates else GRAY_SIZES)
    return st.one_of(
        st.integers(-3, 3),
        huge,
        st.sampled_from(nasty),
        st.integers(-(2**64), 0),
        st.integers(MUST_REFUSE_SIZE + 1, 2**64),
        st.sampled_from(nasty).filter(lambda v: -(2**63) <= v < 2**63).map(np.int64),
        st.integers(-(2**31), 3).map(np.int32),
        WILD_FLOATS,
        NOT_NUMBERS,
    )


POSITIVE = st.floats(0.05, 100.0)  # Beta / Dirichlet concentrations
HAZARDS = st.one_of(st.floats(0.0, 1.0), st.sampled_from((0.0, 1.0, 0, 1, 0.5)))  # the switching coin's
MEAN = st.floats(-100.0, 100.0)
STD = st.floats(0.01, 100.0)


def wild_pairs(n_arms: int) -> st.SearchStrategy:
    """A prior pair gone wrong: wild entries, the same wild entry twice, one pair per arm of wild
    entries, the wrong shape, or no numbers at all."""
    pair = st.tuples(WILD_REALS, WILD_REALS)
    return st.one_of(
        pair,
        WILD_REALS.map(lambda x: (x, x)),
        st.lists(pair, min_size=n_arms, max_size=n_arms),
        WILD_VALUES,
    )


def valid_pairs(first: st.SearchStrategy, second: st.SearchStrategy, n_arms: int | None) -> st.SearchStrategy:
    """One ``(first, second)`` pair, or (with ``n_arms``) one pair per arm."""
    pair = st.tuples(first, second)
    if n_arms is None:
        return pair
    return st.one_of(pair, st.lists(pair, min_size=n_arms, max_size=n_arms))


def per_arm(values: st.SearchStrategy, n_arms: int | None) -> st.SearchStrategy:
    """One value, or (with ``n_arms``) one value per arm."""
    if n_arms is None:
        return values
    return st.one_of(values, st.lists(values, min_size=n_arms, max_size=n_arms))


@st.composite
def env_cases(draw, wild: str = "all"):
    """``(env_id, kwargs, wild_names)``: every argument omitted (its default), valid, or drawn
    wild if ``wild`` allows (``"none"``, ``"sizes"``, ``"others"`` or ``"all"``); ``wild_names``
    lists the wild ones, the only ones that may be refused. Drawing sizes and the other arguments
    wild in separate tests keeps the failures of one from hiding those of the other."""
    env_id = draw(st.sampled_from(ENV_IDS))
    kwargs: dict[str, Any] = {}
    wild_names: list[str] = []

    def arg(name: str, valid: st.SearchStrategy, wild_values: st.SearchStrategy) -> Any:
        may_be_wild = wild == "all" or wild == ("sizes" if name in SIZE_ARGS else "others")
        mode = draw(st.sampled_from(("omit", "valid", "wild") if may_be_wild else ("omit", "valid")))
        if mode == "omit":
            return DEFAULTS[env_id][name]
        if mode == "wild":
            wild_names.append(name)
        kwargs[name] = draw(valid if mode == "valid" else wild_values)
        return kwargs[name]

    def size(name: str, low: int, high: int) -> int | None:
        """The size if it is a valid small int (per-arm arguments can be drawn for it)."""
        valid = st.one_of(st.integers(low, high), st.integers(low, high).map(np.int64))
        value = arg(name, valid, wild_sizes(allocates=name != "horizon"))
        small = isinstance(value, (int, np.integer)) and not isinstance(value, bool) and low <= value <= high
        return int(value) if small else None

    floors = st.one_of(st.floats(-1000.0, 0.0), st.integers(-100, 0), st.just(-0.0))
    if env_id == "MetaBandit-v0":
        k = size("n_arms", 1, 6)
        size("horizon", 1, 12)
        arg("prior", valid_pairs(POSITIVE, POSITIVE, k), wild_pairs(k or 2))
    elif env_id == "MetaGaussianBandit-v0":
        k = size("n_arms", 1, 6)
        size("horizon", 1, 12)
        arg("prior", valid_pairs(MEAN, STD, k), wild_pairs(k or 2))
        arg(
            "noise_std", per_arm(STD, k), st.one_of(WILD_VALUES, st.lists(WILD_REALS, min_size=k or 2, max_size=k or 2))
        )
    elif env_id == "MetaCoin-v0":
        size("horizon", 1, 12)
        arg(
            "prior",
            st.one_of(st.sampled_from(sorted(COIN_PRIORS)), valid_pairs(POSITIVE, POSITIVE, None)),
            wild_pairs(1),
        )
        arg("log_prob_floor", floors, WILD_VALUES)
    elif env_id == "MetaDie-v0":
        k = size("n_outcomes", 2, 6)
        size("horizon", 1, 12)
        arg(
            "prior",
            per_arm(POSITIVE, k),
            st.one_of(WILD_VALUES, st.lists(WILD_REALS, min_size=k or 3, max_size=k or 3)),
        )
        arg("log_prob_floor", floors, WILD_VALUES)
    elif env_id == "MetaGaussian-v0":
        size("horizon", 1, 12)
        arg("prior", valid_pairs(MEAN, STD, None), wild_pairs(1))
        arg("noise_std", STD, WILD_VALUES)
        arg("log_prob_floor", floors, WILD_VALUES)
    elif env_id == "MetaSwitchingCoin-v0":
        size("horizon", 1, 12)
        arg(
            "prior",
            st.one_of(st.sampled_from(sorted(COIN_PRIORS)), valid_pairs(POSITIVE, POSITIVE, None)),
            wild_pairs(1),
        )
        arg("hazard", HAZARDS, WILD_VALUES)
        arg("log_prob_floor", floors, WILD_VALUES)
    else:  # MetaExponential-v0: shape >= 2 keeps every horizon up to 2^64 within the tail check
        size("horizon", 1, 12)
        arg("prior", valid_pairs(st.floats(2.0, 100.0), st.floats(0.01, 100.0), None), wild_pairs(1))
        arg("log_prob_floor", floors, WILD_VALUES)
    return env_id, kwargs, wild_names


UNIFORMS = st.lists(st.floats(0.0, 1.0), min_size=8, max_size=8)

#: How an action is made from the env's action space (see :func:`make_action`).
ACTION_RECIPES = st.one_of(
    st.tuples(st.sampled_from(("valid", "valid", "valid_np", "list")), UNIFORMS),
    st.tuples(st.just("bayes")),
    st.tuples(st.sampled_from(("nan", "below", "above", "shape", "bool", "float"))),
    st.tuples(st.just("wild"), st.one_of(WILD_VALUES, st.integers(-3, 8), st.integers(-(2**70), 2**70))),
)
ACTIONS = st.lists(ACTION_RECIPES, max_size=MAX_STEPS)
#: Episodes that take at least one step: a valid action first, then any.
STEPPED_ACTIONS = st.tuples(st.one_of(st.tuples(st.just("valid"), UNIFORMS), st.tuples(st.just("bayes"))), ACTIONS).map(
    lambda first_rest: [first_rest[0], *first_rest[1]]
)

#: How a task for ``reset(options={"task": ...})`` is made (see :func:`make_task`).
TASK_RECIPES = st.one_of(
    st.tuples(st.just("drawn")),
    st.tuples(st.just("valid"), UNIFORMS),
    st.tuples(st.sampled_from(("entry", "fill")), st.sampled_from(NASTY_FLOATS), st.booleans()),
    st.tuples(st.sampled_from(("entry", "fill")), WILD_REALS, st.booleans()),
    st.tuples(st.just("wild"), WILD_VALUES),
)

SEEDS = st.integers(0, 2**64)


# ---------------------------------------------------- the conjugate updates, written here


def close(what: str, actual: Any, expected: Any, atol: Any = 0.0) -> None:
    """``actual`` finite, of ``expected``'s shape, within ``RTOL`` relative (plus ``atol`` and
    :data:`ATOL`) of ``expected``."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape}, expected {expected.shape}"
    assert np.all(np.isfinite(expected)), (
        f"{what}: the conjugate update of this prior is not finite in float64 ({expected}); the env should refuse it"
    )
    assert np.all(np.isfinite(actual)), f"{what} is not finite: {actual} (expected {expected})"
    with np.errstate(all="ignore"):
        ok = np.abs(actual - expected) <= RTOL * np.abs(expected) + atol + ATOL
    assert np.all(ok), f"{what}: got {actual.tolist()}, expected {expected.tolist()}"


def beta_mean(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a / (a + b)`` without overflowing ``a + b``."""
    with np.errstate(all="ignore"):
        return np.where(np.isfinite(a + b), a / (a + b), (a / 2) / (a / 2 + b / 2))


class Belief:
    """The posterior of one episode after the outcomes seen, computed from the documented prior.

    ``k`` components (arms, faces or one), ``arms``: the env has arms (info keeps the arm axis).
    """

    k: int
    arms: bool
    task_shape: tuple[int, ...]

    def observe(self, arm: int, x: float, err: float) -> None:
        """Outcome ``x`` of component ``arm``, known to within ``err``."""
        raise NotImplementedError

    def posterior(self) -> tuple[np.ndarray, np.ndarray]:
        """``(expected info["posterior"], absolute tolerance)``."""
        raise NotImplementedError

    def predictive(self) -> tuple[np.ndarray, np.ndarray]:
        """``(expected bayes_predictive(), absolute tolerance)``."""
        raise NotImplementedError

    def valid_task(self, us: list[float]) -> Any:
        """A task inside the documented domain (and the prior's bulk), from uniforms."""
        raise NotImplementedError

    def in_domain(self, task: np.ndarray) -> bool:
        raise NotImplementedError

    def expected_task(self, task: Any) -> np.ndarray:
        return np.asarray(task, dtype=np.float64).reshape(self.task_shape)

    def _shape(self, array: np.ndarray) -> np.ndarray:
        return array if self.arms else array[0]


class BetaBelief(Belief):
    """Beta-Bernoulli: ``(alpha + successes, beta + failures)`` per arm."""

    def __init__(self, alpha: Any, beta: Any, arms: bool) -> None:
        self.alpha, self.beta = np.array(alpha, dtype=np.float64), np.array(beta, dtype=np.float64)
        self.k, self.arms = len(self.alpha), arms
        self.task_shape = (self.k,) if arms else ()
        self.successes, self.failures = np.zeros(self.k), np.zeros(self.k)

    def observe(self, arm: int, x: float, err: float) -> None:
        assert x in (0.0, 1.0), f"a Bernoulli outcome must be 0 or 1, got {x}"
        if x == 1.0:
            self.successes[arm] += 1
        else:
            self.failures[arm] += 1

    def posterior(self) -> tuple[np.ndarray, np.ndarray]:
        post = np.stack([self.alpha + self.successes, self.beta + self.failures], axis=-1)
        return self._shape(post), 0.0

    def predictive(self) -> tuple[np.ndarray, np.ndarray]:
        p = beta_mean(self.alpha + self.successes, self.beta + self.failures)
        return self._shape(p[:, None]), 0.0

    def valid_task(self, us: list[float]) -> Any:
        return np.resize(us, self.k) if self.arms else us[0]

    def in_domain(self, task: np.ndarray) -> bool:
        return bool(np.all((task >= 0) & (task <= 1)))


class NormalBelief(Belief):
    """Normal mean, known noise: precision ``1/s0^2 + n/sigma^2``, mean ``(m0/s0^2 + S/sigma^2) / precision``.

    Outcomes known to within ``err`` (float32 observations) move the mean by ``err/sigma^2/precision``.
    """

    def __init__(self, mean: Any, std: Any, noise: Any, arms: bool) -> None:
        self.m0, self.s0 = np.array(mean, dtype=np.float64), np.array(std, dtype=np.float64)
        self.noise = np.array(noise, dtype=np.float64)
        self.k, self.arms = len(self.m0), arms
        self.task_shape = (self.k,) if arms else ()
        self.n, self.total, self.size, self.err = (np.zeros(self.k) for _ in range(4))

    def observe(self, arm: int, x: float, err: float) -> None:
        self.n[arm] += 1
        self.total[arm] += x
        self.size[arm] += abs(x)
        self.err[arm] += err

    def _mean(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        with np.errstate(all="ignore"):
            prior_precision, noise_precision = 1.0 / self.s0**2, 1.0 / self.noise**2
            precision = prior_precision + self.n * noise_precision
            mean = (self.m0 * prior_precision + self.total * noise_precision) / precision
            # rounding of the two terms (summed in another order by the env), and of the outcomes
            scale = (np.abs(self.m0) * prior_precision + self.size * noise_precision) / precision
            atol = 1e-12 * scale + self.err * noise_precision / precision
        return mean, precision, atol

    def posterior(self) -> tuple[np.ndarray, np.ndarray]:
        mean, precision, atol = self._mean()
        post = np.stack([mean, 1.0 / np.sqrt(precision)], axis=-1)
        return self._shape(post), self._shape(np.stack([atol, np.zeros(self.k)], axis=-1))

    def predictive(self) -> tuple[np.ndarray, np.ndarray]:
        mean, precision, atol = self._mean()
        with np.errstate(all="ignore"):
            pred = np.stack([mean, np.sqrt(1.0 / precision + self.noise**2)], axis=-1)
        return self._shape(pred), self._shape(np.stack([atol, np.zeros(self.k)], axis=-1))

    def valid_task(self, us: list[float]) -> Any:
        task = self.m0 + (2 * np.resize(us, self.k) - 1) * 5 * self.s0  # within 5 prior stds
        return task if self.arms else float(task[0])

    def in_domain(self, task: np.ndarray) -> bool:
        return bool(np.all(np.isfinite(task)))


class GammaBelief(Belief):
    """Gamma-Exponential: ``(shape + n, rate + sum x)``; the predictive Lomax has the same pair."""

    def __init__(self, shape: float, rate: float) -> None:
        self.a, self.b = float(shape), float(rate)
        self.k, self.arms, self.task_shape = 1, False, ()
        self.n = self.total = self.err = 0.0

    def observe(self, arm: int, x: float, err: float) -> None:
        assert x >= 0, f"an exponential outcome must be >= 0, got {x}"
        self.n += 1
        self.total += x
        self.err += err

    def posterior(self) -> tuple[np.ndarray, np.ndarray]:
        return np.array([self.a + self.n, self.b + self.total]), np.array([0.0, self.err])

    def predictive(self) -> tuple[np.ndarray, np.ndarray]:
        return self.posterior()

    def valid_task(self, us: list[float]) -> Any:
        return self.a / self.b * 10 ** (2 * us[0] - 1)  # within a factor 10 of the prior mean

    def in_domain(self, task: np.ndarray) -> bool:
        return bool(np.all(task > 0))


class DirichletBelief(Belief):
    """Dirichlet-Categorical: ``alpha + counts``; predictive ``(alpha + counts) / sum``."""

    def __init__(self, alpha: Any) -> None:
        self.alpha = np.array(alpha, dtype=np.float64)
        self.k, self.arms = len(self.alpha), True
        self.task_shape = (self.k,)
        self.counts = np.zeros(self.k)

    def observe(self, arm: int, x: float, err: float) -> None:
        self.counts[int(x)] += 1

    def posterior(self) -> tuple[np.ndarray, np.ndarray]:
        return self.alpha + self.counts, 0.0

    def predictive(self) -> tuple[np.ndarray, np.ndarray]:
        post = self.alpha + self.counts
        return post / post.sum(), 0.0

    def valid_task(self, us: list[float]) -> Any:
        weights = np.resize(us, self.k) + 0.01
        if us[-1] < 0.2:  # a face certain, the others impossible
            weights = np.eye(self.k)[int(np.argmax(weights))]
        return weights / weights.sum()

    def in_domain(self, task: np.ndarray) -> bool:
        return bool(np.all(task >= 0) and abs(task.sum() - 1.0) <= 1e-6)

    def expected_task(self, task: Any) -> np.ndarray:
        array = super().expected_task(task)
        return array / array.sum()


class SwitchingBelief(Belief):
    """The switching coin: the run-length posterior by its recursion, written out here over the run
    lengths ``r <= t`` that ``t`` outcomes allow; longer ones have probability 0 and their window
    holds all the outcomes seen. ``info["posterior"]`` rows: ``(P(r), alpha + s_r, beta + r - s_r)``."""

    def __init__(self, alpha: float, beta: float, hazard: float, horizon: int) -> None:
        self.a, self.b, self.h = float(alpha), float(beta), float(hazard)
        self.k, self.arms, self.task_shape = 1, False, ()
        self.size = horizon + 1
        self.w, self.s, self.total = [1.0], [0.0], 0.0  # run length 0 before the first outcome

    def observe(self, arm: int, x: float, err: float) -> None:
        assert x in (0.0, 1.0), f"a Bernoulli outcome must be 0 or 1, got {x}"
        joint = []
        for r, (w, s) in enumerate(zip(self.w, self.s, strict=True)):
            before = (self.h if r == 0 else 0.0) + (1.0 - self.h) * w  # run length r before this outcome
            p = (self.a + s) / (self.a + self.b + r)
            joint.append(before * (p if x == 1.0 else 1.0 - p))
        z = sum(joint)
        self.w = [0.0] + [j / z for j in joint]
        self.s = [0.0] + [s + x for s in self.s]
        self.total += x

    def posterior(self) -> tuple[np.ndarray, np.ndarray]:
        w, s = np.zeros(self.size), np.full(self.size, self.total)
        w[: len(self.w)], s[: len(self.s)] = self.w, self.s
        return np.stack([w, self.a + s, self.b + np.arange(self.size) - s], axis=-1), 0.0

    def predictive(self) -> tuple[np.ndarray, np.ndarray]:
        pairs = enumerate(zip(self.w, self.s, strict=True))
        mixed = sum(w * (self.a + s) / (self.a + self.b + r) for r, (w, s) in pairs)
        return np.array([(1.0 - self.h) * mixed + self.h * self.a / (self.a + self.b)]), 0.0

    def valid_task(self, us: list[float]) -> Any:
        return us[0]

    def in_domain(self, task: np.ndarray) -> bool:
        return bool(np.all((task >= 0) & (task <= 1)))


def make_belief(env_id: str, kwargs: dict[str, Any]) -> Belief:
    """The prior an accepted env was made with, read here from its documented arguments."""
    kw = {**DEFAULTS[env_id], **kwargs}
    if env_id in ("MetaBandit-v0", "MetaGaussianBandit-v0"):
        k = int(kw["n_arms"])
        pairs = np.broadcast_to(np.asarray(kw["prior"], dtype=np.float64), (k, 2))
        if env_id == "MetaBandit-v0":
            return BetaBelief(pairs[:, 0], pairs[:, 1], arms=True)
        noise = np.broadcast_to(np.asarray(kw["noise_std"], dtype=np.float64), (k,))
        return NormalBelief(pairs[:, 0], pairs[:, 1], noise, arms=True)
    prior = kw["prior"]
    if env_id == "MetaCoin-v0":
        alpha, beta = np.asarray(COIN_PRIORS[prior] if isinstance(prior, str) else prior, dtype=np.float64)
        return BetaBelief([alpha], [beta], arms=False)
    if env_id == "MetaSwitchingCoin-v0":
        alpha, beta = np.asarray(COIN_PRIORS[prior] if isinstance(prior, str) else prior, dtype=np.float64)
        return SwitchingBelief(alpha, beta, float(kw["hazard"]), int(kw["horizon"]))
    if env_id == "MetaDie-v0":
        return DirichletBelief(np.broadcast_to(np.asarray(prior, dtype=np.float64), (int(kw["n_outcomes"]),)))
    if env_id == "MetaGaussian-v0":
        mean, std = np.asarray(prior, dtype=np.float64)
        return NormalBelief([mean], [std], [float(np.asarray(kw["noise_std"]))], arms=False)
    shape, rate = np.asarray(prior, dtype=np.float64)
    return GammaBelief(shape, rate)


# ------------------------------------------------------------- reading back the outcomes


def read_outcome(env_id: str, belief: Belief, obs: np.ndarray, reward: float, action: Any, t: int, horizon: int):
    """Check one step's observation layout; return ``(component, outcome, uncertainty)``.

    How each outcome is recovered:

    - Bernoulli and categorical outcomes are exact in float32 (0/1, one-hot);
    - a Gaussian bandit's reward *is* the outcome, exact in float64 (its float32 copy in the
      observation is only checked to be that reward rounded);
    - the prediction envs' continuous outcomes (MetaGaussian, MetaExponential) appear only as
      float32 in the observation; the reward is a floored log-density of the agent's action,
      which cannot be inverted reliably (floored, quadratic, or ill-conditioned near its mode),
      and reading them from the posterior would be circular. So the float32 value is used and
      the comparison allows for its rounding: ``|x - float32(x)| <= 2^-23 |x| + 2^-149`` per
      outcome, carried through the (linear) update. Quantities that do not depend on the
      outcomes (the posterior std, the Gamma shape) are still checked to 1e-9.
    """
    assert obs[-1] == np.float32(t / horizon), f"elapsed fraction {obs[-1]}, expected t/horizon = {t}/{horizon}"
    if env_id in ("MetaBandit-v0", "MetaGaussianBandit-v0"):
        k, arm = belief.k, int(action)
        one_hot = np.zeros(k, dtype=np.float32)
        one_hot[arm] = 1.0
        assert np.array_equal(obs[:k], one_hot), f"obs[:{k}] is not the one-hot of arm {arm}: {obs[:k]}"
        if env_id == "MetaBandit-v0":
            assert reward in (0.0, 1.0) and obs[k] == reward, f"reward {reward}, obs[{k}] = {obs[k]}"
            return arm, reward, 0.0
        with np.errstate(over="ignore"):
            assert obs[k] == np.float32(reward), f"obs[{k}] = {obs[k]} is not the reward {reward} in float32"
        return arm, reward, 0.0
    if env_id == "MetaDie-v0":
        faces = obs[: belief.k]
        assert np.sum(faces == 1.0) == 1 and np.sum(faces == 0.0) == belief.k - 1, f"not a one-hot face: {faces}"
        return 0, float(np.argmax(faces)), 0.0
    assert obs[1] == 1.0, f"obs[1] must be 1 once an outcome was seen, got {obs[1]}"
    x32 = float(obs[0])
    if env_id in ("MetaCoin-v0", "MetaSwitchingCoin-v0"):
        return 0, x32, 0.0
    return 0, x32, F32_REL * abs(x32) + F32_ABS


def check_reward(env_id: str, belief: Belief, reward: float, action: Any, x: float, floor: float) -> None:
    """Rewards: finite; the prediction envs' at least the floor; the discrete ones' log-loss exact."""
    assert isinstance(reward, float) and math.isfinite(reward), f"reward {reward!r} is not a finite float"
    if env_id in ("MetaBandit-v0", "MetaGaussianBandit-v0"):
        return
    assert reward >= floor, f"reward {reward} below log_prob_floor {floor}"
    a = np.asarray(action, dtype=np.float64)
    with np.errstate(all="ignore"):
        if env_id in ("MetaCoin-v0", "MetaSwitchingCoin-v0"):
            log_prob = np.log(a[0]) if x == 1.0 else np.log1p(-a[0])
            tol = 1e-12
        elif env_id == "MetaDie-v0":
            total, chosen = a.sum(), a[int(x)]
            log_prob = np.log(chosen) - np.log(total) if chosen > 0 and np.isfinite(total) else -np.inf
            tol = 1e-12 * (1 + abs(np.log(chosen)) + abs(np.log(total))) if chosen > 0 else 0.0
        else:
            return
    expected = max(float(log_prob), floor) if np.isfinite(log_prob) else floor
    close("reward", reward, expected, tol)


def check_belief(what: str, info: dict[str, Any], predictive: np.ndarray, belief: Belief) -> None:
    expected, atol = belief.posterior()
    close(f'{what}: info["posterior"]', info["posterior"], expected, atol)
    expected, atol = belief.predictive()
    close(f"{what}: bayes_predictive()", predictive, expected, atol)


# ------------------------------------------------------------------------- actions, tasks


def in_action_space(space: spaces.Space, action: Any) -> bool:
    """Membership, decided here: an int (not a bool) in range for ``Discrete``; a numeric
    (not boolean) array of the exact shape inside the bounds for ``Box``."""
    if isinstance(space, spaces.Discrete):
        if isinstance(action, np.ndarray) and action.shape == () and action.dtype.kind in "iu":
            action = action[()]
        if isinstance(action, (bool, np.bool_)) or not isinstance(action, (int, np.integer)):
            return False
        return int(space.start) <= int(action) < int(space.start + space.n)
    try:
        array = np.asarray(action)
    except (TypeError, ValueError, OverflowError):
        return False
    if array.dtype.kind not in "fiu" or array.shape != space.shape:
        return False
    with np.errstate(invalid="ignore"):
        return bool(np.all((array >= space.low) & (array <= space.high)))


def make_action(space: spaces.Space, recipe: tuple, bayes: np.ndarray) -> Any:
    """The action a recipe describes: ``valid``/``valid_np``/``list`` inside the space from
    uniforms, ``bayes`` the Bayes predictive (the best arm), ``nan``/``below``/``above``/``shape``/
    ``bool``/``float`` a valid action spoiled, ``wild`` a drawn value."""
    kind = recipe[0]
    if kind == "wild":
        return recipe[1]
    us = recipe[1] if len(recipe) > 1 else [0.5] * MAX_STEPS
    if isinstance(space, spaces.Discrete):
        n = int(space.n)
        arm = int(np.argmax(bayes[:, 0])) if kind == "bayes" else min(int(us[0] * n), n - 1)
        return {
            "valid": arm, "valid_np": np.int64(arm), "list": [arm], "bayes": arm, "nan": math.nan, "below": -1,
            "above": n, "shape": np.array([arm]), "bool": True, "float": float(arm),
        }[kind]  # fmt: skip
    low, high = space.low.astype(np.float64), space.high.astype(np.float64)
    if kind == "bayes":
        return np.asarray(bayes, dtype=np.float64)
    valid = np.clip(low + np.resize(us, space.shape) * (high - low), low, high)
    if kind == "valid":
        return valid
    if kind == "valid_np":
        return valid.astype(np.float32)
    if kind in ("list", "float"):
        return valid.tolist()
    if kind == "shape":
        return np.append(valid, valid[0])
    if kind == "bool":
        return np.ones(space.shape, dtype=bool)
    spoiled = valid.copy()
    spoiled[0] = {
        "nan": math.nan,
        "below": low[0] - abs(low[0]) * 1e-6 - 1e-6,
        "above": high[0] + abs(high[0]) * 1e-6 + 1e-6,
    }[kind]
    return spoiled


def make_task(recipe: tuple, belief: Belief, drawn: np.ndarray) -> tuple[Any, bool]:
    """``(task, must_accept)``: ``drawn`` the task the env drew at a plain reset, ``valid`` one in
    the domain and the prior's bulk (both must be accepted); ``entry``/``fill`` a valid task with
    its first/every entry replaced by a wild number (optionally with a batch axis); ``wild``."""
    kind = recipe[0]
    if kind == "drawn":
        return drawn, True
    if kind == "valid":
        return belief.valid_task(recipe[1]), True
    if kind == "wild":
        return recipe[1], False
    _, x, batched = recipe
    task: Any = x
    if belief.task_shape:
        task = np.asarray(belief.valid_task([0.5] * MAX_STEPS), dtype=np.float64).tolist()
        task = [x] * len(task) if kind == "fill" else [x, *task[1:]]
    return ([task] if batched else task), False


def check_refusal(error: ValueError, names: list[str], what: str) -> None:
    """A refusal must be of something wild and name it."""
    message = str(error)
    assert names, f"{what}: refused, though nothing drawn was wild: {message}"
    assert any(name in message for name in names), f"{what}: the message names none of {names}: {message!r}"


def check_sizes_refused(kwargs: dict[str, Any]) -> None:
    for name in SIZE_ARGS:
        value = kwargs.get(name)
        if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
            assert value <= MUST_REFUSE_SIZE, (
                f"{name}={value} was accepted: sizes above {MUST_REFUSE_SIZE} must be refused"
            )


# ------------------------------------------------------------------------ single episodes


def play(
    env: gym.Env, env_id: str, kwargs: dict[str, Any], seed: int, task_recipe: tuple | None, actions: list
) -> None:
    """Reset (optionally on a task) and step through ``actions``, checking the property at each step."""
    belief = make_belief(env_id, kwargs)
    kw = {**DEFAULTS[env_id], **kwargs}
    horizon, floor = int(kw["horizon"]), float(kw.get("log_prob_floor", -math.inf))
    options = None
    if task_recipe is not None:
        _, info = env.reset(seed=seed)
        task, must_accept = make_task(task_recipe, belief, info["task"])
        note(f"task: {task!r}")
        options = {"task": task}
        try:
            obs, info = env.reset(seed=seed + 1, options=options)
        except ValueError as error:
            check_refusal(error, [] if must_accept else ["task"], f"reset(options={{'task': {task!r}}})")
            return
        if task is not None:  # None: no task given, one is drawn
            close('info["task"] (the task given)', info["task"], belief.expected_task(task))
    else:
        obs, info = env.reset(seed=seed)
    assert env.observation_space.contains(obs) and not obs.any(), f"the observation at reset is {obs!r}"
    task = np.asarray(info["task"])
    assert task.shape == belief.task_shape and np.all(np.isfinite(task)) and belief.in_domain(task), f"task {task!r}"
    check_belief("at reset", info, env.unwrapped.bayes_predictive(), belief)
    t = 0
    for recipe in actions:
        if t >= min(horizon, MAX_STEPS):
            break
        action = make_action(env.action_space, recipe, env.unwrapped.bayes_predictive())
        valid = in_action_space(env.action_space, action)
        note(f"step {t + 1}: action {action!r} ({'valid' if valid else 'invalid'})")
        try:
            obs, reward, terminated, truncated, info = env.step(action)
        except ValueError as error:
            check_refusal(error, [] if valid else ["action"], f"step({action!r})")
            check_belief(f"after refusing {action!r}", info, env.unwrapped.bayes_predictive(), belief)
            continue
        assert valid, f"step({action!r}) accepted an action outside {env.action_space}"
        t += 1
        assert np.all(np.isfinite(obs)), f"step {t}: observation not finite: {obs!r}"
        assert env.observation_space.contains(obs), f"step {t}: {obs!r} outside {env.observation_space}"
        assert terminated == (t == horizon) and truncated is False, f"step {t}: terminated={terminated} ({horizon=})"
        arm, x, err = read_outcome(env_id, belief, obs, reward, action, t, horizon)
        check_reward(env_id, belief, reward, action, x, floor)
        belief.observe(arm, x, err)
        check_belief(f"step {t}", info, env.unwrapped.bayes_predictive(), belief)


def build(env_id: str, kwargs: dict[str, Any], wild_names: list[str]) -> gym.Env | None:
    """``gym.make``, or None after checking a refusal."""
    note(f"gym.make({env_id!r}, **{kwargs!r})")
    try:
        env = gym.make(env_id, **kwargs)
    except ValueError as error:
        check_refusal(error, wild_names, f"gym.make({env_id!r}, **{kwargs!r})")
        return None
    check_sizes_refused(kwargs)
    return env


# ------------------------------------------------------------------------------ the tests


def check_construction(case: tuple, seed: int, actions: list) -> None:
    env_id, kwargs, wild_names = case
    with memory_cap():
        env = build(env_id, kwargs, wild_names)
        if env is not None:
            play(env, env_id, kwargs, seed, None, actions[:5])


@settings(max_examples=300, **SETTINGS)
@given(case=env_cases(wild="sizes"), seed=SEEDS, actions=STEPPED_ACTIONS)
def test_sizes_are_refused_naming_them_or_the_env_steps_exactly(case, seed, actions):
    check_construction(case, seed, actions)


@settings(max_examples=500, **SETTINGS)
@given(case=env_cases(wild="others"), seed=SEEDS, actions=STEPPED_ACTIONS)
def test_priors_and_floors_are_refused_naming_them_or_the_env_steps_exactly(case, seed, actions):
    check_construction(case, seed, actions)


@settings(max_examples=300, **SETTINGS)
@given(case=env_cases(wild="all"), seed=SEEDS, actions=STEPPED_ACTIONS)
def test_any_arguments_are_refused_naming_one_of_them_or_the_env_steps_exactly(case, seed, actions):
    check_construction(case, seed, actions)


@settings(max_examples=500, **SETTINGS)
@given(case=env_cases(wild="none"), task=TASK_RECIPES, seed=SEEDS, actions=STEPPED_ACTIONS)
def test_given_tasks_are_refused_naming_task_or_the_env_steps_exactly(case, task, seed, actions):
    env_id, kwargs, _ = case
    env = build(env_id, kwargs, [])
    play(env, env_id, kwargs, seed, task, actions)


@settings(max_examples=300, **SETTINGS)
@given(case=env_cases(wild="none"), seed=SEEDS, actions=st.lists(ACTION_RECIPES, min_size=1, max_size=MAX_STEPS))
def test_actions_outside_the_space_are_refused_naming_the_action_and_valid_ones_step(case, seed, actions):
    env_id, kwargs, _ = case
    env = build(env_id, kwargs, [])
    play(env, env_id, kwargs, seed, None, actions)


#: The known extremes, checked on every run whatever hypothesis draws.
KNOWN_CASES = [
    ("MetaBandit-v0", {"prior": (1e308, 1e308)}, None, [("valid", [0.0] * MAX_STEPS)]),
    ("MetaBandit-v0", {"n_arms": 10**12}, None, []),
    ("MetaBandit-v0", {"horizon": 10**12}, None, [("valid", [0.0] * MAX_STEPS)]),
    ("MetaDie-v0", {"n_outcomes": 10**12}, None, []),
    ("MetaGaussianBandit-v0", {}, ("wild", [[1e300, 0.5]]), [("valid", [0.0] * MAX_STEPS)]),
    ("MetaGaussian-v0", {}, ("wild", 1e300), [("valid", [0.5] * MAX_STEPS)]),
    ("MetaExponential-v0", {}, ("wild", 1e-300), [("valid", [0.5] * MAX_STEPS)]),
]


@pytest.mark.parametrize(
    ("env_id", "kwargs", "task", "actions"),
    KNOWN_CASES,
    ids=[
        "bandit-prior-1e308",
        "bandit-n_arms-1e12",
        "bandit-horizon-1e12",
        "die-n_outcomes-1e12",
        "gaussian_bandit-task-1e300",
        "gaussian-task-1e300",
        "exponential-task-1e-300",
    ],
)
def test_known_extremes(env_id, kwargs, task, actions):
    with memory_cap():
        env = build(env_id, kwargs, list(kwargs))
        if env is not None:
            play(env, env_id, kwargs, 0, task, actions)


# --------------------------------------------------------------------------- vector envs


def in_batch_space(space: spaces.Space, n: int, actions: Any) -> bool:
    """A batch ``(n, *shape)`` whose every row is in ``space`` (decided as :func:`in_action_space`)."""
    try:
        array = np.asarray(actions)
    except (TypeError, ValueError, OverflowError):
        return False
    if array.shape != (n, *space.shape) or array.dtype.kind not in (
        "iu" if isinstance(space, spaces.Discrete) else "fiu"
    ):
        return False
    return all(in_action_space(space, row if space.shape else row[()]) for row in array)


@settings(max_examples=300, **SETTINGS)
@given(
    case=env_cases(),
    num_envs=st.one_of(st.integers(1, 3), wild_sizes(allocates=True)),
    task=st.one_of(st.none(), TASK_RECIPES),
    seed=SEEDS,
    actions=st.lists(ACTION_RECIPES, max_size=5),
)
def test_vector_env_refuses_naming_the_argument_or_steps_every_row_exactly(case, num_envs, task, seed, actions):
    env_id, kwargs, wild_names = case
    num_envs_is_wild = isinstance(num_envs, bool) or not (isinstance(num_envs, int) and 1 <= num_envs <= 3)
    wild_names = [*wild_names, *(["num_envs"] if num_envs_is_wild else [])]
    note(f"gym.make_vec({env_id!r}, num_envs={num_envs!r}, **{kwargs!r})")
    with memory_cap():
        try:
            envs = gym.make_vec(
                env_id, num_envs=num_envs, vectorization_mode="vector_entry_point",
                autoreset_mode=AutoresetMode.DISABLED, **kwargs,
            )  # fmt: skip
        except ValueError as error:
            check_refusal(error, wild_names, "gym.make_vec")
            return
        check_sizes_refused({**kwargs, "num_envs": num_envs})
        play_vector(envs.unwrapped, env_id, kwargs, int(num_envs), seed, task, actions)


def play_vector(
    envs, env_id: str, kwargs: dict[str, Any], n: int, seed: int, task_recipe: tuple | None, actions: list
) -> None:
    """As :func:`play` for a native vector env (autoreset disabled): the whole batch is checked
    for finiteness and the batched spaces, the first three rows and the last one in detail."""
    beliefs = {row: make_belief(env_id, kwargs) for row in sorted({0, 1, 2, n - 1}) if row < n}
    kw = {**DEFAULTS[env_id], **kwargs}
    horizon, floor = int(kw["horizon"]), float(kw.get("log_prob_floor", -math.inf))
    space = envs.single_action_space
    given_tasks = None
    obs, info = envs.reset(seed=seed)
    if task_recipe is not None:
        task, must_accept = make_task(task_recipe, beliefs[0], info["task"])
        note(f"task: {task!r}")
        try:
            obs, info = envs.reset(seed=seed + 1, options={"task": task})
        except ValueError as error:
            check_refusal(error, [] if must_accept else ["task"], f"reset(options={{'task': {task!r}}})")
            return
        given_tasks = None if task is None else np.asarray(task, dtype=np.float64)
    assert obs.shape == (n, *envs.single_observation_space.shape) and not obs.any(), f"observations at reset {obs!r}"
    assert np.all(np.isfinite(info["task"])), f"tasks {info['task']!r}"

    def check_rows(what: str, info: dict[str, Any]) -> None:
        predictive = envs.bayes_predictive()
        for row, belief in beliefs.items():
            check_belief(f"{what}, row {row}", {"posterior": info["posterior"][row]}, predictive[row], belief)

    for row, belief in beliefs.items():
        task = info["task"][row]
        assert belief.in_domain(task), f"row {row}: task {task!r}"
        if given_tasks is not None:
            expected = given_tasks if given_tasks.ndim == len(belief.task_shape) else given_tasks[row]
            close(f'row {row}: info["task"] (the task given)', task, belief.expected_task(expected))
    check_rows("at reset", info)
    t = 0
    for recipe in actions:
        if t >= min(horizon, MAX_STEPS):
            break
        predictive = envs.bayes_predictive()
        if recipe[0] in ("valid", "bayes"):  # one valid action per row
            us = recipe[1] if len(recipe) > 1 else [0.5] * MAX_STEPS
            batch = np.array([make_action(space, (recipe[0], np.roll(us, r)), predictive[r]) for r in range(n)])
        else:  # row 0 spoiled (or the whole batch wild)
            batch = make_action(space, recipe, predictive[0])
            if recipe[0] != "wild":
                batch = [batch, *(make_action(space, ("valid", [0.5] * MAX_STEPS), None) for _ in range(n - 1))]
        valid = in_batch_space(space, n, batch)
        note(f"step {t + 1}: actions {batch!r} ({'valid' if valid else 'invalid'})")
        try:
            obs, rewards, terminated, truncated, info = envs.step(batch)
        except ValueError as error:
            check_refusal(error, [] if valid else ["action"], f"step({batch!r})")
            check_rows(f"after refusing {batch!r}", info)
            continue
        assert valid, f"step({batch!r}) accepted actions outside {space}"
        t += 1
        assert np.all(np.isfinite(obs)) and np.all(np.isfinite(rewards)), f"step {t}: {obs!r}, {rewards!r}"
        assert envs.observation_space.contains(obs), f"step {t}: observations outside {envs.observation_space}"
        assert np.all(terminated == (t == horizon)) and not truncated.any(), f"step {t}: terminated={terminated}"
        for row, belief in beliefs.items():
            action = np.asarray(batch)[row]
            arm, x, err = read_outcome(env_id, belief, obs[row], float(rewards[row]), action, t, horizon)
            check_reward(env_id, belief, float(rewards[row]), action, x, floor)
            belief.observe(arm, x, err)
        check_rows(f"step {t}", info)


# ----------------------------------------------------------------- the conjugate models


MODEL_ARGS = {
    "BetaBernoulli": (BetaBernoulli, {"alpha": POSITIVE, "beta": POSITIVE}),
    "NormalKnownNoise": (NormalKnownNoise, {"prior_mean": MEAN, "prior_std": STD, "noise_std": STD}),
    "GammaExponential": (GammaExponential, {"shape": st.floats(0.1, 100.0), "rate": st.floats(0.01, 100.0)}),
    "DirichletCategorical": (DirichletCategorical, {"concentration": st.lists(POSITIVE, min_size=2, max_size=5)}),
}


#: Wild hyperparameters: mostly single numbers, the extremes often.
MODEL_WILD = st.one_of(
    WILD_FLOATS, st.sampled_from(NASTY_FLOATS), WILD_VALUES, st.lists(WILD_REALS, min_size=2, max_size=2)
)


@st.composite
def model_cases(draw):
    """``(name, kwargs, wild_names)``: each hyperparameter valid (a number or two), wild, or
    the same wild value as the previous one (e.g. ``alpha == beta == 1e308``)."""
    name = draw(st.sampled_from(sorted(MODEL_ARGS)))
    kwargs: dict[str, Any] = {}
    wild_names: list[str] = []
    previous = None
    for arg, valid in MODEL_ARGS[name][1].items():
        mode = draw(st.sampled_from(("valid", "wild", "same") if previous is not None else ("valid", "wild")))
        if mode == "valid":
            value = draw(
                valid if name == "DirichletCategorical" else st.one_of(valid, st.lists(valid, min_size=2, max_size=2))
            )
        else:
            value = previous if mode == "same" else draw(MODEL_WILD)
            wild_names.append(arg)
        kwargs[arg] = previous = value
    return name, kwargs, wild_names


@settings(max_examples=1000, **SETTINGS)
@given(case=model_cases(), outcomes=st.lists(st.floats(0.0, 1.0), max_size=5))
def test_models_refuse_naming_the_argument_or_give_finite_exact_posteriors(case, outcomes):
    check_model(*case, outcomes)


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [("BetaBernoulli", {"alpha": 1e308, "beta": 1e308}), ("DirichletCategorical", {"concentration": [1e308, 1e308]})],
    ids=["beta-1e308", "dirichlet-1e308"],
)
def test_known_model_extremes(name, kwargs):
    check_model(name, kwargs, list(kwargs), [0.2, 0.7])


def check_model(name: str, kwargs: dict[str, Any], wild_names: list[str], outcomes: list[float]) -> None:
    """The model refuses naming a wild argument, or its posterior and predictive before and after
    each outcome are finite and equal to the conjugate update computed here."""
    cls = MODEL_ARGS[name][0]
    try:
        model = cls(**kwargs)
    except ValueError as error:
        check_refusal(error, wild_names, f"{name}(**{kwargs!r})")
        return
    values = {k: np.asarray(v, dtype=np.float64) for k, v in kwargs.items()}
    if name == "DirichletCategorical":
        alpha = values["concentration"]
        stats, shape = np.zeros((1, len(alpha))), ()
    else:
        shape = np.broadcast_shapes(*(v.shape for v in values.values()))
        values = {k: np.broadcast_to(v, shape) for k, v in values.items()}
        stats = np.zeros((1, *shape, 2))
    n = np.zeros(shape)
    total = np.zeros(shape) if name != "DirichletCategorical" else np.zeros(len(alpha))
    for step in range(len(outcomes) + 1):
        post, pred = model.posterior(stats)[0], model.predictive(stats)[0]
        with np.errstate(all="ignore"):
            if name == "BetaBernoulli":
                a, b = values["alpha"] + total, values["beta"] + (n - total)
                expected_post, expected_pred, atol = np.stack([a, b], -1), beta_mean(a, b)[..., None], 0.0
            elif name == "NormalKnownNoise":
                m0, s0, noise = values["prior_mean"], values["prior_std"], values["noise_std"]
                precision = 1 / s0**2 + n / noise**2
                mean = (m0 / s0**2 + total / noise**2) / precision
                atol = 1e-12 * (np.abs(m0) / s0**2 + np.abs(total) / noise**2) / precision
                expected_post = np.stack([mean, 1 / np.sqrt(precision)], -1)
                expected_pred = np.stack([mean, np.sqrt(1 / precision + noise**2)], -1)
                atol = np.stack([atol, np.zeros(shape)], -1)
            elif name == "GammaExponential":
                expected_post = expected_pred = np.stack([values["shape"] + n, values["rate"] + total], -1)
                atol = 0.0
            else:
                expected_post = alpha + total
                expected_pred, atol = expected_post / expected_post.sum(), 0.0
        close(f"{name}(**{kwargs!r}) after {step} outcomes: posterior", post, expected_post, atol)
        close(f"{name}(**{kwargs!r}) after {step} outcomes: predictive", pred, expected_pred, atol)
        if step == 0:
            close(f"{name}(**{kwargs!r}).prior_predictive()", model.prior_predictive(), expected_pred, atol)
        if step == len(outcomes):
            break
        u = outcomes[step]
        if name == "BetaBernoulli":
            x = np.full(shape, float(u < 0.5))
        elif name == "NormalKnownNoise":  # within 10 prior predictive stds of the prior mean
            x = values["prior_mean"] + (20 * u - 10) * (values["prior_std"] + values["noise_std"])
        elif name == "GammaExponential":  # up to 10 prior means of the outcomes
            with np.errstate(all="ignore"):
                x = 10 * u * np.minimum(values["rate"] / values["shape"], 1e300)
        else:
            x = np.array(min(int(u * len(alpha)), len(alpha) - 1))
        stats = model.update(stats, x[None])
        if name == "DirichletCategorical":
            total[int(x)] += 1
        else:
            n, total = n + 1, total + x
