"""Normalized actions for the prediction envs: ``Box(-1, 1)`` onto each predictive family's parameters.

The prediction envs (``MetaCoin-v0``, ``MetaDie-v0``, ``MetaGaussian-v0``, ``MetaExponential-v0``,
``MetaSwitchingCoin-v0``) take the parameters of a predictive distribution as their action, in that
family's natural parameterisation and bounds (a probability in [0, 1], a Lomax scale up to 8.5e37, ...).
stable-baselines3 and most continuous-control agents expect a symmetric ``Box(-1, 1)``.
:class:`NormalizedPrediction` (single env) and :class:`NormalizedPredictionVector` (the native
vector env) give the agent ``Box(-1, 1, (D,), float32)`` and map each entry onto its parameter
with a smooth monotone map centred on the env's prior predictive (``a = 0`` *is* the prior
predictive, except where a bound forbids it, see :class:`PredictionMap`), wide enough that the
Bayes predictive of every step of the horizon lies inside the box (for the unbounded
parameters, the normal mean and the Lomax scale, except with a stated tiny probability).

The maps themselves are the pure, batched functions of :class:`PredictionMap`:
``params(a)`` and its inverse ``normalize(params)``, on arrays of shape ``(..., D)``, so any
vectorised code (the vector wrapper, a batched policy, a supervised target) reuses them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import VectorActionWrapper, VectorEnv
from gymnasium.vector.utils import batch_space
from scipy import special

from bayes.models import BetaBernoulli, DirichletCategorical, GammaExponential, NormalKnownNoise
from bayes.switching import SwitchingBetaBernoulli
from meta_envs.dynamics import PredictionDynamics
from meta_envs.validation import ActionChecker

__all__ = [
    "LOGIT_REACH",
    "MARGIN",
    "MIN_LOG_SPAN",
    "NORMAL_MEAN_SPAN",
    "PREDICTION_ENV_IDS",
    "TAIL_PROBABILITY",
    "NormalizedPrediction",
    "NormalizedPredictionVector",
    "PredictionMap",
    "prediction_map",
]

#: The ids whose action is a predictive distribution (the envs these wrappers accept).
PREDICTION_ENV_IDS = ("MetaCoin-v0", "MetaDie-v0", "MetaGaussian-v0", "MetaExponential-v0", "MetaSwitchingCoin-v0")

#: The smallest probability every probability map reaches: 1e-6 (and 1 - 1e-6).
PROBABILITY_REACH = 1e-6

#: ``logit(1 - 1e-6) = log(999999) = 13.8155``: the log-odds of probabilities 1 - 1e-6 and 1e-6.
LOGIT_REACH = float(np.log1p(-PROBABILITY_REACH) - np.log(PROBABILITY_REACH))

#: The Bayes predictive's extremes within the horizon stay this far (a factor 10, in log
#: space) inside the ends of each map, so squashed policies (tanh) reach them short of ``|a| = 1``.
MARGIN = float(np.log(10.0))

#: Scale maps reach at least a factor 100 either side of the prior predictive's value.
MIN_LOG_SPAN = float(np.log(100.0))

#: The normal mean map spans the prior mean +- this many (prior std + noise std).
NORMAL_MEAN_SPAN = 10.0

#: The Lomax scale map reaches the Bayes predictive's scale except with at most this
#: probability per episode (the bound ``MetaExponential-v0`` itself uses for float32 overflow).
TAIL_PROBABILITY = 1e-9

#: The ends of a log map stay inside [1e-300, 1/4 of the env's bound]: finite and positive.
_LOG_FLOOR = float(np.log(1e-300))
_LOG_CAP_FRACTION = 0.25

_KINDS = ("affine", "logit", "log", "softmax")


@dataclass(frozen=True, eq=False)
class PredictionMap:
    """The map of normalized actions ``a`` in ``[-1, 1]^D`` onto predictive parameters, and its inverse.

    Entry ``d`` of an action goes through one of four smooth maps, each increasing in its
    entry, with a centre :math:`c_d` and a span :math:`s_d > 0`:

    - ``"affine"``: :math:`x = c + s a` (a location);
    - ``"logit"``: :math:`x = \\sigma(c + s a) = 1 / (1 + e^{-(c + s a)})` (a probability);
    - ``"log"``: :math:`x = \\exp(c + s a)` (a positive scale or shape);
    - ``"softmax"`` (all entries or none; categorical weights):
      :math:`x = \\mathrm{softmax}(c + s a)`, :math:`x_k = e^{c_k + s_k a_k} / \\sum_j e^{c_j + s_j a_j}`.

    The result is then clipped to the env's own bounds ``[low, high]``, which only ever moves
    it by a rounding error (the maps are built inside those bounds). On ``[-1, 1]`` each of the
    first three maps is a bijection onto ``[x(-1), x(1)]``; :meth:`normalize` is its inverse,
    clipped to ``[-1, 1]`` for parameters beyond the ends.

    The softmax is a near-bijection: ``a`` and ``a + t`` (``t`` a constant, all ``s_k`` equal)
    give the same probabilities, and the prediction :math:`w / \\sum_k w_k` of weights ``w``
    does not depend on their scale either. :meth:`normalize` returns the representative
    :math:`u = (\\log w - c) / s` shifted to the middle of the box,
    :math:`a = u - (\\max u + \\min u) / 2` (so ``normalize(params(a)) = a - (max a + min a) / 2``,
    ``params(normalize(params(a))) = params(a)``), or, when the spread
    :math:`\\max u - \\min u` exceeds 2 (a weight too small to reach, e.g. zero), the one with
    :math:`\\max a = 1`: the largest weights stay exact, only the tiny ones are clipped to ``-1``.

    ``center``, ``span``, ``low``, ``high``: float64 arrays ``(D,)``; ``kinds``: ``D`` names.
    Build one for an env with :func:`prediction_map`.
    """

    kinds: tuple[str, ...]
    center: np.ndarray
    span: np.ndarray
    low: np.ndarray
    high: np.ndarray
    _mask: dict[str, np.ndarray] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        dim = len(self.kinds)
        if dim == 0:
            raise ValueError("kinds must name at least one entry")
        for name in ("center", "span", "low", "high"):
            array = np.array(getattr(self, name), dtype=np.float64)
            if array.shape != (dim,) or not np.all(np.isfinite(array)):
                raise ValueError(f"{name} must be {dim} finite numbers, got {array!r}")
            array.setflags(write=False)
            object.__setattr__(self, name, array)
        if any(kind not in _KINDS for kind in self.kinds):
            raise ValueError(f"kinds must be among {_KINDS}, got {self.kinds}")
        if not np.all(self.span > 0):
            raise ValueError(f"span must be positive, got {self.span}")
        if "softmax" in self.kinds and set(self.kinds) != {"softmax"}:
            raise ValueError(f"softmax entries cannot mix with others, got {self.kinds}")
        mask = {kind: np.array([k == kind for k in self.kinds]) for kind in _KINDS}
        object.__setattr__(self, "_mask", mask)

    @property
    def dim(self) -> int:
        """``D``, the length of an action."""
        return len(self.kinds)

    @property
    def categorical(self) -> bool:
        """True for the softmax map of categorical weights."""
        return self.kinds[0] == "softmax"

    def params(self, a: Any) -> np.ndarray:
        """Predictive parameters ``(..., D)`` float64 of normalized actions ``a`` ``(..., D)``.

        ``a`` is not checked here (the wrappers check it against ``Box(-1, 1)``); entries
        beyond ``[-1, 1]`` extrapolate the maps and are then clipped to the env's bounds.
        """
        a = np.asarray(a, dtype=np.float64)
        z = self.center + self.span * a
        if self.categorical:
            w = np.exp(z - z.max(axis=-1, keepdims=True))
            return np.clip(w / w.sum(axis=-1, keepdims=True), self.low, self.high)
        mask = self._mask
        with np.errstate(over="ignore"):
            x = np.where(mask["log"], np.exp(np.where(mask["log"], z, 0.0)), z)
        x = np.where(mask["logit"], special.expit(z), x)
        return np.clip(x, self.low, self.high)

    def normalize(self, params: Any) -> np.ndarray:
        """Normalized actions ``(..., D)`` float64 in ``[-1, 1]`` whose :meth:`params` are ``params``.

        Exact (up to rounding) for parameters inside the image of the box, clipped to ``[-1, 1]``
        beyond it; a probability of 0 or 1, or a zero scale, maps to ``-1`` or ``1``. Raises
        ``ValueError`` for a wrong trailing shape, NaN, or a value outside the family's domain
        (a probability outside [0, 1], a negative scale or weight, all-zero weights).
        """
        x = np.asarray(params, dtype=np.float64)
        mask = self._mask
        if x.ndim == 0 or x.shape[-1] != self.dim:
            raise ValueError(f"params must have shape (..., {self.dim}), got {x.shape}")
        if not np.all(np.isfinite(x)):
            raise ValueError(f"params must be finite numbers, got {x!r}")
        if np.any(np.where(mask["affine"], 0.0, x) < 0) or np.any(np.where(mask["logit"], x, 0.0) > 1):
            raise ValueError(
                f"params must lie in the family's domain (probabilities in [0, 1], scales >= 0), got {x!r}"
            )
        if self.categorical and np.any(x.sum(axis=-1) <= 0):
            raise ValueError(f"params must be weights with a positive sum, got {x!r}")
        with np.errstate(divide="ignore"):
            logged = mask["log"] | mask["softmax"]
            z = np.where(logged, np.log(np.where(logged, x, 1.0)), x)
            z = np.where(mask["logit"], special.logit(np.where(mask["logit"], x, 0.5)), z)
        a = (z - self.center) / self.span
        if self.categorical:
            a = _shift_into_box(a)
        return np.clip(a, -1.0, 1.0)


def _shift_into_box(a: np.ndarray) -> np.ndarray:
    """Rows of ``a`` ``(..., D)`` (entries may be ``-inf``) shifted as :class:`PredictionMap` says."""
    high = a.max(axis=-1, keepdims=True)  # finite: a positive sum means some weight > 0
    low = a.min(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore"):  # inf - inf where a zero weight makes low -inf
        shift = np.where(high - low <= 2.0, (high + low) / 2.0, high - 1.0)
    return a - shift


# --------------------------------------------------------------- the maps of each family


def _log_interval(log_value: float, log_smallest: float, log_largest: float, log_cap: float) -> tuple[float, float]:
    """Centre and span of a log map for a positive parameter whose prior predictive value is
    ``exp(log_value)`` and whose Bayes predictive values lie in ``[exp(log_smallest), exp(log_largest)]``.

    In log space the reach either side of ``log_value`` is ``max(min(MIN_LOG_SPAN, log_cap -
    log_value), log_largest - log_value + MARGIN, log_value - log_smallest + MARGIN)``,
    symmetric, so ``a = 0`` maps to the prior predictive value; the upper end is then capped at
    ``log_cap`` (the centre moves down where the cap cuts it) and the lower end floored at
    ``log 1e-300``. Returns ``(centre, span)``: the map is ``exp(centre + span * a)``.
    """
    reach = max(
        min(MIN_LOG_SPAN, log_cap - log_value),
        log_largest - log_value + MARGIN,
        log_value - log_smallest + MARGIN,
    )
    upper = min(log_value + reach, log_cap)
    lower = max(log_value - reach, _LOG_FLOOR)
    if not upper > lower:
        raise ValueError(
            f"the prior predictive value {np.exp(log_value):g} is too close to the action bound {np.exp(log_cap):g}"
        )
    return (upper + lower) / 2.0, (upper - lower) / 2.0


def _coin_map(model: BetaBernoulli, horizon: int, low: np.ndarray, high: np.ndarray) -> PredictionMap:
    alpha, beta = float(model.alpha), float(model.beta)
    centre = np.log(alpha) - np.log(beta)  # logit of the prior predictive alpha / (alpha + beta)
    # the Bayes log-odds log((alpha + s) / (beta + f)) lie within [-log1p(H/beta), log1p(H/alpha)] of it
    span = max(LOGIT_REACH + abs(centre), np.log1p(horizon / alpha) + MARGIN, np.log1p(horizon / beta) + MARGIN)
    # the switching coin's Bayes predictive mixes such probabilities (alpha + s) / (alpha + beta + r),
    # r <= H, and the prior's: a convex combination stays inside their range, so the same map holds
    return PredictionMap(("logit",), np.array([centre]), np.array([span]), low, high)


def _die_map(model: DirichletCategorical, horizon: int, low: np.ndarray, high: np.ndarray) -> PredictionMap:
    alpha = np.asarray(model.concentration, dtype=np.float64)
    log_prior = np.log(alpha) - np.log(alpha.sum())
    # the Bayes log(q_k / q0_k) lie in [-log1p(H/sum alpha), log1p(H/alpha_k)]: spread < 2 * span
    span = max(LOGIT_REACH / 2.0, float(np.max(np.log1p(horizon / alpha))) + MARGIN)
    return PredictionMap(("softmax",) * len(alpha), log_prior, np.full(len(alpha), span), low, high)


def _normal_map(model: NormalKnownNoise, horizon: int, low: np.ndarray, high: np.ndarray) -> PredictionMap:
    mean, prior_std, noise = float(model.prior_mean), float(model.prior_std), float(model.noise_std)
    mean_span = min(NORMAL_MEAN_SPAN * (prior_std + noise), (high[0] - mean) / 2.0, (mean - low[0]) / 2.0)
    std = float(np.hypot(prior_std, noise))  # the prior predictive std
    # after H outcomes the Bayes std is sqrt(noise^2 + 1 / (1/prior_std^2 + H/noise^2)) >= noise
    smallest = float(np.sqrt(noise**2 + 1.0 / (1.0 / prior_std**2 + horizon / noise**2)))
    # cap at half the env's bound (50 prior predictive stds): a factor 25 above the prior's std
    std_centre, std_span = _log_interval(np.log(std), np.log(smallest), np.log(std), np.log(high[1] / 2.0))
    return PredictionMap(
        ("affine", "log"), np.array([mean, std_centre]), np.array([mean_span, std_span]), low, high
    )


def _lomax_map(model: GammaExponential, horizon: int, low: np.ndarray, high: np.ndarray) -> PredictionMap:
    shape, rate = float(model.shape), float(model.rate)
    # Bayes shape a + n: from a to a + H
    log_shape = np.log(shape)
    shape_centre, shape_span = _log_interval(
        log_shape, log_shape, np.log(shape + horizon), np.log(_LOG_CAP_FRACTION * high[0])
    )
    # Bayes scale b + sum x: P(sum of H outcomes > y) <= H P(x > y / H) = H (1 + y / (H b))^-a,
    # below TAIL_PROBABILITY for y / b >= H expm1(log(H / TAIL_PROBABILITY) / a)
    exponent = min(np.log(horizon / TAIL_PROBABILITY) / shape, 600.0)  # beyond: capped anyway
    log_rate = np.log(rate)
    largest = log_rate + np.log1p(horizon * np.expm1(exponent))  # log of the largest Bayes scale
    scale_centre, scale_span = _log_interval(log_rate, log_rate, largest, np.log(_LOG_CAP_FRACTION * high[1]))
    return PredictionMap(
        ("log", "log"), np.array([shape_centre, scale_centre]), np.array([shape_span, scale_span]), low, high
    )


_BUILDERS = {
    BetaBernoulli: _coin_map,
    SwitchingBetaBernoulli: _coin_map,
    DirichletCategorical: _die_map,
    NormalKnownNoise: _normal_map,
    GammaExponential: _lomax_map,
}


def _describe(env: Any) -> str:
    base = getattr(env, "unwrapped", env)
    space = getattr(base, "single_action_space", None)
    if space is None:
        space = getattr(base, "action_space", None)
    spec = getattr(env, "spec", None)
    name = spec.id if spec is not None else type(base).__name__
    return f"{name} (action space {space})"


def prediction_map(env: Any) -> PredictionMap:
    """The :class:`PredictionMap` of a prediction env, read from its prior and horizon.

    ``env``: a single or native vector prediction env, wrapped or not (``env.unwrapped`` must
    hold the :class:`~meta_envs.dynamics.PredictionDynamics`). Raises ``ValueError`` naming the
    env for anything else, e.g. ``MetaBandit-v0`` (discrete arms, nothing to normalize).
    """
    base = getattr(env, "unwrapped", env)
    dynamics = getattr(base, "dynamics", None)
    builder = _BUILDERS.get(type(getattr(dynamics, "model", None)))
    if not isinstance(dynamics, PredictionDynamics) or builder is None:
        raise ValueError(
            f"NormalizedPrediction needs one of the prediction envs {', '.join(PREDICTION_ENV_IDS)} "
            f"(the native env or its vector env), whose action is a predictive distribution; "
            f"got {_describe(env)}"
        )
    model = dynamics.model
    if not isinstance(model, DirichletCategorical) and model.batch_shape != ():
        raise ValueError(f"NormalizedPrediction needs a model with one component, got batch_shape {model.batch_shape}")
    space = dynamics.action_space
    return builder(model, dynamics.horizon, space.low.astype(np.float64), space.high.astype(np.float64))


def _own_prediction_map(wrapper: str, env: Any, attribute: str) -> PredictionMap:
    """:func:`prediction_map` of ``env``, refused (``ValueError`` naming ``wrapper``) where another
    wrapper has changed the env's action space (``attribute``: ``action_space`` of a single env,
    ``single_action_space`` of a vector env) from the prediction env's own."""
    pmap = prediction_map(env)
    current, own = getattr(env, attribute), getattr(env.unwrapped, attribute)
    if current != own:
        raise ValueError(f"{wrapper} must wrap the prediction env's own action space {own}; "
                         f"another wrapper changed it to {current}")
    return pmap


