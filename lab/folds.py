"""Walk-forward folds of a date range: optimise on each in-sample part, score on the part after it.

The out-of-sample parts are consecutive, of equal length, do not overlap and end at the end of
the range, so together they form one out-of-sample history. Rolling folds keep the in-sample
length fixed (`ratio` x the out-of-sample length) and slide it forward; anchored folds all start
at the start of the range and grow. Lengths are whole 1-minute bars; the bars left over when the
range does not divide evenly go to the in-sample parts, never to a gap.
"""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils.translation import gettext

from core.formatting import number
from core.kst import kst_text

BAR = timedelta(minutes=1)
MIN_BARS_PER_PART = 1440  # a day of 1-minute bars: less says little about a strategy
DEFAULT_RATIO = 3.0  # in-sample length / out-of-sample length
MAX_FOLDS = 50
MAX_RATIO = 20.0


@dataclass(frozen=True)
class Fold:
    """One walk-forward step; every range is [start, end)."""

    index: int  # 1-based, oldest first
    in_sample_start: datetime
    in_sample_end: datetime
    out_of_sample_start: datetime
    out_of_sample_end: datetime


def _check(start: datetime, end: datetime, folds: int, ratio: float) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("the range needs times with a time zone (stored times are UTC)")
    if end <= start:
        raise ValueError(
            gettext("the range ends (%(end)s KST) before it starts (%(start)s KST)")
            % {"end": kst_text(end), "start": kst_text(start)}
        )
    check_shape(folds, ratio)


def check_shape(folds: int, ratio: float) -> None:
    """The number of folds and the ratio on their own (ValueError with the reason)."""
    if not 1 <= folds <= MAX_FOLDS:
        raise ValueError(
            gettext("the number of folds must be from 1 to %(most)s, not %(folds)s")
            % {"most": MAX_FOLDS, "folds": folds}
        )
    if not 0 < ratio <= MAX_RATIO:
        raise ValueError(
            gettext("the in-sample / out-of-sample ratio must be above 0 and at most %(most)s")
            % {"most": f"{MAX_RATIO:g}"}
        )


def walk_forward_folds(
    start: datetime,
    end: datetime,
    folds: int,
    *,
    anchored: bool = False,
    ratio: float = DEFAULT_RATIO,
    min_bars: int = MIN_BARS_PER_PART,
) -> list[Fold]:
    """`folds` walk-forward folds of [start, end), oldest first; raises ValueError with the reason
    when the range is too short for `min_bars` 1-minute bars in every part."""
    _check(start, end, folds, ratio)
    bars = (end - start) // BAR
    oos_bars = int(bars // (folds + ratio))
    is_bars = bars - folds * oos_bars  # the first in-sample part takes the left-over bars
    if min(oos_bars, is_bars) < min_bars:
        need = math.ceil((folds + ratio) * min_bars * max(1.0, 1 / ratio))  # the shorter part gets min_bars
        raise ValueError(
            gettext(
                "%(start)s to %(end)s KST holds %(bars)s one-minute bars; %(folds)s folds with an in-sample "
                "part %(ratio)s times the out-of-sample part and at least %(least)s bars in each part need "
                "%(need)s (%(days)s days)"
            )
            % {
                "start": kst_text(start),
                "end": kst_text(end),
                "bars": number(bars, 0),
                "folds": folds,
                "ratio": f"{ratio:g}",
                "least": number(min_bars, 0),
                "need": number(need, 0),
                "days": number(need / 1440, 1),
            }  # fmt: skip
        )
    first_oos = end - folds * oos_bars * BAR
    out = []
    for i in range(folds):
        oos_start = first_oos + i * oos_bars * BAR
        is_start = start if anchored else oos_start - is_bars * BAR
        out.append(Fold(i + 1, is_start, oos_start, oos_start, oos_start + oos_bars * BAR))
    return out
