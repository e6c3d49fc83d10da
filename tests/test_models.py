"""Tests of bayes.models against independent truth.

The references are scipy.stats closed forms, exact rational arithmetic (``fractions.Fraction``)
over every outcome sequence of a short episode, and numerical integration (``scipy.integrate``)
of prior x likelihood. Monte-Carlo checks use fixed seeds, 200_000 draws and a tolerance of
5 standard errors computed from the reference distribution's closed-form moments.
"""

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
from scipy import integrate, stats

from bayes.models import (
    BetaBernoulli,
    DirichletCategorical,
    GammaExponential,
    NormalKnownNoise,
    bernoulli_log_prob,
    categorical_log_prob,
    check_rng,
    lomax_log_prob,
    normal_log_prob,
    positive_array,
    row_index,
)

N = 200_000  # Monte-Carlo sample size
Z = 5.0  # tolerance in standard errors


def _rng(seed):
    return np.random.default_rng(seed)


# --------------------------------------------------------------------------- helpers


def assert_moments(samples, dist, axis=0):
    """Sample mean and variance along ``axis`` within Z standard errors of frozen ``dist``'s."""
    samples = np.asarray(samples, dtype=np.float64)
    n = samples.shape[axis]
    mean, var, kurt = (np.asarray(v, dtype=np.float64) for v in dist.stats(moments="mvk"))
    got_mean = samples.mean(axis=axis)
    got_var = samples.var(axis=axis, ddof=1)
    se_mean = np.sqrt(var / n)
    se_var = var * np.sqrt((kurt + 2.0) / n)  # Var(s^2) ~ (mu_4 - sigma^4) / n
    assert np.all(np.abs(got_mean - mean) <= Z * se_mean), (got_mean, mean, se_mean)
    assert np.all(np.abs(got_var - var) <= Z * se_var), (got_var, var, se_var)


def assert_frequencies(outcomes, probs):
    """Empirical frequencies of the integers 0..K-1 within Z binomial standard errors of ``probs``."""
    outcomes = np.asarray(outcomes)
    probs = np.asarray(probs, dtype=np.float64)
    n = outcomes.size
    freq = np.bincount(outcomes.astype(np.int64).ravel(), minlength=probs.size) / n
    assert freq.size == probs.size, "an outcome outside 0..K-1 was drawn"
    se = np.sqrt(probs * (1 - probs) / n)
    assert np.all(np.abs(freq - probs) <= Z * se), (freq, probs)
    assert np.all(freq[probs == 0] == 0)


def assert_rate(hits, p):
    """The mean of the boolean array ``hits`` within Z binomial standard errors of ``p``."""
    hits = np.asarray(hits)
    n = hits.size
    assert abs(hits.mean() - p) <= Z * math.sqrt(p * (1 - p) / n) + 1e-15, (hits.mean(), p)


def rising(a, k):
    """The rising factorial a (a+1) ... (a+k-1), exactly for a Fraction ``a``."""
    out = Fraction(1)
    for i in range(k):
        out *= a + i
    return out


class QuadPosterior:
    """The posterior of a scalar parameter by numerical integration of prior x likelihood.

    ``log_joint(t)`` is the log prior density plus the log likelihood at parameter values ``t``
    (a numpy array); the posterior is normalised by ``scipy.integrate.quad`` over ``(lo, hi)``,
    split at the mode found on a grid.
    """

    def __init__(self, log_joint, lo, hi, grid):
        self.log_joint = log_joint
        values = log_joint(grid)
        self.shift = float(values.max())
        self.mode = float(grid[np.argmax(values)])
        self.lo, self.hi = lo, hi
        self.norm = self._integral(lambda t: 1.0)

    def density(self, t):
        return math.exp(float(self.log_joint(np.array([t]))[0]) - self.shift)

    def _integral(self, g):
        total = 0.0
        for a, b in ((self.lo, self.mode), (self.mode, self.hi)):
            value, _ = integrate.quad(lambda t: g(t) * self.density(t), a, b, limit=200, epsabs=0, epsrel=1e-11)
            total += value
        return total

    def expect(self, g):
        return self._integral(g) / self.norm

    def mean_var(self):
        mean = self.expect(lambda t: t)
        return mean, self.expect(lambda t: (t - mean) ** 2)

    def pdf(self, t):
        return self.density(t) / self.norm


def normal_quad_posterior(mu0, tau0, sigma, x):
    x = np.asarray(x, dtype=np.float64)

    def log_joint(mu):
        mu = np.asarray(mu, dtype=np.float64)
        return stats.norm.logpdf(mu, mu0, tau0) + stats.norm.logpdf(x[:, None], mu[None, :], sigma).sum(axis=0)

    spread = 12 * max(tau0, sigma)
    lo = min(mu0, *x) - spread if x.size else mu0 - spread
    hi = max(mu0, *x) + spread if x.size else mu0 + spread
    return QuadPosterior(log_joint, lo, hi, np.linspace(lo, hi, 20_001))


def gamma_quad_posterior(shape, rate, x):
    x = np.asarray(x, dtype=np.float64)

    def log_joint(lam):
        lam = np.asarray(lam, dtype=np.float64)
        prior = stats.gamma.logpdf(lam, shape, scale=1.0 / rate)
        return prior + stats.expon.logpdf(x[:, None], scale=1.0 / lam[None, :]).sum(axis=0)

    return QuadPosterior(log_joint, 0.0, np.inf, np.geomspace(1e-4, 1e3, 20_001))


# --------------------------------------------------------------------------- 1. sample_task

PRIOR_CASES = {
    "beta-uniform": (lambda: BetaBernoulli(), stats.beta(1.0, 1.0)),
    "beta-per-arm": (
        lambda: BetaBernoulli(alpha=[1, 2, 0.5], beta=[1, 3, 0.5]),
        stats.beta([1, 2, 0.5], [1, 3, 0.5]),
    ),
    "beta-small": (lambda: BetaBernoulli(0.2, 0.2), stats.beta(0.2, 0.2)),
    "beta-alpha-one": (lambda: BetaBernoulli(1.0, 3.0), stats.beta(1.0, 3.0)),
    "beta-2x2": (
        lambda: BetaBernoulli(alpha=[[0.7], [3.0]], beta=[1.5, 4.0]),
        stats.beta([[0.7, 0.7], [3.0, 3.0]], [[1.5, 4.0], [1.5, 4.0]]),
    ),
    "normal": (lambda: NormalKnownNoise(prior_mean=1.5, prior_std=2.0), stats.norm(1.5, 2.0)),
    "normal-per-arm": (
        lambda: NormalKnownNoise(prior_mean=[-1.0, 0.0, 2.5], prior_std=[0.5, 1.0, 3.0], noise_std=0.3),
        stats.norm([-1.0, 0.0, 2.5], [0.5, 1.0, 3.0]),
    ),
    "gamma": (lambda: GammaExponential(shape=2.5, rate=4.0), stats.gamma(2.5, scale=1 / 4.0)),
    "gamma-per-arm": (
        lambda: GammaExponential(shape=[0.7, 3.0, 1.0], rate=[2.0, 0.5, 1.0]),
        stats.gamma([0.7, 3.0, 1.0], scale=1 / np.array([2.0, 0.5, 1.0])),
    ),
}