def _unit_box(dim: int) -> spaces.Box:
    return spaces.Box(-1.0, 1.0, shape=(dim,), dtype=np.float32)


def _check_normalized(checker: ActionChecker, actions: Any) -> np.ndarray:
    """``actions`` ``(D,)`` or ``(..., D)`` as float64, inside ``[-1, 1]``, else ``InvalidActionError``."""
    try:
        array = np.asarray(actions)
    except (TypeError, ValueError):  # ragged: let the checker say so
        return checker(actions, None)
    if array.ndim <= 1:
        return checker(array, None)
    rows = array.reshape(-1, array.shape[-1])
    return checker(rows, rows.shape[0]).reshape(array.shape)


class NormalizedPrediction(gym.ActionWrapper, gym.utils.RecordConstructorArgs):
    """A prediction env with the action space ``Box(-1, 1, (D,), float32)``, ``D`` the env's action length.

    A normalized action ``a`` becomes the predictive parameters :math:`x = \\text{map}(a)` the env
    is stepped with (float64, so nothing is lost to float32). Every map is smooth and strictly
    increasing in each entry, centred on the prior predictive read from
    ``env.unwrapped.dynamics.model`` (so ``a = 0`` predicts the prior predictive), and wide
    enough that the Bayes predictive of each step of the horizon is reached strictly inside
    the box, at least a factor 10 (:data:`MARGIN`) from the ends (for the unbounded normal mean
    and Lomax scale: except with the tiny probabilities below). With
    :math:`\\sigma(z) = 1/(1 + e^{-z})` and ``H`` the horizon:

    ``MetaCoin-v0`` (Beta(:math:`\\alpha, \\beta`) prior), ``D = 1``:
        :math:`p = \\sigma(c + s a)`, :math:`c = \\log(\\alpha/\\beta)` (the prior predictive's
        log-odds), :math:`s = \\max(L + |c|, \\log(1 + H/\\alpha) + M, \\log(1 + H/\\beta) + M)` with
        :math:`L = \\mathrm{logit}(1 - 10^{-6}) = 13.8155` (:data:`LOGIT_REACH`) and
        :math:`M = \\log 10`. So ``p`` reaches ``[1e-6, 1 - 1e-6]``; for the named priors
        (uniform, fair, bent: :math:`c = 0`) :math:`s = 13.8155` exactly.

    ``MetaDie-v0`` (Dirichlet(:math:`\\alpha`) prior, ``K`` faces), ``D = K``:
        probabilities :math:`q = \\mathrm{softmax}(\\log q_0 + s a)`, :math:`q_0 = \\alpha / \\sum \\alpha`,
        the prior predictive at ``a = 0`` (and at any constant ``a``: the map is a
        near-bijection, see :class:`PredictionMap`). :math:`s = \\max(L/2, \\max_k \\log(1 + H/\\alpha_k) + M)`
        (6.9078 for ``H <= 99`` at the default :math:`\\alpha = 1`): the log-odds of any two faces
        move :math:`\\pm 2s` from the prior's, so with two faces this is the coin's map.

    ``MetaGaussian-v0`` (prior :math:`N(m_0, s_0^2)`, noise :math:`\\sigma`), ``D = 2``:
        mean :math:`= m_0 + 10 (s_0 + \\sigma) a_0` (:data:`NORMAL_MEAN_SPAN`; the Bayes mean is
        within 10 :math:`s_0` of :math:`m_0` at every step except with probability below 1e-22);
        std :math:`= \\exp(c + s a_1)`, a log map centred on the prior
        predictive std :math:`v_0 = \\sqrt{s_0^2 + \\sigma^2}` reaching
        :math:`[v_0 / 25, 25 v_0]` (25 v_0 is half the env's bound), widened below to
        :math:`\\sigma_H / 10` where that is lower, with
        :math:`\\sigma_H = (\\sigma^2 + 1/(1/s_0^2 + H/\\sigma^2))^{1/2}` the smallest Bayes std: when
        :math:`v_0 > 2.5 \\sigma_H` (a prior std above about 2.3 noise stds) ``a = 0`` is then
        below :math:`v_0` (the top stays at half the bound).

    ``MetaExponential-v0`` (Gamma(``a0``, ``b0``) prior on the rate), ``D = 2``:
        Lomax shape :math:`= \\exp(c_1 + s_1 a_0)` centred on ``a0`` with
        :math:`s_1 = \\max(\\log 100, \\log(1 + H/a_0) + M)` (the Bayes shape runs from ``a0`` to
        ``a0 + H``); Lomax scale :math:`= \\exp(c_2 + s_2 a_1)` centred on ``b0`` with
        :math:`s_2 = \\max(\\log 100, \\log(1 + H\\,\\mathrm{expm1}(\\log(H / 10^{-9}) / a_0)) + M)`: the
        Bayes scale ``b0 + sum x`` exceeds the top of the map with probability below 1e-9
        per episode (:data:`TAIL_PROBABILITY`). At the default prior (1, 1), ``H = 20``:
        shape in ``[1/210, 210]`` (:math:`s_1 = 5.35`), scale in
        ``[2.5e-13, 4.0e12]`` (:math:`s_2 = 29.0`), so random actions are about 1 rather
        than 1e37. For any prior both ends stay inside ``[1e-300, bound / 4]``: finite.

    Beyond the maps: :meth:`normalize` inverts them (``(..., D)`` parameters to normalized
    actions, clipped to ``[-1, 1]``), :meth:`action` accepts ``(D,)`` or batches ``(..., D)``,
    and :meth:`bayes_action` is the normalized Bayes predictive of the current step. Normalized
    actions outside ``[-1, 1]`` (or NaN, or the wrong shape) raise
    :class:`~meta_envs.validation.InvalidActionError`, as the envs do: nothing is clipped
    silently. Float32 actions resolve each parameter to a relative ``6e-8 * s`` (the normal
    mean to an absolute ``6e-8 * s``): at most ``2e-6`` for the default priors.

    Raises ``ValueError`` naming the env for an env that is not a prediction env, or one whose
    action space has been changed by another wrapper.
    """

    def __init__(self, env: gym.Env) -> None:
        gym.utils.RecordConstructorArgs.__init__(self)  # so gym.make can recreate it from env.spec
        gym.ActionWrapper.__init__(self, env)
        self.prediction_map = _own_prediction_map("NormalizedPrediction", env, "action_space")
        self.action_space = _unit_box(self.prediction_map.dim)
        self._checker = ActionChecker(self.action_space)

    def action(self, action: Any) -> np.ndarray:
        """The env's action (float64 predictive parameters) for a normalized ``action`` ``(D,)`` or ``(..., D)``."""
        return self.prediction_map.params(_check_normalized(self._checker, action))

    def normalize(self, params: Any) -> np.ndarray:
        """Normalized actions float32 ``(..., D)`` in ``[-1, 1]`` for predictive parameters ``(..., D)``.

        Float32, so a single action is a member of :attr:`action_space`; use
        ``self.prediction_map.normalize`` for float64.
        """
        return self.prediction_map.normalize(params).astype(np.float32)

    def bayes_action(self) -> np.ndarray:
        """The normalized action ``(D,)`` float32 of the Bayes predictive at the current step."""
        return self.normalize(self.env.unwrapped.bayes_predictive())


