"""Overfitting statistics of an optimisation: PBO by CSCV, and the Deflated Sharpe Ratio.

Pure functions over numpy arrays, from the papers (docs/lab.md has the formulas and citations):

- Bailey, Borwein, López de Prado & Zhu, "The Probability of Backtest Overfitting" (2017):
  `probability_of_backtest_overfitting` on a T x N matrix of per-period returns of N trials.
- Bailey & López de Prado, "The Deflated Sharpe Ratio" (2014): `deflated_sharpe_ratio` of the
  selected trial's returns, given every trial's Sharpe ratio.

Sharpe ratios here are per period and not annualised (mean / standard deviation of the returns
as given, e.g. daily), as in both papers: the sample length T enters the formulas separately.
A statistic that cannot be computed raises `NotApplicable`, whose message starts with "n/a:".
"""

import math
from collections.abc import Callable
from dataclasses import dataclass
from itertools import combinations

import numpy as np
from django.utils.translation import gettext_noop

# Stored with a study's report in English; the page translates them (lab.wording).
PBO_EXPLAINED = gettext_noop(
    "PBO: how often the configuration that looked best in-sample ranked below the median out of "
    "sample; above 0.5 means the optimisation picked noise."
)
DSR_EXPLAINED = gettext_noop(
    "Deflated Sharpe: the probability that the best Sharpe ratio is really above zero, after "
    "allowing for how many configurations were tried and for fat tails; below 0.95 it may be luck."
)
DEGRADATION_EXPLAINED = gettext_noop(
    "Degradation: how much of the in-sample performance of the chosen configuration survives out "
    "of sample (slope 1 keeps all of it, 0 or below keeps none)."
)
LOSS_EXPLAINED = gettext_noop(
    "Probability of loss: how often the chosen configuration lost money out of sample."
)

DEFAULT_BLOCKS = 16
SIGNIFICANT_DSR = 0.95  # the usual 5 % level of a one-sided test
EULER_GAMMA = 0.5772156649015329
FLAT = 1e-6  # std / |mean| below which returns count as constant


class NotApplicable(ValueError):
    """A statistic that cannot be computed from this input; the message says why ("n/a: ...")."""

    def __init__(self, reason: str):
        super().__init__(f"n/a: {reason}")


@dataclass(frozen=True)
class PBOResult:
    """CSCV over every split of the blocks in two halves: one row per split in the arrays."""

    pbo: float  # share of splits whose logit is <= 0
    logits: np.ndarray  # lambda per split: the in-sample best's out-of-sample relative rank, as a logit
    in_sample: np.ndarray  # the in-sample best's performance in-sample, per split
    out_of_sample: np.ndarray  # ... and out of sample, per split
    degradation_slope: float | None  # least squares: out_of_sample = intercept + slope x in_sample
    degradation_intercept: float | None
    probability_of_loss: float  # share of splits whose out-of-sample performance is below 0
    blocks: int
    periods: int  # T used (a multiple of the blocks; the oldest left-over periods are dropped)
    trials: int

    def logit_histogram(self, bins: int = 20) -> tuple[list[int], list[float]]:
        """(counts, bin edges) of the logits, for the page's histogram."""
        counts, edges = np.histogram(self.logits[np.isfinite(self.logits)], bins=bins)
        return counts.tolist(), edges.tolist()


def _check_matrix(returns, blocks: int) -> np.ndarray:
    m = np.asarray(returns, dtype=np.float64)
    if m.ndim != 2:
        raise ValueError("returns must be a matrix: one row per period, one column per trial")
    if blocks < 2 or blocks % 2:
        raise ValueError(f"the number of blocks must be even and at least 2, not {blocks}")
    periods, trials = m.shape
    if trials < 2:
        raise NotApplicable(f"only {trials} trial; overfitting needs at least 2 to choose from")
    if periods < blocks:
        raise NotApplicable(f"only {periods} periods for {blocks} blocks (at least one period per block)")
    if periods // blocks * blocks // 2 < 2:
        raise NotApplicable(f"only {periods} periods: each half needs at least 2 for a Sharpe ratio")
    if not np.isfinite(m).all():
        raise ValueError("returns hold a missing or infinite value; use 0 for a period without trades")
    return m[periods % blocks :]  # equal blocks; the oldest periods are dropped


def _sharpe_of_splits(m: np.ndarray, blocks: int, chosen: np.ndarray) -> np.ndarray:
    """Per-period Sharpe ratio of every trial on the union of the chosen blocks (splits x trials),
    from per-block sums: no pass over the returns per split. Raw sums, not centred ones, so a half
    without a trade (all zeros) gives exactly 0 and ties with every other such half."""
    parts = m.reshape(blocks, -1, m.shape[1])
    n = chosen.sum(axis=1, keepdims=True) * parts.shape[1]
    total, squares = chosen @ parts.sum(axis=1), chosen @ (parts * parts).sum(axis=1)
    var = np.maximum(squares - total * total / n, 0.0) / (n - 1)
    return _sharpe_from_moments(total / n, np.sqrt(var))