@pytest.mark.parametrize("case", list(PRIOR_CASES))
def test_sample_task_shape_dtype_and_prior_moments(case):
    make, dist = PRIOR_CASES[case]
    model = make()
    tasks = model.sample_task(_rng(1), N)
    assert tasks.shape == (N, *model.task_shape)
    assert model.task_shape == model.batch_shape
    assert tasks.dtype == np.float64
    assert np.all(np.isfinite(tasks))
    lo, hi = dist.support()
    assert np.all((tasks >= lo) & (tasks <= hi))
    assert_moments(tasks, dist)
    assert model.check_task(tasks).shape == tasks.shape


@pytest.mark.parametrize("make", [lambda: BetaBernoulli([1, 2], 3), lambda: DirichletCategorical([1, 2, 3])])
def test_sample_task_size_zero(make):
    model = make()
    assert model.sample_task(_rng(0), 0).shape == (0, *model.task_shape)


def test_beta_tiny_concentration_has_no_nan():
    # Both gamma variates underflow to 0 for about a quarter of draws at alpha = beta = 0.001.
    model = BetaBernoulli(0.001, 0.001)
    p = model.sample_task(_rng(2), N)
    assert np.all((p >= 0) & (p <= 1))
    assert_moments(p, stats.beta(0.001, 0.001))


