"""Walk-forward folds: consecutive out-of-sample parts ending at the end of the range, rolling or
anchored in-sample parts before each, and a clear refusal when the range is too short."""

from datetime import UTC, datetime, timedelta

import pytest

from lab.folds import BAR, walk_forward_folds

START = datetime(2026, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)


def test_rolling_folds_slide_a_fixed_in_sample_part_before_each_out_of_sample_part():
    folds = walk_forward_folds(START, START + 70 * DAY, 4, ratio=3.0)
    assert [f.index for f in folds] == [1, 2, 3, 4]
    assert {f.out_of_sample_end - f.out_of_sample_start for f in folds} == {10 * DAY}
    assert {f.in_sample_end - f.in_sample_start for f in folds} == {30 * DAY}
    assert folds[0].in_sample_start == START
    assert folds[-1].out_of_sample_end == START + 70 * DAY


def test_out_of_sample_parts_are_consecutive_and_follow_their_in_sample_part():
    for anchored in (False, True):
        folds = walk_forward_folds(
            START, START + 45 * DAY + timedelta(minutes=7), 5, anchored=anchored, ratio=2
        )
        for f in folds:
            assert f.in_sample_start < f.in_sample_end == f.out_of_sample_start < f.out_of_sample_end
            assert f.in_sample_start >= START
        for before, after in zip(folds, folds[1:], strict=False):
            assert before.out_of_sample_end == after.out_of_sample_start
        assert folds[-1].out_of_sample_end == START + 45 * DAY + timedelta(minutes=7)


def test_anchored_folds_all_start_at_the_start_and_grow():
    folds = walk_forward_folds(START, START + 60 * DAY, 3, anchored=True, ratio=3.0)
    assert {f.in_sample_start for f in folds} == {START}
    lengths = [f.in_sample_end - f.in_sample_start for f in folds]
    assert lengths == sorted(lengths) and lengths[0] == 3 * (
        folds[0].out_of_sample_end - folds[0].out_of_sample_start
    )


def test_parts_are_whole_minutes_and_left_over_bars_go_to_the_in_sample_part():
    folds = walk_forward_folds(START, START + 10 * DAY + timedelta(minutes=3), 3, ratio=1.5, min_bars=60)
    total = (10 * DAY + timedelta(minutes=3)) // BAR
    oos = (folds[0].out_of_sample_end - folds[0].out_of_sample_start) // BAR
    assert oos == int(total // 4.5)
    assert (folds[0].in_sample_end - folds[0].in_sample_start) // BAR == total - 3 * oos
    for f in folds:
        assert (f.out_of_sample_start - START) % BAR == timedelta(0)


def test_one_fold_is_a_plain_in_sample_out_of_sample_split():
    (fold,) = walk_forward_folds(START, START + 4 * DAY, 1, ratio=3.0)
    assert (fold.in_sample_start, fold.out_of_sample_start, fold.out_of_sample_end) == (
        START, START + 3 * DAY, START + 4 * DAY,
    )  # fmt: skip


def test_a_range_too_short_for_the_folds_says_how_long_it_must_be():
    message = (
        "2026-01-01 09:00 to 2026-01-11 09:00 KST holds 14,400 one-minute bars; 5 folds with an "
        "in-sample part 3 times the out-of-sample part and at least 2,880 bars in each part need "
        "23,040 (16.0 days)"
    )
    with pytest.raises(ValueError) as refusal:
        walk_forward_folds(START, START + 10 * DAY, 5, ratio=3.0, min_bars=2880)
    assert str(refusal.value) == message


def test_the_stated_minimum_length_is_enough():
    with pytest.raises(ValueError, match="need 23,040"):
        walk_forward_folds(START, START + 15 * DAY, 5, ratio=3.0, min_bars=2880)
    folds = walk_forward_folds(START, START + 23_040 * BAR, 5, ratio=3.0, min_bars=2880)
    assert len(folds) == 5
    for ratio in (0.5, 0.3):  # a short in-sample part is the one that needs the minimum
        with pytest.raises(ValueError, match="need") as refusal:
            walk_forward_folds(START, START + DAY, 4, ratio=ratio, min_bars=600)
        need = int(str(refusal.value).split("need ")[1].split(" ")[0].replace(",", ""))
        assert len(walk_forward_folds(START, START + need * BAR, 4, ratio=ratio, min_bars=600)) == 4


@pytest.mark.parametrize(
    ("start", "end", "folds", "ratio", "message"),
    [
        (START, START + 30 * DAY, 0, 3.0, "number of folds must be from 1"),
        (START, START - DAY, 2, 3.0, "ends .* before it starts"),
        (START, START + 30 * DAY, 2, 0, "ratio must be above 0"),
        (START.replace(tzinfo=None), START + DAY, 2, 3.0, "time zone"),
    ],
)
def test_bad_input_is_refused(start, end, folds, ratio, message):
    with pytest.raises(ValueError, match=message):
        walk_forward_folds(start, end, folds, ratio=ratio)