class NormalizedPredictionVector(VectorActionWrapper):
    """:class:`NormalizedPrediction` for the native vector envs.

    For ``gym.make_vec(id, n, vectorization_mode="vector_entry_point")``:

    ``single_action_space`` is ``Box(-1, 1, (D,), float32)`` and ``action_space`` its batch
    ``(num_envs, D)``; the maps are those of :class:`NormalizedPrediction`, applied to all rows
    at once. For ``SyncVectorEnv``/``AsyncVectorEnv`` wrap each sub-env instead:
    ``gym.make_vec(id, n, vectorization_mode="sync", wrappers=[NormalizedPrediction])``.
    """

    def __init__(self, env: VectorEnv) -> None:
        super().__init__(env)
        self.prediction_map = _own_prediction_map("NormalizedPredictionVector", env, "single_action_space")
        self.single_action_space = _unit_box(self.prediction_map.dim)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self._checker = ActionChecker(self.single_action_space)

    def actions(self, actions: Any) -> np.ndarray:
        """The env's actions ``(num_envs, D)`` float64 for normalized ``actions`` ``(num_envs, D)``."""
        checked = self._checker(actions, self.num_envs)
        return self.prediction_map.params(checked)

    def normalize(self, params: Any) -> np.ndarray:
        """Normalized actions float32 ``(..., D)`` in ``[-1, 1]`` for predictive parameters ``(..., D)``."""
        return self.prediction_map.normalize(params).astype(np.float32)

    def bayes_action(self) -> np.ndarray:
        """The normalized Bayes predictive of every sub-environment: ``(num_envs, D)`` float32."""
        return self.normalize(self.env.unwrapped.bayes_predictive())