def test_dirichlet_sample_task_moments():
    alpha = np.array([0.5, 1.0, 2.0, 4.5])
    a0 = alpha.sum()
    model = DirichletCategorical(alpha)
    tasks = model.sample_task(_rng(3), N)
    assert tasks.shape == (N, 4)
    assert tasks.dtype == np.float64
    assert np.all(tasks >= 0)
    np.testing.assert_allclose(tasks.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    # each component is Beta(alpha_k, a0 - alpha_k) distributed
    assert_moments(tasks, stats.beta(alpha, a0 - alpha))
    np.testing.assert_allclose(stats.dirichlet.mean(alpha), alpha / a0)
    # covariance of components 0 and 3
    cov = -alpha[0] * alpha[3] / (a0**2 * (a0 + 1))
    prod = (tasks[:, 0] - alpha[0] / a0) * (tasks[:, 3] - alpha[3] / a0)
    assert abs(prod.mean() - cov) <= Z * prod.std() / math.sqrt(N)
    model.check_task(tasks)


def test_dirichlet_small_concentration():
    alpha = np.array([0.1, 0.1, 0.3])
    tasks = DirichletCategorical(alpha).sample_task(_rng(4), N)
    assert np.all(np.isfinite(tasks)) and np.all(tasks >= 0)
    assert_moments(tasks, stats.beta(alpha, alpha.sum() - alpha))


def test_dirichlet_tiny_concentration_has_no_nan():
    tasks = DirichletCategorical([0.001, 0.001, 0.001]).sample_task(_rng(5), 10_000)
    assert np.all(np.isfinite(tasks))
    np.testing.assert_allclose(tasks.sum(axis=1), 1.0, atol=1e-12)


# --------------------------------------------------------------------------- 2. sample_outcome


def test_bernoulli_outcome_frequencies():
    p = np.array([0.0, 0.15, 0.5, 0.9, 1.0])
    model = BetaBernoulli(alpha=np.ones(5), beta=2.0)
    x = model.sample_outcome(_rng(6), np.tile(p, (N, 1)))
    assert x.shape == (N, 5) and x.dtype == np.float64
    assert set(np.unique(x)) <= {0.0, 1.0}
    for k in range(5):
        assert_rate(x[:, k] == 1, p[k])
    assert np.all(x[:, 0] == 0) and np.all(x[:, 4] == 1)


def test_normal_outcome_moments():
    mu = np.array([-2.0, 0.0, 5.0])
    noise = np.array([0.3, 1.0, 2.0])
    model = NormalKnownNoise(prior_mean=0.0, prior_std=1.0, noise_std=noise)
    x = model.sample_outcome(_rng(7), np.tile(mu, (N, 1)))
    assert x.shape == (N, 3) and x.dtype == np.float64
    assert_moments(x, stats.norm(mu, noise))


def test_exponential_outcome_moments():
    rate = np.array([0.5, 1.0, 3.0])
    model = GammaExponential(shape=[1.0, 2.0, 3.0], rate=2.0)
    x = model.sample_outcome(_rng(8), np.tile(rate, (N, 1)))
    assert x.shape == (N, 3) and x.dtype == np.float64
    assert np.all(x >= 0)
    assert_moments(x, stats.expon(scale=1 / rate))


def test_categorical_outcome_frequencies():
    p = np.array([0.2, 0.5, 0.3, 0.0])
    model = DirichletCategorical([1.0, 1.0, 1.0, 1.0])
    x = model.sample_outcome(_rng(9), np.tile(p, (N, 1)))
    assert x.shape == (N,) and x.dtype == np.int64
    assert_frequencies(x, p)


def test_beta_bernoulli_hierarchical_counts_are_beta_binomial():
    # theta ~ Beta(a, b), then n outcomes given theta: the number of successes is BetaBinomial(n, a, b).
    a, b, n = 0.7, 1.8, 4
    model = BetaBernoulli(a, b)
    rng = _rng(10)
    task = model.sample_task(rng, N)
    successes = sum(model.sample_outcome(rng, task) for _ in range(n))
    assert_frequencies(successes, stats.betabinom.pmf(np.arange(n + 1), n, a, b))


def test_dirichlet_categorical_hierarchical_counts_are_dirichlet_multinomial():
    alpha = np.array([0.5, 1.0, 2.0])
    n = 3
    model = DirichletCategorical(alpha)
    rng = _rng(11)
    task = model.sample_task(rng, N)
    counts = sum(np.eye(3, dtype=np.int64)[model.sample_outcome(rng, task)] for _ in range(n))
    vectors = [c for c in itertools.product(range(n + 1), repeat=3) if sum(c) == n]
    code = {c: i for i, c in enumerate(vectors)}
    observed = np.array([code[tuple(c)] for c in counts])
    probs = np.array([stats.dirichlet_multinomial.pmf(c, alpha, n) for c in vectors])
    assert math.isclose(probs.sum(), 1.0)
    assert_frequencies(observed, probs)


# ---- the bandit case: task (B, K), arm (B,)


def test_bernoulli_arm_outcome_is_the_pulled_arms():
    model = BetaBernoulli(alpha=[1.0, 1.0, 1.0, 1.0], beta=1.0)
    rng = _rng(12)
    # deterministic arms: the outcome must be exactly task[b, arm[b]]
    task = rng.integers(0, 2, size=(1000, 4)).astype(np.float64)
    arm = rng.integers(0, 4, size=1000)
    x = model.sample_outcome(rng, task, arm)
    assert x.shape == (1000,)
    np.testing.assert_array_equal(x, task[np.arange(1000), arm])
    # random arms: frequencies per pulled arm
    p = np.array([0.1, 0.5, 0.9, 0.3])
    arm = rng.integers(0, 4, size=N)
    x = model.sample_outcome(rng, np.tile(p, (N, 1)), arm)
    for k in range(4):
        assert_rate(x[arm == k] == 1, p[k])


def test_normal_arm_outcome_uses_the_pulled_arms_mean_and_noise():
    noise = np.array([0.5, 1.0, 2.0])
    model = NormalKnownNoise(prior_mean=0.0, prior_std=3.0, noise_std=noise)
    rng = _rng(13)
    task = rng.normal(0.0, 3.0, size=(N, 3))
    arm = rng.integers(0, 3, size=N)
    x = model.sample_outcome(rng, task, arm)
    assert x.shape == (N,) and x.dtype == np.float64
    residual = x - task[np.arange(N), arm]
    for k in range(3):
        assert_moments(residual[arm == k], stats.norm(0.0, noise[k]))


def test_exponential_arm_outcome_uses_the_pulled_arms_rate():
    model = GammaExponential(shape=[1.0, 2.0, 3.0], rate=1.0)
    rng = _rng(14)
    task = rng.uniform(0.5, 3.0, size=(N, 3))
    arm = rng.integers(0, 3, size=N)
    x = model.sample_outcome(rng, task, arm)
    assert x.shape == (N,)
    scaled = x * task[np.arange(N), arm]  # Exp(1) if row b used arm[b]'s rate
    for k in range(3):
        assert_moments(scaled[arm == k], stats.expon())


def test_dirichlet_rejects_arm():
    model = DirichletCategorical([1.0, 2.0])
    task = np.array([[0.5, 0.5]])
    with pytest.raises(ValueError, match="arm"):
        model.sample_outcome(_rng(0), task, np.array([0]))
    with pytest.raises(ValueError, match="arm"):
        model.update(model.initial_stats(1), np.array([0]), np.array([0]))


def test_arm_needs_one_axis_of_arms():
    model = BetaBernoulli(alpha=np.ones((2, 3)))
    with pytest.raises(ValueError, match="arm"):
        model.update(model.initial_stats(1), np.array([1.0]), np.array([0]))
    scalar = NormalKnownNoise()
    with pytest.raises(ValueError, match="arm"):
        scalar.update(scalar.initial_stats(2), np.array([1.0, 2.0]), np.array([0, 0]))


@pytest.mark.parametrize("bad_arm", [-1, 3])
def test_out_of_range_arm_is_rejected(bad_arm):
    model = BetaBernoulli(alpha=[1.0, 1.0, 1.0], beta=1.0)
    stats0 = model.initial_stats(2)
    arm = np.array([bad_arm, 0])
    with pytest.raises((ValueError, IndexError)):
        model.update(stats0, np.array([1.0, 1.0]), arm)


# --------------------------------------------------------------------------- 3. update and posterior


@pytest.mark.parametrize(("a", "b"), [(1.0, 1.0), (2.0, 3.0), (0.5, 0.5), (0.25, 1.75)])
def test_beta_bernoulli_exact_enumeration(a, b):
    n = 5
    model = BetaBernoulli(a, b)
    A, B = Fraction(a), Fraction(b)
    seqs = np.array(list(itertools.product([0.0, 1.0], repeat=n)))  # every sequence, one per row
    stats_ = model.initial_stats(len(seqs))
    assert stats_.shape == (len(seqs), 2) and np.all(stats_ == 0)
    prob = np.ones(len(seqs))
    for t in range(n):
        p = model.predictive(stats_)
        assert p.shape == (len(seqs), 1)
        prob *= np.where(seqs[:, t] == 1, p[:, 0], 1 - p[:, 0])
        stats_ = model.update(stats_, seqs[:, t])
    succ = seqs.sum(axis=1)
    fail = n - succ
    np.testing.assert_array_equal(stats_, np.stack([succ, fail], axis=1))
    np.testing.assert_allclose(model.posterior(stats_), np.stack([a + succ, b + fail], axis=1), rtol=1e-15)
    post_mean, post_std = model.posterior_moments(stats_)
    assert post_mean.shape == post_std.shape == (len(seqs),)
    np.testing.assert_allclose(post_mean, stats.beta.mean(a + succ, b + fail), rtol=1e-14)
    np.testing.assert_allclose(post_std, stats.beta.std(a + succ, b + fail), rtol=1e-12)
    final = model.predictive(stats_)[:, 0]
    for i, row in enumerate(seqs):
        s, f = int(row.sum()), n - int(row.sum())
        # marginal likelihood B(a+s, b+f) / B(a, b) as an exact rational
        marginal = rising(A, s) * rising(B, f) / rising(A + B, n)
        assert math.isclose(prob[i], float(marginal), rel_tol=1e-12)
        # Bayes' rule: P(next = 1 | sequence) = m(sequence, 1) / m(sequence)
        nxt = rising(A, s + 1) * rising(B, f) / rising(A + B, n + 1) / marginal
        assert math.isclose(final[i], float(nxt), rel_tol=1e-13)
    # summed over the sequences with s successes: the beta-binomial pmf; over all: 1
    for s in range(n + 1):
        assert math.isclose(prob[succ == s].sum(), stats.betabinom.pmf(s, n, a, b), rel_tol=1e-12)
    assert math.isclose(prob.sum(), 1.0, rel_tol=1e-12)


def test_beta_bernoulli_posterior_by_quadrature():
    a, b = 2.0, 3.0
    x = np.array([1, 0, 1, 1, 0, 1, 1, 1], dtype=np.float64)
    model = BetaBernoulli(a, b)
    stats_ = model.initial_stats(1)
    for xi in x:
        stats_ = model.update(stats_, np.array([xi]))
    s, f = x.sum(), len(x) - x.sum()

    def dens(t):
        return stats.beta.pdf(t, a, b) * t**s * (1 - t) ** f

    z = integrate.quad(dens, 0, 1)[0]
    mean = integrate.quad(lambda t: t * dens(t), 0, 1)[0] / z
    var = integrate.quad(lambda t: (t - mean) ** 2 * dens(t), 0, 1)[0] / z
    post = model.posterior(stats_)[0]
    got = stats.beta(post[0], post[1])
    assert math.isclose(got.mean(), mean, rel_tol=1e-9)
    assert math.isclose(got.var(), var, rel_tol=1e-9)
    assert math.isclose(model.predictive(stats_)[0, 0], mean, rel_tol=1e-9)


def test_beta_bernoulli_per_arm_bandit_posterior():
    alpha, beta = np.array([1.0, 2.0, 0.5]), np.array([1.0, 3.0, 0.5])
    model = BetaBernoulli(alpha=alpha, beta=beta)
    rng = _rng(15)
    rows, steps = 40, 30
    arms = rng.integers(0, 3, size=(steps, rows))
    xs = rng.integers(0, 2, size=(steps, rows)).astype(np.float64)
    stats_ = model.initial_stats(rows)
    assert stats_.shape == (rows, 3, 2)
    for t in range(steps):
        stats_ = model.update(stats_, xs[t], arms[t])
    succ = np.zeros((rows, 3))
    fail = np.zeros((rows, 3))
    for t in range(steps):
        for r in range(rows):
            succ[r, arms[t, r]] += xs[t, r]
            fail[r, arms[t, r]] += 1 - xs[t, r]
    post = model.posterior(stats_)
    np.testing.assert_array_equal(post, np.stack([alpha + succ, beta + fail], axis=-1))
    pred = model.predictive(stats_)
    assert pred.shape == (rows, 3, 1)
    np.testing.assert_allclose(pred[..., 0], (alpha + succ) / (alpha + beta + succ + fail), rtol=1e-14)


NORMAL_CASES = [
    # prior_mean, prior_std, noise_std, n
    (0.0, 1.0, 1.0, 0),
    (0.7, 1.5, 0.8, 6),
    (-3.0, 0.4, 2.5, 3),
    (10.0, 5.0, 0.5, 12),
]


@pytest.mark.parametrize(("mu0", "tau0", "sigma", "n"), NORMAL_CASES)
def test_normal_posterior_and_predictive_by_quadrature(mu0, tau0, sigma, n):
    rng = _rng(16 + n)
    x = rng.normal(mu0 + tau0, sigma, size=n)
    model = NormalKnownNoise(prior_mean=mu0, prior_std=tau0, noise_std=sigma)
    stats_ = model.initial_stats(1)
    for xi in x:
        stats_ = model.update(stats_, np.array([xi]))
    np.testing.assert_allclose(stats_[0], [n, x.sum()], rtol=1e-14, atol=1e-14)
    truth = normal_quad_posterior(mu0, tau0, sigma, x)
    mean, var = truth.mean_var()
    post = model.posterior(stats_)
    assert post.shape == (1, 2)
    assert math.isclose(post[0, 0], mean, rel_tol=1e-8, abs_tol=1e-9)
    assert math.isclose(post[0, 1] ** 2, var, rel_tol=1e-8)
    post_mean, post_std = model.posterior_moments(stats_)
    assert math.isclose(post_mean[0], mean, rel_tol=1e-8, abs_tol=1e-9)
    assert math.isclose(post_std[0] ** 2, var, rel_tol=1e-8)
    # the posterior density itself
    for mu in (mean - 2 * math.sqrt(var), mean, mean + 0.5 * math.sqrt(var)):
        assert math.isclose(stats.norm.pdf(mu, post[0, 0], post[0, 1]), truth.pdf(mu), rel_tol=1e-7)
    # the predictive: integrate the likelihood of the next outcome against the posterior
    params = model.predictive(stats_)
    assert params.shape == (1, 2)
    for xn in (mean - 3 * sigma, mean - 0.5, mean, mean + 1.2 * sigma, mean + 4 * sigma):
        want = truth.expect(lambda mu, xn=xn: stats.norm.pdf(xn, mu, sigma))
        got = model.predictive_prob(params, np.array([xn]))[0]
        assert math.isclose(got, want, rel_tol=1e-7)
        assert math.isclose(
            model.predictive_log_prob(params, np.array([xn]))[0],
            stats.norm.logpdf(xn, params[0, 0], params[0, 1]),
            rel_tol=1e-12,
        )


def test_normal_vectorised_posterior_by_quadrature():
    mu0 = np.array([0.0, 2.0])
    tau0 = np.array([1.0, 0.5])
    sigma = np.array([2.0, 0.3])
    model = NormalKnownNoise(prior_mean=mu0, prior_std=tau0, noise_std=sigma)
    rng = _rng(17)
    x = rng.normal(1.0, 1.0, size=(4, 3, 2))  # 4 steps, 3 rows, 2 components
    stats_ = model.initial_stats(3)
    assert stats_.shape == (3, 2, 2)
    for t in range(4):
        stats_ = model.update(stats_, x[t])
    post = model.posterior(stats_)
    assert post.shape == (3, 2, 2)
    for r in range(3):
        for k in range(2):
            mean, var = normal_quad_posterior(mu0[k], tau0[k], sigma[k], x[:, r, k]).mean_var()
            assert math.isclose(post[r, k, 0], mean, rel_tol=1e-8, abs_tol=1e-9)
            assert math.isclose(post[r, k, 1] ** 2, var, rel_tol=1e-8)


GAMMA_CASES = [
    # shape, rate, n
    (1.0, 1.0, 0),
    (2.5, 1.5, 7),
    (0.6, 4.0, 3),
    (5.0, 0.3, 20),
]


@pytest.mark.parametrize(("a", "b", "n"), GAMMA_CASES)
def test_gamma_posterior_and_predictive_by_quadrature(a, b, n):
    rng = _rng(30 + n)
    x = rng.exponential(1.0 / (a / b), size=n)
    model = GammaExponential(shape=a, rate=b)
    stats_ = model.initial_stats(1)
    for xi in x:
        stats_ = model.update(stats_, np.array([xi]))
    np.testing.assert_allclose(stats_[0], [n, x.sum()], rtol=1e-14, atol=1e-14)
    truth = gamma_quad_posterior(a, b, x)
    mean, var = truth.mean_var()
    post = model.posterior(stats_)
    assert post.shape == (1, 2)
    shape_n, rate_n = post[0]
    assert math.isclose(shape_n / rate_n, mean, rel_tol=1e-8)
    assert math.isclose(shape_n / rate_n**2, var, rel_tol=1e-8)
    post_mean, post_std = model.posterior_moments(stats_)
    assert math.isclose(post_mean[0], mean, rel_tol=1e-8)
    assert math.isclose(post_std[0] ** 2, var, rel_tol=1e-8)
    for lam in (0.3 * mean, mean, 2.0 * mean):
        assert math.isclose(stats.gamma.pdf(lam, shape_n, scale=1 / rate_n), truth.pdf(lam), rel_tol=1e-7)
    params = model.predictive(stats_)
    assert params.shape == (1, 2)
    for xn in (0.0, 0.1, 1.0, 3.0, 10.0):
        want = truth.expect(lambda lam, xn=xn: stats.expon.pdf(xn, scale=1 / lam))
        got = model.predictive_prob(params, np.array([xn]))[0]
        assert math.isclose(got, want, rel_tol=1e-7)
        assert math.isclose(
            model.predictive_log_prob(params, np.array([xn]))[0],
            stats.lomax.logpdf(xn, c=params[0, 0], scale=params[0, 1]),
            rel_tol=1e-12,
            abs_tol=1e-14,
        )


def test_dirichlet_exact_enumeration():
    alpha = [1.0, 2.0, 0.5]
    A = [Fraction(v) for v in alpha]
    n, k = 4, 3
    model = DirichletCategorical(alpha)
    seqs = np.array(list(itertools.product(range(k), repeat=n)), dtype=np.int64)
    stats_ = model.initial_stats(len(seqs))
    assert stats_.shape == (len(seqs), k)
    prob = np.ones(len(seqs))
    for t in range(n):
        params = model.predictive(stats_)
        assert params.shape == (len(seqs), k)
        prob *= params[np.arange(len(seqs)), seqs[:, t]]
        stats_ = model.update(stats_, seqs[:, t])
    counts = np.array([np.bincount(row, minlength=k) for row in seqs])
    np.testing.assert_array_equal(stats_, counts)
    np.testing.assert_array_equal(model.posterior(stats_), np.asarray(alpha) + counts)
    post_mean, post_std = model.posterior_moments(stats_)
    assert post_mean.shape == post_std.shape == (len(seqs), k)
    for i in (0, 7, 40, 80):
        np.testing.assert_allclose(post_mean[i], stats.dirichlet.mean(np.asarray(alpha) + counts[i]), rtol=1e-14)
        np.testing.assert_allclose(post_std[i] ** 2, stats.dirichlet.var(np.asarray(alpha) + counts[i]), rtol=1e-12)
    final = model.predictive(stats_)
    for i, c in enumerate(counts):
        marginal = math.prod(rising(A[j], int(c[j])) for j in range(k)) / rising(sum(A), n)
        assert math.isclose(prob[i], float(marginal), rel_tol=1e-12)
        for j in range(k):
            bumped = [int(v) + (m == j) for m, v in enumerate(c)]
            joint = math.prod(rising(A[m], bumped[m]) for m in range(k)) / rising(sum(A), n + 1)
            assert math.isclose(final[i, j], float(joint / marginal), rel_tol=1e-13)
    for c in {tuple(v) for v in counts}:
        mask = np.all(counts == c, axis=1)
        assert math.isclose(prob[mask].sum(), stats.dirichlet_multinomial.pmf(c, alpha, n), rel_tol=1e-10)


def test_dirichlet_predictive_by_quadrature():
    alpha = np.array([2.0, 1.5, 3.0])
    model = DirichletCategorical(alpha)
    x = np.array([0, 2, 2, 1, 0, 2])
    stats_ = model.initial_stats(1)
    for xi in x:
        stats_ = model.update(stats_, np.array([xi]))
    c = np.bincount(x, minlength=3)
    expo = alpha + c - 1

    def dens(t2, t1):
        return t1 ** expo[0] * t2 ** expo[1] * max(1 - t1 - t2, 0.0) ** expo[2]

    def integral(g):
        return integrate.dblquad(
            lambda t2, t1: g(t1, t2) * dens(t2, t1), 0, 1, 0, lambda t1: 1 - t1, epsabs=0, epsrel=1e-11
        )[0]

    z = integral(lambda t1, t2: 1.0)
    want = [integral(lambda t1, t2: t1) / z, integral(lambda t1, t2: t2) / z]
    want.append(1 - sum(want))
    np.testing.assert_allclose(model.predictive(stats_)[0], want, rtol=1e-7)
    np.testing.assert_allclose(model.posterior(stats_)[0], alpha + c)


# ---- update with arms, purity


UPDATE_CASES = {
    "beta": (lambda: BetaBernoulli(alpha=[1, 2, 0.5], beta=[1, 3, 0.5]), lambda x: (x, 1 - x), "binary"),
    "normal": (lambda: NormalKnownNoise(prior_mean=0.0, noise_std=[0.5, 1.0, 2.0]), lambda x: (1.0, x), "real"),
    "gamma": (lambda: GammaExponential(shape=[1.0, 2.0, 3.0], rate=1.0), lambda x: (1.0, x), "positive"),
}


def _outcomes(rng, kind, size):
    if kind == "binary":
        return rng.integers(0, 2, size=size).astype(np.float64)
    if kind == "real":
        return rng.normal(size=size)
    return rng.exponential(size=size)


@pytest.mark.parametrize("case", list(UPDATE_CASES))
def test_update_with_arm_changes_only_the_pulled_arm(case):
    make, increments, kind = UPDATE_CASES[case]
    model = make()
    rng = _rng(40)
    rows = 25
    stats0 = rng.uniform(0, 5, size=(rows, 3, 2))
    before = stats0.copy()
    stats0.setflags(write=False)  # update must not write into its input
    arm = rng.integers(0, 3, size=rows)
    x = _outcomes(rng, kind, rows)
    out = model.update(stats0, x, arm)
    np.testing.assert_array_equal(stats0, before)
    assert out.shape == stats0.shape and out is not stats0
    expected = before.copy()
    for r in range(rows):
        first, second = increments(x[r])
        expected[r, arm[r], 0] += first
        expected[r, arm[r], 1] += second
    np.testing.assert_array_equal(out, expected)
    untouched = np.ones((rows, 3), dtype=bool)
    untouched[np.arange(rows), arm] = False
    np.testing.assert_array_equal(out[untouched], before[untouched])


@pytest.mark.parametrize("case", list(UPDATE_CASES))
def test_update_without_arm_adds_to_every_component(case):
    make, increments, kind = UPDATE_CASES[case]
    model = make()
    rng = _rng(41)
    stats0 = rng.uniform(0, 5, size=(6, 3, 2))
    before = stats0.copy()
    x = _outcomes(rng, kind, (6, 3))
    out = model.update(stats0, x)
    np.testing.assert_array_equal(stats0, before)
    first, second = increments(x)
    np.testing.assert_allclose(out[..., 0], before[..., 0] + first, rtol=1e-15)
    np.testing.assert_allclose(out[..., 1], before[..., 1] + second, rtol=1e-15)


def test_dirichlet_update_does_not_mutate_input():
    model = DirichletCategorical([1.0, 1.0, 1.0])
    stats0 = np.array([[1.0, 0.0, 2.0], [0.0, 0.0, 0.0]])
    before = stats0.copy()
    stats0.setflags(write=False)
    out = model.update(stats0, np.array([2, 0]))
    np.testing.assert_array_equal(stats0, before)
    np.testing.assert_array_equal(out, [[1.0, 0.0, 3.0], [1.0, 0.0, 0.0]])


def test_initial_stats_and_prior_predictive():
    for model in (BetaBernoulli([1, 2]), NormalKnownNoise(), GammaExponential(), DirichletCategorical([1, 2])):
        s = model.initial_stats(4)
        assert s.shape == (4, *model.stats_shape) and s.dtype == np.float64 and np.all(s == 0)
        with pytest.raises(ValueError, match="size"):
            model.initial_stats(-1)
        with pytest.raises(ValueError, match="size"):
            model.initial_stats(2.0)
        with pytest.raises(ValueError, match="size"):
            model.sample_task(_rng(0), True)
    # prior predictives: P(x=1) = E[theta]; marginal N(mu0, tau0^2 + sigma^2); Lomax(a, b); alpha / sum
    np.testing.assert_allclose(BetaBernoulli([1, 2], 3).prior_predictive(), [[0.25], [0.4]])
    np.testing.assert_allclose(NormalKnownNoise(1.0, 3.0, 4.0).prior_predictive(), [1.0, 5.0])
    np.testing.assert_allclose(GammaExponential(2.0, 0.5).prior_predictive(), [2.0, 0.5])
    np.testing.assert_allclose(DirichletCategorical([1, 3]).prior_predictive(), [0.25, 0.75])


PRIOR_RANGE_CASES = [
    (lambda: BetaBernoulli([0.5, 2.0], 3.0), lambda lo, hi: stats.beta([0.5, 2.0], 3.0).cdf([[lo], [hi]])),
    (
        lambda: NormalKnownNoise(prior_mean=[-2.0, 4.0], prior_std=[1.0, 0.5]),
        lambda lo, hi: stats.norm([-2.0, 4.0], [1.0, 0.5]).cdf([[lo], [hi]]),
    ),
    (
        lambda: GammaExponential(shape=[0.5, 3.0], rate=[2.0, 0.1]),
        lambda lo, hi: stats.gamma([0.5, 3.0], scale=1 / np.array([2.0, 0.1])).cdf([[lo], [hi]]),
    ),
    (
        lambda: DirichletCategorical([0.5, 1.0, 4.0]),
        lambda lo, hi: stats.beta([0.5, 1.0, 4.0], [5.0, 4.5, 1.5]).cdf([[lo], [hi]]),
    ),
]


@pytest.mark.parametrize(("make", "cdf"), PRIOR_RANGE_CASES)
def test_prior_range_holds_nearly_all_prior_mass(make, cdf):
    lo, hi = make().prior_range()
    assert lo < hi
    below, above = cdf(lo, hi)
    assert np.all(above - below >= 0.95), above - below


def test_hyperparameters_are_copies():
    model = BetaBernoulli(alpha=[1.0, 2.0], beta=3.0)
    hyper = model.hyperparameters()
    np.testing.assert_array_equal(hyper["beta"], [3.0, 3.0])
    hyper["alpha"][:] = 100.0
    np.testing.assert_allclose(model.prior_predictive()[:, 0], [0.25, 0.4])


# --------------------------------------------------------------------------- 4. predictive densities


@pytest.mark.parametrize("shape", [0.3, 1.0, 2.5, 40.0, 1e6])
@pytest.mark.parametrize("scale", [0.01, 1.0, 7.5])
def test_lomax_log_prob_matches_scipy(shape, scale):
    x = np.array([0.0, 1e-6, 0.3, 1.0, 5.0, 100.0, 1e8])
    want = stats.lomax(c=shape, scale=scale).logpdf(x)
    np.testing.assert_allclose(lomax_log_prob(shape, scale, x), want, rtol=1e-9)
    params = np.broadcast_to([shape, scale], (x.size, 2))
    np.testing.assert_allclose(GammaExponential().predictive_log_prob(params, x), want, rtol=1e-9)


@pytest.mark.parametrize(("mean", "std"), [(0.0, 1.0), (-3.0, 0.01), (250.0, 40.0)])
def test_normal_log_prob_matches_scipy(mean, std):
    x = np.array([-1e3, -2.0, 0.0, 0.5, mean, mean + std, 1e4])
    want = stats.norm.logpdf(x, mean, std)
    np.testing.assert_allclose(normal_log_prob(mean, std, x), want, rtol=1e-12)
    params = np.broadcast_to([mean, std], (x.size, 2))
    np.testing.assert_allclose(NormalKnownNoise().predictive_log_prob(params, x), want, rtol=1e-12)


def test_bernoulli_and_categorical_log_prob_match_scipy():
    p = np.array([0.3, 0.3, 0.9, 0.9])
    x = np.array([0, 1, 0, 1])
    np.testing.assert_allclose(bernoulli_log_prob(p, x), stats.bernoulli.logpmf(x, p), rtol=1e-14)
    np.testing.assert_allclose(BetaBernoulli().predictive_log_prob(p[:, None], x), stats.bernoulli.logpmf(x, p))
    w = np.array([[0.2, 0.5, 0.3], [3.0, 1.0, 6.0]])
    xs = np.array([1, 2])
    want = [math.log(0.5), math.log(0.6)]
    np.testing.assert_allclose(categorical_log_prob(w, xs), want, rtol=1e-14)
    np.testing.assert_allclose(DirichletCategorical([1, 1, 1]).predictive_prob(w, xs), np.exp(want), rtol=1e-14)


# --------------------------------------------------------------------------- 5. predictive_sample


def test_bernoulli_predictive_sample():
    p = np.array([0.0, 0.3, 1.0])
    x = BetaBernoulli(alpha=[1, 1, 1]).predictive_sample(_rng(50), np.tile(p[:, None], (N, 1, 1)))
    assert x.shape == (N, 3) and x.dtype == np.float64
    for k in range(3):
        assert_rate(x[:, k] == 1, p[k])
    assert np.all(x[:, 0] == 0) and np.all(x[:, 2] == 1)


def test_normal_predictive_sample():
    params = np.array([[-1.0, 0.5], [4.0, 3.0]])
    x = NormalKnownNoise(noise_std=[1.0, 2.0]).predictive_sample(_rng(51), np.tile(params, (N, 1, 1)))
    assert x.shape == (N, 2)
    assert_moments(x, stats.norm(params[:, 0], params[:, 1]))


def test_lomax_predictive_sample_moments():
    a, b = np.array([9.5, 6.0]), np.array([3.0, 0.2])
    params = np.tile(np.stack([a, b], axis=-1), (N, 1, 1))
    x = GammaExponential(shape=[1.0, 1.0]).predictive_sample(_rng(52), params)
    assert x.shape == (N, 2) and np.all(x >= 0)
    assert_moments(x, stats.lomax(c=a, scale=b))


@pytest.mark.parametrize(("a", "b"), [(0.4, 1.0), (1.3, 0.5), (3.0, 20.0)])
def test_lomax_predictive_sample_cdf(a, b):
    x = GammaExponential().predictive_sample(_rng(53), np.tile([a, b], (N, 1)))
    assert x.shape == (N,) and np.all(x >= 0) and np.all(np.isfinite(x))
    dist = stats.lomax(c=a, scale=b)
    for q in (0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99):
        assert_rate(x <= dist.ppf(q), q)


def test_categorical_predictive_sample_unnormalised_weights():
    w = np.array([2.0, 1.0, 1.0, 0.0])
    x = DirichletCategorical([1, 1, 1, 1]).predictive_sample(_rng(54), np.tile(w, (N, 1)))
    assert x.shape == (N,) and x.dtype == np.int64
    assert_frequencies(x, [0.5, 0.25, 0.25, 0.0])


def test_predictive_sample_from_posterior_predictive():
    # After some data, draws from predictive(stats) follow the Beta-Bernoulli / Dirichlet rules.
    model = BetaBernoulli(2.0, 3.0)
    stats_ = np.tile([4.0, 1.0], (N, 1))  # posterior Beta(6, 4): P(1) = 0.6
    assert_rate(model.predictive_sample(_rng(55), model.predictive(stats_)) == 1, 0.6)
    cat = DirichletCategorical([1.0, 1.0, 2.0])
    counts = np.tile([3.0, 0.0, 2.0], (N, 1))  # Dir(4, 1, 4)
    assert_frequencies(cat.predictive_sample(_rng(56), cat.predictive(counts)), [4 / 9, 1 / 9, 4 / 9])


# --------------------------------------------------------------------------- 6. edge cases of the helpers


def test_bernoulli_log_prob_edges():
    with np.errstate(all="raise"):
        out = bernoulli_log_prob(np.array([0.0, 0.0, 1.0, 1.0]), np.array([0, 1, 0, 1]))
        outside = bernoulli_log_prob(np.array([-0.1, 1.1, np.nan]), np.array([1, 0, 1]))
        model = BetaBernoulli().predictive_log_prob(np.array([[1.0], [0.0]]), np.array([0.0, 0.0]))
    np.testing.assert_array_equal(out, [0.0, -np.inf, -np.inf, 0.0])
    np.testing.assert_array_equal(outside, [-np.inf] * 3)
    np.testing.assert_array_equal(model, [-np.inf, 0.0])


def test_bernoulli_log_prob_is_accurate_for_tiny_p():
    # log(1 - p) = -p - p^2/2 - ... : for p = 1e-12 the answer is -1e-12 to 1e-12 relative precision
    p = np.array([1e-12, 1 - 2.0**-40])
    out = bernoulli_log_prob(p, np.array([0, 1]))
    assert math.isclose(out[0], -1e-12, rel_tol=1e-9)
    assert math.isclose(out[1], math.log1p(-(2.0**-40)), rel_tol=1e-12)


def test_normal_log_prob_edges():
    with np.errstate(all="raise"):
        zero = normal_log_prob(np.array([0.0, 1.0, 1.0]), np.array([0.0, 0.0, -1.0]), np.array([0.0, 1.0, 2.0]))
        far = normal_log_prob(0.0, 1e-300, np.array([1e300, np.inf, -np.inf]))
        inf_x = normal_log_prob(0.0, 1.0, np.array([np.inf, -np.inf]))
    np.testing.assert_array_equal(zero, [-np.inf] * 3)
    np.testing.assert_array_equal(far, [-np.inf] * 3)
    np.testing.assert_array_equal(inf_x, [-np.inf] * 2)


def test_lomax_log_prob_edges():
    with np.errstate(all="raise"):
        out = lomax_log_prob(
            np.array([0.0, 1.0, 0.0, -1.0, 1.0, 2.0, 2.0]),
            np.array([1.0, 0.0, 0.0, 1.0, -2.0, 1.0, 1.0]),
            np.array([0.5, 0.5, 0.0, 1.0, 1.0, -0.1, np.inf]),
        )
        model = GammaExponential().predictive_log_prob(np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([1.0, 1.0]))
    np.testing.assert_array_equal(out, [-np.inf] * 7)
    np.testing.assert_array_equal(model, [-np.inf, -np.inf])


def test_categorical_log_prob_edges():
    with np.errstate(all="raise"):
        half = categorical_log_prob(np.array([2.0, 1.0, 1.0]), np.array(0))
        out = categorical_log_prob(
            np.array([[0.0, 0.0, 0.0], [0.0, 1.0, 1.0], [-1.0, 2.0, 1.0], [np.inf, 1.0, 1.0], [0.0, 0.0, 3.0]]),
            np.array([1, 0, 1, 1, 2]),
        )
    assert half == math.log(0.5)
    np.testing.assert_array_equal(out[:4], [-np.inf] * 4)
    assert out[4] == 0.0


def test_categorical_log_prob_outcome_outside_support():
    try:
        out = categorical_log_prob(np.array([1.0, 1.0, 2.0]), np.array(-1))
    except (ValueError, IndexError):
        return
    assert out == -np.inf


# --------------------------------------------------------------------------- 7. validation

BAD_VALUES = [0.0, -1.0, np.nan, np.inf, -np.inf, "abc", None, [], [1.0, 0.0]]

HYPER_CASES = [
    (BetaBernoulli, "alpha", {"beta": 1.0}),
    (BetaBernoulli, "beta", {"alpha": 1.0}),
    (NormalKnownNoise, "prior_std", {}),
    (NormalKnownNoise, "noise_std", {}),
    (GammaExponential, "shape", {}),
    (GammaExponential, "rate", {}),
]


@pytest.mark.parametrize("bad", BAD_VALUES, ids=repr)
@pytest.mark.parametrize(("cls", "name", "others"), HYPER_CASES, ids=lambda v: getattr(v, "__name__", str(v)))
def test_positive_hyperparameters_are_validated(cls, name, others, bad):
    with pytest.raises(ValueError, match=rf"^{name} "):
        cls(**others, **{name: bad})


@pytest.mark.parametrize("bad", [np.nan, np.inf, "abc", None, []], ids=repr)
def test_prior_mean_must_be_finite(bad):
    with pytest.raises(ValueError, match=r"^prior_mean "):
        NormalKnownNoise(prior_mean=bad)
    assert NormalKnownNoise(prior_mean=-3.0).prior_predictive()[0] == -3.0  # negative is fine


@pytest.mark.parametrize("bad", [[1.0, 0.0, 1.0], [1.0, -1.0], [1.0, np.nan], [np.inf, 1.0], "abc", None, []], ids=repr)
def test_concentration_is_validated(bad):
    with pytest.raises(ValueError, match=r"^concentration "):
        DirichletCategorical(bad)


@pytest.mark.parametrize("bad", [[1.0], 2.0, [[1.0, 1.0], [1.0, 1.0]]], ids=repr)
def test_dirichlet_needs_a_vector_of_two(bad):
    with pytest.raises(ValueError, match="concentration"):
        DirichletCategorical(bad)


def test_hyperparameter_shapes_must_broadcast():
    with pytest.raises(ValueError, match="broadcast"):
        BetaBernoulli(alpha=[1.0, 2.0], beta=[1.0, 2.0, 3.0])


def test_positive_array():
    np.testing.assert_array_equal(positive_array([1, 2.5], "w"), [1.0, 2.5])
    assert positive_array(3, "w").dtype == np.float64
    for bad in (0, -2, np.nan, np.inf, "x", [], [1.0, -1e-300]):
        with pytest.raises(ValueError, match=r"^w "):
            positive_array(bad, "w")


ALL_MODELS = [
    lambda: BetaBernoulli([1.0, 2.0], 2.0),
    lambda: NormalKnownNoise(noise_std=[1.0, 2.0]),
    lambda: GammaExponential(shape=[1.0, 2.0]),
    lambda: DirichletCategorical([1.0, 2.0]),
]
BAD_RNGS = [np.random.RandomState(0), None, 0, np.random, np.random.default_rng(0).bit_generator]


@pytest.mark.parametrize("bad", BAD_RNGS, ids=lambda v: type(v).__name__)
@pytest.mark.parametrize("make", ALL_MODELS)
def test_rng_must_be_a_generator(make, bad):
    model = make()
    task = model.sample_task(_rng(0), 3)
    params = model.predictive(model.initial_stats(3))
    with pytest.raises(TypeError, match="Generator"):
        model.sample_task(bad, 3)
    with pytest.raises(TypeError, match="Generator"):
        model.sample_outcome(bad, task)
    with pytest.raises(TypeError, match="Generator"):
        model.predictive_sample(bad, params)
    with pytest.raises(TypeError, match="Generator"):
        check_rng(bad)
    rng = _rng(1)
    assert check_rng(rng) is rng


CHECK_TASK_CASES = [
    (lambda: BetaBernoulli([1.0, 1.0, 1.0]), [[0.0, 0.5, 1.0]], [[0.2, 1.5, 0.3]]),
    (lambda: BetaBernoulli([1.0, 1.0, 1.0]), [0.1, 0.2, 0.3], [[-0.1, 0.5, 0.5]]),
    (lambda: BetaBernoulli([1.0, 1.0, 1.0]), [0.1, 0.2, 0.3], [[0.5, np.nan, 0.5]]),
    (lambda: BetaBernoulli([1.0, 1.0, 1.0]), [0.1, 0.2, 0.3], [[0.5, 0.5]]),
    (lambda: BetaBernoulli([1.0, 1.0, 1.0]), [0.1, 0.2, 0.3], [[[0.5, 0.5, 0.5]]]),
    (lambda: BetaBernoulli(), [0.5, 0.25], [[0.5]]),
    (lambda: NormalKnownNoise([0.0, 0.0]), [[-1e6, 3.0]], [[np.inf, 0.0]]),
    (lambda: NormalKnownNoise([0.0, 0.0]), [[-1e6, 3.0]], "abc"),
    (lambda: GammaExponential([1.0, 1.0]), [[1e-8, 3.0]], [[-1.0, 1.0]]),
    (lambda: GammaExponential([1.0, 1.0]), [[1e-8, 3.0]], [[0.0, 1.0]]),
    (lambda: DirichletCategorical([1.0, 1.0, 1.0]), [[0.2, 0.3, 0.5]], [[0.2, 0.3, 0.6]]),
    (lambda: DirichletCategorical([1.0, 1.0, 1.0]), [[0.2, 0.3, 0.5]], [[0.2, 0.3, 0.51]]),
    (lambda: DirichletCategorical([1.0, 1.0, 1.0]), [[1.0, 0.0, 0.0]], [[-0.1, 0.6, 0.5]]),
    (lambda: DirichletCategorical([1.0, 1.0, 1.0]), [0.2, 0.3, 0.5], [[0.5, 0.5]]),
    (lambda: DirichletCategorical([1.0, 1.0, 1.0]), [0.2, 0.3, 0.5], [[0.5, 0.5, 0.0, 0.0]]),
]


@pytest.mark.parametrize(("make", "good", "bad"), CHECK_TASK_CASES)
def test_check_task(make, good, bad):
    model = make()
    out = model.check_task(good)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, good)
    with pytest.raises(ValueError, match=r"^theta "):
        model.check_task(bad, name="theta")


