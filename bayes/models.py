"""Conjugate task families: a prior over a task's parameters and the likelihood of outcomes.

A *task family* is a prior :math:`p(\\theta)` over latent task parameters and a likelihood
:math:`p(x \\mid \\theta)` of outcomes. For the conjugate pairs below the posterior after
observations :math:`x_{1:n}` stays in the prior's family and depends on the data only through
additive sufficient statistics, so an episode's whole belief state is a small array.

Every model is vectorised over a leading batch axis ``B`` (one row per episode) and computes in
float64. Randomness comes only from the ``numpy.random.Generator`` passed in.

Shapes (``S`` is a model's ``batch_shape``, e.g. ``(K,)`` for ``K`` independent bandit arms,
``()`` for a single coin):

==========================  ==============  ============  ===========  ==============  ============
model                       task            outcome       stats        posterior       predictive
==========================  ==============  ============  ===========  ==============  ============
``BetaBernoulli``           ``(B, *S)``     ``(B, *S)``   ``(B,*S,2)`` ``(B,*S,2)``    ``(B,*S,1)``
``NormalKnownNoise``        ``(B, *S)``     ``(B, *S)``   ``(B,*S,2)`` ``(B,*S,2)``    ``(B,*S,2)``
``GammaExponential``        ``(B, *S)``     ``(B, *S)``   ``(B,*S,2)`` ``(B,*S,2)``    ``(B,*S,2)``
``DirichletCategorical``    ``(B, K)``      ``(B,)`` int  ``(B, K)``   ``(B, K)``      ``(B, K)``
==========================  ==============  ============  ===========  ==============  ============

Sufficient statistics: Beta-Bernoulli keeps ``(successes, failures)``; the normal and
exponential families keep ``(n, sum x)`` (count and sum of the outcomes seen); the
categorical family keeps the count of each outcome. They add up over observations.

Bandits: a scalar family with ``batch_shape == (K,)`` models ``K`` independent arms.
``sample_outcome(rng, task, arm)`` and ``update(stats, x, arm)`` take the pulled arm of each
row (``(B,)`` ints), draw and observe only that arm.

Posterior predictive families (the ``predictive`` parameters, last axis):

- Beta-Bernoulli: ``(p,)``, the probability that the next outcome is 1.
- Normal with known noise: ``(mean, std)`` of a normal distribution.
- Gamma-Exponential: ``(shape, scale)`` of a Lomax (Pareto type II) distribution,
  :math:`p(x) = a b^a / (b + x)^{a+1}` for :math:`x \\ge 0`.
- Dirichlet-Categorical: ``K`` non-negative weights ``w``; the distribution is ``w / sum(w)``.

The predictive log-densities accept any parameters of the right shape: parameters on the edge
of their domain (a probability of 0 or 1, a zero scale or shape, all-zero weights) give
``-inf`` where the outcome is impossible, never NaN; callers that need a finite loss floor it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np
from scipy import special

from bayes.sampling import sample_categorical
from bayes.validation import MAX_HYPERPARAMETER, check_int, check_magnitude, check_rng, finite_array, positive_array

__all__ = [
    "BetaBernoulli",
    "ConjugateModel",
    "DirichletCategorical",
    "GammaExponential",
    "NormalKnownNoise",
    "ScalarConjugateModel",
    "bernoulli_log_prob",
    "categorical_log_prob",
    "check_rng",
    "finite_array",
    "lomax_log_prob",
    "normal_log_prob",
    "positive_array",
    "row_index",
]

_LOG_2PI = float(np.log(2.0 * np.pi))


# ------------------------------------------------------------- predictive log-densities


def bernoulli_log_prob(p: np.ndarray, x: np.ndarray) -> np.ndarray:
    """:math:`\\log p` where ``x == 1`` and :math:`\\log(1 - p)` elsewhere (``-inf`` if impossible).

    ``p`` and ``x`` broadcast together; ``p`` outside [0, 1] gives ``-inf``.
    """
    p = np.asarray(p, dtype=np.float64)
    x = np.asarray(x)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(x == 1, np.log(p), np.log1p(-p))
    return np.where((p >= 0) & (p <= 1), out, -np.inf)


def categorical_log_prob(weights: np.ndarray, x: np.ndarray) -> np.ndarray:
    """:math:`\\log (w_x / \\sum_k w_k)` for weights ``(..., K)`` and integer outcomes ``(...)``.

    Weights need not be normalised. A zero weight on ``x``, all-zero or negative weights, or
    an outcome outside ``{0, ..., K-1}`` give ``-inf``.
    """
    w, x, shape = _rows_of(weights, x)
    k = w.shape[1]
    in_support = (x >= 0) & (x < k)
    chosen = w.reshape(-1)[row_index(len(x)) * k + np.where(in_support, x, 0)]
    total = np.einsum("ij->i", w)  # several times faster than w.sum(axis=-1) for short rows
    valid = (total > 0) & np.isfinite(total) & in_support
    if not (w.size and w.min() >= 0):  # a negative (or NaN) weight somewhere: find its rows
        valid &= np.all(w >= 0, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.log(chosen) - np.log(total)
    return np.where(valid & (chosen > 0), out, -np.inf).reshape(shape)


def _rows_of(values: Any, x: Any) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
    """Vectors ``(..., K)`` and outcomes ``(...)`` broadcast together and flattened to
    ``(N, K)`` and ``(N,)``; also returns the broadcast leading shape."""
    values = np.asarray(values, dtype=np.float64)
    x = np.asarray(x, dtype=np.int64)
    shape = np.broadcast_shapes(values.shape[:-1], x.shape)
    k = values.shape[-1]
    return np.broadcast_to(values, (*shape, k)).reshape(-1, k), np.broadcast_to(x, shape).reshape(-1), shape


def normal_log_prob(mean: np.ndarray, std: np.ndarray, x: np.ndarray) -> np.ndarray:
    """:math:`-\\tfrac12 \\log(2\\pi s^2) - (x - m)^2 / (2 s^2)`; ``-inf`` where ``s <= 0``."""
    mean = np.asarray(mean, dtype=np.float64)
    std = np.asarray(std, dtype=np.float64)
    valid = std > 0
    safe_std = np.where(valid, std, 1.0)
    with np.errstate(over="ignore", invalid="ignore"):
        z = (np.asarray(x, dtype=np.float64) - mean) / safe_std
        out = -0.5 * _LOG_2PI - np.log(safe_std) - 0.5 * z * z
    out = np.where(np.isnan(out), -np.inf, out)
    return np.where(valid, out, -np.inf)


def lomax_log_prob(shape: np.ndarray, scale: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Lomax log-density :math:`\\log a + a \\log b - (a + 1) \\log(b + x)` for ``x >= 0``.

    ``-inf`` where ``a <= 0``, ``b <= 0`` or ``x < 0``.
    """
    a = np.asarray(shape, dtype=np.float64)
    b = np.asarray(scale, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    valid = (a > 0) & (b > 0) & (x >= 0)
    safe_a = np.where(valid, a, 1.0)
    safe_b = np.where(valid, b, 1.0)
    safe_x = np.where(valid, x, 0.0)
    with np.errstate(over="ignore", invalid="ignore"):
        # a log b - (a+1) log(b+x) = -a log1p(x/b) - log(b + x): no cancellation for large a.
        out = np.log(safe_a) - safe_a * np.log1p(safe_x / safe_b) - np.log(safe_b + safe_x)
    out = np.where(np.isnan(out), -np.inf, out)
    return np.where(valid, out, -np.inf)


# ------------------------------------------------------------------------ base classes


class ConjugateModel(ABC):
    """A prior over task parameters, a likelihood, and their conjugate posterior.

    Subclasses fix the shapes in the module docstring. All methods are pure: ``update``
    returns a new statistics array and never changes its input.
    """

    #: name of the family, e.g. ``"beta-bernoulli"``
    family: str = ""
    #: dtype of outcomes as returned by :meth:`sample_outcome`
    outcome_dtype: np.dtype = np.dtype(np.float64)
    #: the parameter domain of a task, in words (for error messages)
    domain_text: str = "finite values"

    # -- shapes of one episode (without the batch axis)
    batch_shape: tuple[int, ...]
    task_shape: tuple[int, ...]
    outcome_shape: tuple[int, ...]
    stats_shape: tuple[int, ...]
    posterior_shape: tuple[int, ...]
    predictive_shape: tuple[int, ...]
    _hyper: dict[str, np.ndarray]

    # -- the prior and the likelihood
    @abstractmethod
    def sample_task(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """Draw ``size`` tasks from the prior: ``(size, *task_shape)``."""

    @abstractmethod
    def sample_outcome(
        self, rng: np.random.Generator, task: np.ndarray, arm: np.ndarray | None = None
    ) -> np.ndarray:
        """One outcome per row of ``task`` ``(B, *task_shape)``: ``(B, *outcome_shape)``.

        With ``arm`` (bandits, ``(B,)`` ints) only the pulled arm's outcome: ``(B,)``.
        """

    @abstractmethod
    def log_likelihood(self, task: np.ndarray, x: np.ndarray) -> np.ndarray:
        """:math:`\\log p(x \\mid \\theta)` per row and component: ``(B, *outcome_shape)``."""

    def check_task(self, task: Any, name: str = "task") -> np.ndarray:
        """``task`` as a float64 array ``(B, *task_shape)`` (or ``task_shape``) of valid parameters.

        Raises ``ValueError`` naming ``name`` for the wrong trailing shape or a value outside the
        parameter domain.
        """
        try:
            array = np.asarray(task, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name} must be numeric, got {task!r}") from exc
        n = len(self.task_shape)
        if array.ndim - n not in (0, 1) or array.shape[array.ndim - n :] != self.task_shape:
            raise ValueError(
                f"{name} must have shape {self.task_shape} or (batch, *{self.task_shape}), got {array.shape}"
            )
        if array.size == 0:
            raise ValueError(f"{name} must not be empty, got {task!r}")
        if not np.all(np.isfinite(array)) or not np.all(self._in_domain(array)):
            raise ValueError(f"{name} must satisfy {self.domain_text}, got {task!r}")
        return array

    def _in_domain(self, task: np.ndarray) -> np.ndarray:
        return np.ones(task.shape, dtype=bool)

    def evolve(self, rng: np.random.Generator, task: np.ndarray) -> np.ndarray:
        """The tasks ``(B, *task_shape)`` that generate the next outcomes, drawn before every outcome.

        The conjugate families keep one task for the whole episode: ``task`` itself, with no draw
        (so their random streams are unchanged). A family whose task changes within an episode
        (:class:`bayes.switching.SwitchingBetaBernoulli`) draws the change here."""
        return task

    def for_horizon(self, horizon: int) -> ConjugateModel:
        """This model for episodes of ``horizon`` steps: itself, for every family whose statistics
        have a fixed size; a family whose exact statistics grow with time (the switching coin's
        run lengths) returns a copy sized for ``horizon``."""
        return self

    # -- sufficient statistics and the posterior
    def initial_stats(self, size: int) -> np.ndarray:
        """Statistics of ``size`` episodes with nothing observed: zeros ``(size, *stats_shape)``."""
        return np.zeros((check_int(size, "size", 0), *self.stats_shape), dtype=np.float64)

    @abstractmethod
    def update(self, stats: np.ndarray, x: np.ndarray, arm: np.ndarray | None = None) -> np.ndarray:
        """Statistics after observing ``x`` (with ``arm``: ``x[b]`` is an outcome of arm ``arm[b]``)."""

    @abstractmethod
    def posterior(self, stats: np.ndarray) -> np.ndarray:
        """Parameters of the posterior over the task given ``stats``: ``(B, *posterior_shape)``."""

    @abstractmethod
    def predictive(self, stats: np.ndarray) -> np.ndarray:
        """Parameters of the posterior predictive of the next outcome: ``(B, *predictive_shape)``."""

    @abstractmethod
    def posterior_moments(self, stats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and standard deviation of the task parameters: two ``(B, *task_shape)``."""

    @abstractmethod
    def prior_range(self) -> tuple[float, float]:
        """An interval holding nearly all of the prior's mass (for plots): ``(low, high)``."""

    # -- the posterior predictive family
    @abstractmethod
    def predictive_log_prob(self, params: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Log-probability (log-density) of ``x`` under predictive parameters ``params``."""

    def predictive_prob(self, params: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Probability (density) of ``x``: ``exp(predictive_log_prob(params, x))``."""
        return np.exp(self.predictive_log_prob(params, x))

    @abstractmethod
    def predictive_sample(self, rng: np.random.Generator, params: np.ndarray) -> np.ndarray:
        """Draw one outcome per row from the predictive distribution with ``params``."""

    def prior_predictive(self) -> np.ndarray:
        """Predictive parameters before any observation: ``predictive_shape``."""
        return self.predictive(self.initial_stats(1))[0]

    def hyperparameters(self) -> dict[str, np.ndarray]:
        """The prior's hyperparameters by name (copies)."""
        return {k: np.array(v) for k, v in self._hyper.items()}

    def __repr__(self) -> str:
        parts = ", ".join(f"{k}={np.array2string(np.asarray(v), precision=4)}" for k, v in self._hyper.items())
        return f"{type(self).__name__}({parts})"


def _scalar_if_constant(array: np.ndarray) -> float | np.ndarray:
    """``array``'s single value if all entries are equal (numpy samples faster from a scalar)."""
    flat = array.reshape(-1)
    return float(flat[0]) if np.all(flat == flat[0]) else array


def row_index(n_rows: int) -> np.ndarray:
    """``np.arange(n_rows)``, cached: the vector envs ask for the same one every step."""
    rows = _ROWS.get(n_rows)
    if rows is None:
        if len(_ROWS) > 16:
            _ROWS.clear()
        rows = np.arange(n_rows)
        rows.setflags(write=False)
        _ROWS[n_rows] = rows
    return rows


_ROWS: dict[int, np.ndarray] = {}


class ScalarConjugateModel(ConjugateModel):
    """Scalar outcomes, one independent component per entry of ``batch_shape``.

    The statistics are two additive numbers per component; a subclass says what one outcome
    adds (:meth:`_increments`) and how to draw outcomes (:meth:`_draw`). The base of a new
    scalar family: ``docs/extending.md`` adds Poisson outcomes with a Gamma prior.
    """

    def _init_hyper(self, real: dict[str, Any], positive: dict[str, Any]) -> None:
        arrays = {name: check_magnitude(finite_array(value, name), name) for name, value in real.items()}
        arrays.update({name: check_magnitude(positive_array(value, name), name) for name, value in positive.items()})
        try:
            shape = np.broadcast_shapes(*(a.shape for a in arrays.values()))
        except ValueError as exc:
            shapes = ", ".join(f"{k}{a.shape}" for k, a in arrays.items())
            raise ValueError(f"hyperparameter shapes do not broadcast: {shapes}") from exc
        self._hyper = {k: np.broadcast_to(a, shape).copy() for k, a in arrays.items()}
        for array in self._hyper.values():
            array.setflags(write=False)
        self.batch_shape = tuple(shape)
        self.task_shape = self.batch_shape
        self.outcome_shape = self.batch_shape
        self.stats_shape = (*self.batch_shape, 2)
        self.posterior_shape = (*self.batch_shape, 2)
        self._tile_cache: dict[tuple[int, ...], np.ndarray] = {}

    # -- what a subclass defines
    @abstractmethod
    def _increments(self, x: np.ndarray) -> tuple[np.ndarray | float, np.ndarray | float]:
        """What one outcome ``x`` adds to each of the two statistics."""

    @abstractmethod
    def _draw(self, rng: np.random.Generator, task: np.ndarray, arm: np.ndarray | None) -> np.ndarray:
        """Outcomes given task parameters ``task`` (of the components ``arm`` if given)."""

    # -- shared machinery
    def _at(self, name: str, arm: np.ndarray | None) -> np.ndarray:
        """Hyperparameter ``name`` of every component, or of component ``arm[b]`` for row ``b``."""
        value = self._hyper[name]
        return value if arm is None else value[arm]

    def _check_arms(self, arm: Any, n_rows: int) -> np.ndarray:
        """``arm`` as ``(n_rows,)`` int64 indices into the one axis of arms, else ``ValueError``."""
        if len(self.batch_shape) != 1:
            raise ValueError(f"arm needs a model with one axis of arms; this one has batch_shape {self.batch_shape}")
        arm = np.asarray(arm)
        if arm.shape != (n_rows,) or arm.dtype.kind not in "iu":
            raise ValueError(f"arm must be {n_rows} integers, one per row, got {arm!r}")
        if n_rows and (arm.min() < 0 or arm.max() >= self.batch_shape[0]):
            raise ValueError(f"arm must lie in [0, {self.batch_shape[0] - 1}], got {arm!r}")
        return arm.astype(np.int64, copy=False)

    def _pick(self, array: np.ndarray, arm: np.ndarray) -> np.ndarray:
        """``array[b, arm[b]]`` for every row ``b`` of a ``(B, K)`` array (``arm`` checked)."""
        n_rows, n_arms = array.shape
        return array.reshape(-1)[row_index(n_rows) * n_arms + arm]

    def _tiled(self, pair: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        """``pair`` (``(*S, 2)``) broadcast to ``shape``, materialised once per shape.

        Adding two contiguous arrays of one shape is several times faster in numpy than
        broadcasting a short trailing axis, which matters in the vector envs' hot loop.
        """
        tiled = self._tile_cache.get(shape)
        if tiled is None:
            if len(self._tile_cache) > 8:
                self._tile_cache.clear()
            tiled = np.broadcast_to(pair, shape).copy()
            tiled.setflags(write=False)
            self._tile_cache[shape] = tiled
        return tiled

    def sample_outcome(
        self, rng: np.random.Generator, task: np.ndarray, arm: np.ndarray | None = None
    ) -> np.ndarray:
        """Outcomes given the task ``(B, *S)``; with ``arm`` only arm ``arm[b]`` of row ``b``: ``(B,)``.

        With ``arm`` the draw of row ``b`` at a step is one uniform (or normal) variate mapped
        through the pulled arm's distribution, so the stream of variates does not depend on
        the actions (common random numbers across policies).
        """
        check_rng(rng)
        task = np.asarray(task, dtype=np.float64)
        if arm is not None:
            arm = self._check_arms(arm, task.shape[0])
            task = self._pick(task, arm)
        return self._draw(rng, task, arm)

    def update(self, stats: np.ndarray, x: np.ndarray, arm: np.ndarray | None = None) -> np.ndarray:
        """``stats`` plus what ``x`` adds (see :meth:`_increments`), per component.

        Without ``arm``, ``x`` broadcasts to ``(B, *S)`` and every component observes. With
        ``arm`` (``(B,)`` ints, ``S == (K,)``), ``x`` is ``(B,)`` and only arm ``arm[b]`` of row
        ``b`` observes ``x[b]``.
        """
        stats = np.asarray(stats, dtype=np.float64)
        first, second = self._increments(np.asarray(x, dtype=np.float64))
        increment = np.zeros(stats.shape, dtype=np.float64)
        if arm is None:
            increment[..., 0] = first
            increment[..., 1] = second
        else:
            n_rows, n_arms = stats.shape[:2]
            arm = self._check_arms(arm, n_rows)
            flat = increment.reshape(-1)
            index = (row_index(n_rows) * n_arms + arm) * 2
            flat[index] = first
            flat[index + 1] = second
        return stats + increment


# ------------------------------------------------------------------------ the families


class BetaBernoulli(ScalarConjugateModel):
    """Bernoulli outcomes with a Beta(alpha, beta) prior on the success probability.

    :math:`\\theta \\sim \\mathrm{Beta}(\\alpha, \\beta)`, :math:`x \\mid \\theta \\sim \\mathrm{Bernoulli}(\\theta)`.
    After ``s`` successes and ``f`` failures the posterior is :math:`\\mathrm{Beta}(\\alpha + s, \\beta + f)`
    and the predictive probability of a 1 is :math:`(\\alpha + s) / (\\alpha + \\beta + s + f)`.

    ``alpha`` and ``beta`` broadcast together to the ``batch_shape`` (e.g. one pair per arm).
    Statistics: ``(successes, failures)``. Posterior parameters: ``(alpha_n, beta_n)``.
    Predictive parameters: ``(p,)``.
    """

    family = "beta-bernoulli"
    domain_text = "0 <= p <= 1"

    def __init__(self, alpha: Any = 1.0, beta: Any = 1.0) -> None:
        self._init_hyper(real={}, positive={"alpha": alpha, "beta": beta})
        self.predictive_shape = (*self.batch_shape, 1)
        self._prior_pair = np.stack([self.alpha, self.beta], axis=-1)

    @property
    def alpha(self) -> np.ndarray:
        return self._hyper["alpha"]

    @property
    def beta(self) -> np.ndarray:
        return self._hyper["beta"]

    def _in_domain(self, task: np.ndarray) -> np.ndarray:
        return (task >= 0) & (task <= 1)

    def sample_task(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """Success probabilities ``(size, *S)``: :math:`G_a / (G_a + G_b)` with independent gammas.

        Beta(1, 1) is drawn as a uniform variate; both constructions are exact and several
        times faster than ``Generator.beta``.
        """
        shape = (check_int(size, "size", 0), *self.batch_shape)
        rng = check_rng(rng)
        if np.all(self.alpha == 1.0) and np.all(self.beta == 1.0):
            return rng.random(shape)
        g_a = rng.standard_gamma(_scalar_if_constant(self.alpha), size=shape)
        g_b = rng.standard_gamma(_scalar_if_constant(self.beta), size=shape)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            p = 1.0 / (1.0 + g_b / g_a)  # = G_a / (G_a + G_b) without overflowing the sum
        underflow = np.isnan(p)  # both gammas below the smallest float: only for tiny alpha, beta
        if underflow.any():
            alpha, beta = np.broadcast_to(self.alpha, shape), np.broadcast_to(self.beta, shape)
            p[underflow] = rng.beta(alpha[underflow], beta[underflow])
        return p

    def _draw(self, rng: np.random.Generator, task: np.ndarray, arm: np.ndarray | None) -> np.ndarray:
        return (rng.random(task.shape) < task).astype(np.float64)

    def log_likelihood(self, task: np.ndarray, x: np.ndarray) -> np.ndarray:
        return bernoulli_log_prob(task, x)

    def _increments(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return x, 1.0 - x

    def posterior(self, stats: np.ndarray) -> np.ndarray:
        stats = np.asarray(stats, dtype=np.float64)
        return stats + self._tiled(self._prior_pair, stats.shape)

    def predictive(self, stats: np.ndarray) -> np.ndarray:
        post = self.posterior(stats)
        return (post[..., 0] / (post[..., 0] + post[..., 1]))[..., None]

    def posterior_moments(self, stats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        post = self.posterior(stats)
        a, b = post[..., 0], post[..., 1]
        total = a + b
        return a / total, np.sqrt(a * b / (total**2 * (total + 1)))

    def prior_range(self) -> tuple[float, float]:
        return 0.0, 1.0

    def predictive_log_prob(self, params: np.ndarray, x: np.ndarray) -> np.ndarray:
        return bernoulli_log_prob(np.asarray(params)[..., 0], x)

    def predictive_sample(self, rng: np.random.Generator, params: np.ndarray) -> np.ndarray:
        p = np.asarray(params, dtype=np.float64)[..., 0]
        return (check_rng(rng).random(p.shape) < p).astype(np.float64)


class NormalKnownNoise(ScalarConjugateModel):
    """Normal outcomes of known noise std with a normal prior on the mean.

    :math:`\\mu \\sim N(\\mu_0, \\tau_0^2)`, :math:`x \\mid \\mu \\sim N(\\mu, \\sigma^2)`. After ``n`` outcomes
    summing to ``s`` the posterior precision is :math:`\\lambda_n = 1/\\tau_0^2 + n/\\sigma^2`, the
    posterior mean :math:`m_n = (\\mu_0/\\tau_0^2 + s/\\sigma^2) / \\lambda_n`, and the predictive is
    :math:`N(m_n, 1/\\lambda_n + \\sigma^2)`.

    Statistics: ``(n, sum x)``. Posterior parameters: ``(m_n, 1/sqrt(lambda_n))``.
    Predictive parameters: ``(mean, std)``.
    """

    family = "normal-known-noise"
    domain_text = "finite means"

    #: stds and means whose squares (and the precisions 1/std^2) stay finite and nonzero
    SCALE_RANGE = (1.0 / MAX_HYPERPARAMETER, MAX_HYPERPARAMETER)

    def __init__(self, prior_mean: Any = 0.0, prior_std: Any = 1.0, noise_std: Any = 1.0) -> None:
        self._init_hyper(
            real={"prior_mean": prior_mean}, positive={"prior_std": prior_std, "noise_std": noise_std}
        )
        low, high = self.SCALE_RANGE
        for name in ("prior_std", "noise_std"):
            if not np.all((self._hyper[name] >= low) & (self._hyper[name] <= high)):
                raise ValueError(f"{name} must lie in [{low:g}, {high:g}] (it gets squared), got {self._hyper[name]}")
        if not np.all(np.abs(self.prior_mean) <= high):
            raise ValueError(f"prior_mean must lie in [-{high:g}, {high:g}], got {self.prior_mean}")
        self.predictive_shape = (*self.batch_shape, 2)

    @property
    def prior_mean(self) -> np.ndarray:
        return self._hyper["prior_mean"]

    @property
    def prior_std(self) -> np.ndarray:
        return self._hyper["prior_std"]

    @property
    def noise_std(self) -> np.ndarray:
        return self._hyper["noise_std"]

    def sample_task(self, rng: np.random.Generator, size: int) -> np.ndarray:
        shape = (check_int(size, "size", 0), *self.batch_shape)
        return self.prior_mean + self.prior_std * check_rng(rng).standard_normal(shape)

    def _draw(self, rng: np.random.Generator, task: np.ndarray, arm: np.ndarray | None) -> np.ndarray:
        return task + self._at("noise_std", arm) * rng.standard_normal(task.shape)

    def log_likelihood(self, task: np.ndarray, x: np.ndarray) -> np.ndarray:
        return normal_log_prob(task, self.noise_std, x)

    def _increments(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        return 1.0, x

    def _posterior_mean_var(self, stats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n, s = stats[..., 0], stats[..., 1]
        prior_prec = 1.0 / self.prior_std**2
        noise_prec = 1.0 / self.noise_std**2
        precision = prior_prec + n * noise_prec
        mean = (self.prior_mean * prior_prec + s * noise_prec) / precision
        return mean, 1.0 / precision

    def posterior(self, stats: np.ndarray) -> np.ndarray:
        mean, var = self._posterior_mean_var(np.asarray(stats, dtype=np.float64))
        return np.stack([mean, np.sqrt(var)], axis=-1)

    def predictive(self, stats: np.ndarray) -> np.ndarray:
        mean, var = self._posterior_mean_var(np.asarray(stats, dtype=np.float64))
        return np.stack([mean, np.sqrt(var + self.noise_std**2)], axis=-1)

    def posterior_moments(self, stats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mean, var = self._posterior_mean_var(np.asarray(stats, dtype=np.float64))
        return mean, np.sqrt(var)

    def prior_range(self) -> tuple[float, float]:
        return float(np.min(self.prior_mean - 3 * self.prior_std)), float(np.max(self.prior_mean + 3 * self.prior_std))

    def predictive_log_prob(self, params: np.ndarray, x: np.ndarray) -> np.ndarray:
        params = np.asarray(params)
        return normal_log_prob(params[..., 0], params[..., 1], x)

    def predictive_sample(self, rng: np.random.Generator, params: np.ndarray) -> np.ndarray:
        params = np.asarray(params, dtype=np.float64)
        mean, std = params[..., 0], params[..., 1]
        return mean + std * check_rng(rng).standard_normal(mean.shape)


class GammaExponential(ScalarConjugateModel):
    """Exponential outcomes with a Gamma(shape, rate) prior on their rate.

    :math:`\\lambda \\sim \\mathrm{Gamma}(a, b)` (rate ``b``), :math:`x \\mid \\lambda \\sim \\mathrm{Exp}(\\lambda)`.
    After ``n`` outcomes summing to ``s`` the posterior is :math:`\\mathrm{Gamma}(a + n, b + s)` and the
    predictive is the Lomax distribution with shape :math:`a + n` and scale :math:`b + s`.

    Statistics: ``(n, sum x)``. Posterior parameters: ``(shape_n, rate_n)``.
    Predictive parameters: ``(shape, scale)``.
    """

    family = "gamma-exponential"
    domain_text = "rate > 0"

    #: the largest prior probability of a rate below the smallest positive normal float64
    MAX_UNDERFLOW = 1e-12

    def __init__(self, shape: Any = 1.0, rate: Any = 1.0) -> None:
        self._init_hyper(real={}, positive={"shape": shape, "rate": rate})
        # P(lambda < tiny) = P(Gamma(a, 1) < b * tiny): such rates round to 0, an invalid task
        underflow = special.gammainc(self.shape, self.rate * np.finfo(np.float64).tiny)
        if np.any(underflow > self.MAX_UNDERFLOW):
            raise ValueError(
                f"shape is too small for float64: the prior Gamma(shape={self.shape}, rate={self.rate}) puts "
                f"probability {float(np.max(underflow)):.3g} on rates below {np.finfo(np.float64).tiny:.3g}, "
                "which round to 0"
            )
        self.predictive_shape = (*self.batch_shape, 2)
        self._prior_pair = np.stack([self.shape, self.rate], axis=-1)

    @property
    def shape(self) -> np.ndarray:
        return self._hyper["shape"]

    @property
    def rate(self) -> np.ndarray:
        return self._hyper["rate"]

    def _in_domain(self, task: np.ndarray) -> np.ndarray:
        return task > 0

    def sample_task(self, rng: np.random.Generator, size: int) -> np.ndarray:
        shape = (check_int(size, "size", 0), *self.batch_shape)
        draws = check_rng(rng).standard_gamma(_scalar_if_constant(self.shape), size=shape) / self.rate
        # a rate that rounded to 0 (prior probability below MAX_UNDERFLOW) becomes the smallest float
        return np.maximum(draws, np.finfo(np.float64).tiny)

    def _draw(self, rng: np.random.Generator, task: np.ndarray, arm: np.ndarray | None) -> np.ndarray:
        return rng.standard_exponential(task.shape) / task

    def log_likelihood(self, task: np.ndarray, x: np.ndarray) -> np.ndarray:
        task = np.asarray(task, dtype=np.float64)
        x = np.asarray(x, dtype=np.float64)
        with np.errstate(divide="ignore"):
            return np.where(x >= 0, np.log(task) - task * x, -np.inf)

    def _increments(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        return 1.0, x

    def posterior(self, stats: np.ndarray) -> np.ndarray:
        stats = np.asarray(stats, dtype=np.float64)
        return stats + self._tiled(self._prior_pair, stats.shape)  # (a + n, b + s)

    def predictive(self, stats: np.ndarray) -> np.ndarray:
        return self.posterior(stats)  # Lomax(shape = a + n, scale = b + s)

    def posterior_moments(self, stats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        post = self.posterior(stats)
        a, b = post[..., 0], post[..., 1]
        return a / b, np.sqrt(a) / b

    def prior_range(self) -> tuple[float, float]:
        return 0.0, float(np.max((self.shape + 3 * np.sqrt(self.shape)) / self.rate))

    def predictive_log_prob(self, params: np.ndarray, x: np.ndarray) -> np.ndarray:
        params = np.asarray(params)
        return lomax_log_prob(params[..., 0], params[..., 1], x)

    def predictive_sample(self, rng: np.random.Generator, params: np.ndarray) -> np.ndarray:
        params = np.asarray(params, dtype=np.float64)
        a, b = params[..., 0], params[..., 1]
        # inverse CDF: F(x) = 1 - (b / (b + x))^a, so x = b (U^{-1/a} - 1) with U uniform on (0, 1]
        u = 1.0 - check_rng(rng).random(a.shape)
        return b * np.expm1(-np.log(u) / a)


class DirichletCategorical(ConjugateModel):
    """Categorical outcomes in ``{0, ..., K-1}`` with a Dirichlet(concentration) prior.

    :math:`\\theta \\sim \\mathrm{Dir}(\\alpha)`, :math:`x \\mid \\theta \\sim \\mathrm{Cat}(\\theta)`. After counts
    ``c`` the posterior is :math:`\\mathrm{Dir}(\\alpha + c)` and the predictive probabilities are
    :math:`(\\alpha + c) / \\sum_k (\\alpha_k + c_k)`.

    ``concentration`` is a vector of ``K >= 2`` positive numbers. Statistics: the counts
    ``(K,)``. Posterior parameters: the concentration ``(K,)``. Predictive parameters: ``K``
    probabilities.
    """

    family = "dirichlet-categorical"
    outcome_dtype = np.dtype(np.int64)
    domain_text = "probabilities >= 0 that sum to 1 (within 1e-6)"

    def __init__(self, concentration: Any = (1.0, 1.0, 1.0)) -> None:
        alpha = check_magnitude(positive_array(concentration, "concentration"), "concentration")
        if alpha.ndim != 1 or alpha.shape[0] < 2:
            raise ValueError(
                f"concentration must be a vector of at least 2 entries, got shape {alpha.shape}"
            )
        if alpha.sum() > 1e300:
            raise ValueError(f"concentration must sum to at most 1e300 (gamma draws overflow), got {alpha.sum():g}")
        alpha.setflags(write=False)
        self._hyper = {"concentration": alpha}
        k = alpha.shape[0]
        self.n_outcomes = k
        self.batch_shape = ()
        self.task_shape = (k,)
        self.outcome_shape = ()
        self.stats_shape = (k,)
        self.posterior_shape = (k,)
        self.predictive_shape = (k,)

    @property
    def concentration(self) -> np.ndarray:
        return self._hyper["concentration"]

    def _in_domain(self, task: np.ndarray) -> np.ndarray:
        # float32 probability vectors (e.g. a softmax) sum to 1 only up to float32 rounding
        in_unit = np.all((task >= 0) & (task <= 1), axis=-1)  # first: a sum of huge entries would overflow
        return in_unit & (np.abs(np.where(in_unit[..., None], task, 0.0).sum(axis=-1) - 1.0) <= 1e-6)

    def check_task(self, task: Any, name: str = "task") -> np.ndarray:
        """As :meth:`ConjugateModel.check_task`; sums within 1e-6 of 1 are renormalised to 1."""
        array = super().check_task(task, name)
        return array / array.sum(axis=-1, keepdims=True)

    def sample_task(self, rng: np.random.Generator, size: int) -> np.ndarray:
        # Normalised independent Gamma(alpha_k, 1) draws: the textbook construction of a Dirichlet.
        rng = check_rng(rng)
        shape = (check_int(size, "size", 0), self.n_outcomes)
        g = rng.standard_gamma(_scalar_if_constant(self.concentration), size=shape)
        total = g.sum(axis=-1, keepdims=True)
        probs = g / np.where(total > 0, total, 1.0)
        underflow = total[:, 0] <= 0  # every gamma below the smallest float: only for tiny concentrations
        if underflow.any():
            probs[underflow] = rng.dirichlet(self.concentration, size=int(underflow.sum()))
        return probs

    def sample_outcome(
        self, rng: np.random.Generator, task: np.ndarray, arm: np.ndarray | None = None
    ) -> np.ndarray:
        if arm is not None:
            raise ValueError("arm: the categorical family has no arms")
        rng = check_rng(rng)
        return sample_categorical(np.asarray(task, dtype=np.float64), rng)

    def log_likelihood(self, task: np.ndarray, x: np.ndarray) -> np.ndarray:
        return categorical_log_prob(task, x)

    def update(self, stats: np.ndarray, x: np.ndarray, arm: np.ndarray | None = None) -> np.ndarray:
        """``stats`` plus the one-hot encoding of ``x`` ``(B,)``."""
        if arm is not None:
            raise ValueError("arm: the categorical family has no arms")
        flat, x, shape = _rows_of(stats, x)
        k = self.n_outcomes
        if np.any((x < 0) | (x >= k)):
            raise ValueError(f"x must be outcomes in [0, {k - 1}], got {x!r}")
        one_hot = np.zeros(flat.size, dtype=np.float64)
        one_hot[row_index(len(x)) * k + x] = 1.0
        return (flat + one_hot.reshape(flat.shape)).reshape(*shape, k)

    def posterior(self, stats: np.ndarray) -> np.ndarray:
        return self.concentration + np.asarray(stats, dtype=np.float64)

    def predictive(self, stats: np.ndarray) -> np.ndarray:
        post = self.posterior(stats)
        return post / post.sum(axis=-1, keepdims=True)

    def posterior_moments(self, stats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        post = self.posterior(stats)
        total = post.sum(axis=-1, keepdims=True)
        mean = post / total
        return mean, np.sqrt(mean * (1 - mean) / (total + 1))

    def prior_range(self) -> tuple[float, float]:
        return 0.0, 1.0

    def predictive_log_prob(self, params: np.ndarray, x: np.ndarray) -> np.ndarray:
        return categorical_log_prob(params, x)

    def predictive_sample(self, rng: np.random.Generator, params: np.ndarray) -> np.ndarray:
        w = np.asarray(params, dtype=np.float64)
        total = w.sum(axis=-1, keepdims=True)
        if not (np.all(w >= 0) and np.all(total > 0) and np.all(np.isfinite(total))):
            raise ValueError("params must be non-negative weights with a positive, finite sum in every row")
        return sample_categorical(w / total, rng)