def _sharpe_from_moments(mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """mean / std, with returns that never vary: 0 when flat, +-inf when always up or down."""
    mean, std = np.broadcast_arrays(np.asarray(mean, dtype=np.float64), np.asarray(std, dtype=np.float64))
    # A constant return leaves a rounding residue of ~1e-8 x itself in the sums' variance; a real
    # series with std below 1e-6 x its mean (a Sharpe ratio of a million per period) does not exist.
    flat = (std <= FLAT * np.abs(mean)) & (mean != 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(flat, np.sign(mean) * np.inf, np.where(std == 0, 0.0, mean / std))


def _relative_ranks(best: np.ndarray, out_of_sample: np.ndarray) -> np.ndarray:
    """Per split, the out-of-sample rank of the in-sample best divided by N + 1 (in (0, 1)).

    Ties share their average rank. Several trials tied for best in-sample are equally likely
    picks, so their ranks are averaged rather than favouring the first column."""
    # scipy is imported here and below, not at the top: scipy.stats takes seconds to import, and
    # every process that loads the URLs imports this module (through the Lab's views)
    from scipy.stats import rankdata

    ranks = rankdata(out_of_sample, method="average", axis=1)  # 1..N
    return (ranks * best).sum(axis=1) / best.sum(axis=1) / (out_of_sample.shape[1] + 1)


def _chosen(best: np.ndarray, in_sample: np.ndarray, out_of_sample: np.ndarray) -> tuple:
    """The in-sample best's performance in and out of sample (the mean over tied bests)."""
    with np.errstate(invalid="ignore"):
        oos = np.where(best, out_of_sample, 0.0).sum(axis=1) / best.sum(axis=1)
    return in_sample.max(axis=1), oos


def _degradation(in_sample: np.ndarray, out_of_sample: np.ndarray) -> tuple[float | None, float | None]:
    ok = np.isfinite(in_sample) & np.isfinite(out_of_sample)
    x, y = in_sample[ok], out_of_sample[ok]
    if len(x) < 2 or np.ptp(x) == 0:
        return None, None
    slope, intercept = np.polyfit(x, y, 1)
    return float(slope), float(intercept)


def probability_of_backtest_overfitting(
    returns: np.ndarray,
    blocks: int = DEFAULT_BLOCKS,
    metric: Callable[[np.ndarray], np.ndarray] | None = None,
) -> PBOResult:
    """PBO by combinatorially symmetric cross-validation of a T x N matrix of per-period returns.

    The T periods are cut into `blocks` (S, even) equal blocks; every choice of S/2 blocks is an
    in-sample set and the other half its out-of-sample set. `metric` maps a periods x trials
    matrix to one figure per trial (higher is better); the default is the per-period Sharpe
    ratio, not annualised. Raises NotApplicable when T < S or N < 2."""
    m = _check_matrix(returns, blocks)
    splits = np.array([[b in half for b in range(blocks)] for half in _halves(blocks)], dtype=np.float64)
    if metric is None:
        in_sample = _sharpe_of_splits(m, blocks, splits)
        out_of_sample = _sharpe_of_splits(m, blocks, 1.0 - splits)
    else:
        in_sample, out_of_sample = _metric_of_splits(m, blocks, splits > 0, metric)
    best = in_sample == in_sample.max(axis=1, keepdims=True)
    ranks = _relative_ranks(best, out_of_sample)
    logits = np.log(ranks / (1 - ranks))
    chosen_is, chosen_oos = _chosen(best, in_sample, out_of_sample)
    slope, intercept = _degradation(chosen_is, chosen_oos)
    return PBOResult(
        pbo=float(np.mean(logits <= 0)),
        logits=logits,
        in_sample=chosen_is,
        out_of_sample=chosen_oos,
        degradation_slope=slope,
        degradation_intercept=intercept,
        probability_of_loss=float(np.mean(chosen_oos < 0)),
        blocks=blocks,
        periods=m.shape[0],
        trials=m.shape[1],
    )


def _halves(blocks: int):
    """Every set of S/2 block indices (C(S, S/2) of them: 12,870 for 16 blocks)."""
    return combinations(range(blocks), blocks // 2)


def _metric_of_splits(m, blocks, splits, metric) -> tuple[np.ndarray, np.ndarray]:
    """A caller's metric on each half; one call per half (the blocks keep their time order)."""
    parts = m.reshape(blocks, -1, m.shape[1])
    figures = [
        [metric(parts[mask].reshape(-1, m.shape[1])), metric(parts[~mask].reshape(-1, m.shape[1]))]
        for mask in splits
    ]
    values = np.asarray(figures, dtype=np.float64)
    values[np.isnan(values)] = -np.inf  # a figure that cannot be computed ranks last
    return values[:, 0], values[:, 1]


def sharpe_ratio(returns: np.ndarray) -> float:
    """Per-period Sharpe ratio (mean / sample standard deviation), not annualised."""
    r = np.asarray(returns, dtype=np.float64)
    if len(r) < 2:
        raise NotApplicable(f"only {len(r)} period; a Sharpe ratio needs at least 2")
    return float(_sharpe_from_moments(r.mean(), r.std(ddof=1)))


def expected_max_sharpe(trials: int, variance: float) -> float:
    """E[max] of `trials` Sharpe ratios whose true value is 0 and whose estimates vary with
    `variance` (the DSR paper's approximation through the Gumbel distribution of maxima)."""
    if trials < 1:
        raise ValueError("the number of trials must be at least 1")
    if trials == 1:
        return 0.0  # nothing was selected: the benchmark is the null itself
    from scipy.special import ndtri  # here, as rankdata above

    first = (1 - EULER_GAMMA) * ndtri(1 - 1 / trials)
    second = EULER_GAMMA * ndtri(1 - 1 / (trials * math.e))
    return float(math.sqrt(max(variance, 0.0)) * (first + second))


def probabilistic_sharpe_ratio(
    sharpe: float, benchmark: float, periods: int, skewness: float, kurtosis: float
) -> float:
    """P(true Sharpe > benchmark) given an estimate from `periods` returns with this skewness and
    (non-excess, normal = 3) kurtosis; all Sharpe ratios per period, not annualised."""
    if periods < 2:
        raise NotApplicable(f"only {periods} period; the test needs at least 2")
    spread = 1 - skewness * sharpe + (kurtosis - 1) / 4 * sharpe**2
    if spread <= 0:
        raise NotApplicable("the returns' skewness and kurtosis leave the Sharpe ratio's variance undefined")
    from scipy.special import ndtr  # here, as rankdata above

    return float(ndtr((sharpe - benchmark) * math.sqrt(periods - 1) / math.sqrt(spread)))


@dataclass(frozen=True)
class DeflatedSharpe:
    dsr: float  # P(true Sharpe > expected_max_sharpe)
    sharpe: float  # the selected trial's per-period Sharpe ratio
    expected_max_sharpe: float  # what the best of `trials` useless configurations would show
    trials: int
    sharpe_variance: float  # of the trials' Sharpe ratios
    periods: int
    skewness: float
    kurtosis: float  # non-excess (normal = 3)

    @property
    def significant(self) -> bool:
        return self.dsr >= SIGNIFICANT_DSR


def moments(returns: np.ndarray) -> tuple[float, float]:
    """Skewness and non-excess kurtosis of the returns (population moments, as in the paper)."""
    r = np.asarray(returns, dtype=np.float64)
    d = r - r.mean()
    m2 = np.mean(d**2)
    return float(np.mean(d**3) / m2**1.5), float(np.mean(d**4) / m2**2)


def deflated_sharpe_ratio(
    returns: np.ndarray, trial_sharpes: np.ndarray, trials: int | None = None
) -> DeflatedSharpe:
    """DSR of the selected trial's per-period `returns`, given every trial's per-period Sharpe
    ratio (the selected one included). `trials`: how many were tried, when more than were kept."""
    r = np.asarray(returns, dtype=np.float64)
    sharpes = np.asarray(trial_sharpes, dtype=np.float64)
    sharpes = sharpes[np.isfinite(sharpes)]
    n = trials or len(sharpes)
    if len(r) < 2 or not np.isfinite(r).all():
        raise NotApplicable(f"only {len(r)} periods with a return" if len(r) < 2 else "a return is missing")
    if np.std(r) == 0:
        raise NotApplicable("the returns never vary, so their Sharpe ratio is not a number")
    if n < len(sharpes):
        raise ValueError(f"{len(sharpes)} trial Sharpe ratios given but only {n} trials")
    sharpe = sharpe_ratio(r)
    variance = float(np.var(sharpes, ddof=1)) if len(sharpes) > 1 else 0.0
    benchmark = expected_max_sharpe(n, variance)
    skewness, kurtosis = moments(r)
    dsr = probabilistic_sharpe_ratio(sharpe, benchmark, len(r), skewness, kurtosis)
    return DeflatedSharpe(dsr, sharpe, benchmark, n, variance, len(r), skewness, kurtosis)