# --------------------------------------------------------------------------- 8. determinism


@pytest.mark.parametrize("make", ALL_MODELS)
def test_same_seed_same_draws(make):
    model = make()

    def draws(seed):
        rng = _rng(seed)
        task = model.sample_task(rng, 500)
        x = model.sample_outcome(rng, task)
        params = model.predictive(model.update(model.initial_stats(500), x))
        return task, x, model.predictive_sample(rng, params)

    first, again, other = draws(123), draws(123), draws(124)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], other[0])


def test_same_seed_same_arm_draws():
    model = NormalKnownNoise(noise_std=[1.0, 2.0, 3.0])
    task = model.sample_task(_rng(0), 100)
    arm = _rng(1).integers(0, 3, 100)
    np.testing.assert_array_equal(model.sample_outcome(_rng(7), task, arm), model.sample_outcome(_rng(7), task, arm))


def test_row_index():
    for n in (0, 1, 5, *range(20, 40)):
        rows = row_index(n)
        np.testing.assert_array_equal(rows, np.arange(n))
        assert not rows.flags.writeable
    np.testing.assert_array_equal(row_index(5), np.arange(5))


# --- numerical range: hyperparameters whose draws or squares leave float64 are refused -----


def test_gamma_prior_whose_rates_underflow_is_refused():
    with pytest.raises(ValueError, match="shape"):
        GammaExponential(shape=0.001, rate=0.001)  # half of its mass lies below 2.2e-308
    model = GammaExponential(shape=0.05, rate=0.05)  # P(rate < 2.2e-308) ~ 4e-16: accepted
    rates = model.sample_task(np.random.default_rng(0), 100_000)
    assert np.all(rates > 0)
    model.check_task(rates)  # every drawn task is a valid task


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"prior_std": 1e-160}, "prior_std"), ({"prior_std": 1e200}, "prior_std"),
     ({"noise_std": 1e-160}, "noise_std"), ({"noise_std": 1e160}, "noise_std"),
     ({"prior_mean": 1e200}, "prior_mean")],
)
def test_normal_scales_outside_float64_squares_are_refused(kwargs, name):
    with pytest.raises(ValueError, match=name):
        NormalKnownNoise(**kwargs)


def test_normal_extreme_but_valid_scales_give_finite_posteriors():
    for std in (1e-100, 1e100):
        model = NormalKnownNoise(prior_mean=0.0, prior_std=std, noise_std=std)
        stats = model.update(model.initial_stats(1), np.array([std]))
        with np.errstate(all="raise"):
            assert np.all(np.isfinite(model.posterior(stats))) and np.all(np.isfinite(model.predictive(stats)))


def test_beta_with_huge_concentrations_is_near_one_half():
    model = BetaBernoulli(alpha=1e100, beta=1e100)
    np.testing.assert_allclose(model.sample_task(np.random.default_rng(0), 1000), 0.5, atol=1e-9)
    assert model.prior_predictive()[0] == 0.5
    mean, std = model.posterior_moments(model.initial_stats(1))
    assert mean[0] == 0.5 and np.isfinite(std[0]) and std[0] > 0


def test_beta_refuses_concentrations_whose_sum_overflows():
    """alpha + beta = inf made the predictive 0 instead of 0.5: such priors are refused by name."""
    with pytest.raises(ValueError, match="alpha must have entries of magnitude at most 1e\\+100"):
        BetaBernoulli(alpha=1e308, beta=1e308)
    with pytest.raises(ValueError, match="beta"):
        BetaBernoulli(alpha=1.0, beta=1e101)


def test_dirichlet_accepts_float32_probability_vectors_and_renormalises():
    model = DirichletCategorical([1.0, 1.0, 1.0])
    task = model.check_task(np.array([0.2, 0.3, 0.5], dtype=np.float32))
    assert task.sum() == pytest.approx(1.0, abs=1e-15)
    with pytest.raises(ValueError, match="sum to 1"):
        model.check_task([0.2, 0.3, 0.6])
    with pytest.raises(ValueError, match="concentration"):
        DirichletCategorical([1e300, 1e300])


def test_categorical_predictive_sample_refuses_weights_that_define_no_distribution():
    model = DirichletCategorical([1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="weights"):
        model.predictive_sample(np.random.default_rng(0), np.zeros((2, 3)))
