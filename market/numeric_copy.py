"""The bot cycle's candle window read as PostgreSQL sends numerics, turned into float64 here.

Casting numeric to float8 in the query (`close::float8`) costs the server more than reading the
rows: PostgreSQL formats each numeric as text and parses it back. For the cycle's window of
100 symbols x 1,000 bars that was about half the server's time (bench/README.md, session 18). So
the window query sends the numerics as they are, in COPY BINARY, and `window_rows` decodes them with
numpy: no Python object per value.

A binary numeric is its number of base-10000 digits, the weight of the first (10000**weight), a
sign, the display scale, then the digits: its length varies by value, so rows have no fixed width.
Each row starts with its field count, 7, and the fixed-size fields after it; `window_rows` takes
every place that looks like a row's start, reads each candidate's field lengths, and accepts the
candidates only when they chain exactly from the first byte to the end marker (each row ends where
the next begins). Anything else (a value a double cannot hold exactly as an integer part, more than
8 decimals, NaN or infinity, an unexpected layout) returns None, and the caller asks the server to
cast instead.

Each value becomes the double nearest to the decimal, the same as `float(Decimal)` and PostgreSQL's
own cast: with W its integer part and F its 8 decimals as integers,
- W < 2**26: (W * 10**8 + F) / 10**8, both operands exact (below 2**53), one correctly rounded
  division;
- 2**26 <= W < 2**53: W + F / 10**8. The sum's rounding points are multiples of 2**-27; F / 10**8
  differs from every such multiple it is not equal to by at least 1 / (10**8 * 2**27) > 2**-54,
  more than the rounding error of F / 10**8 (< 2**-54), so rounding the quotient first never moves
  the sum across a rounding point: the sum rounds as the exact decimal does.
"""

import numpy as np

SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
NUMERICS = 5  # open, high, low, close, volume
FIELDS = 2 + NUMERICS  # the symbol's place (int4), the bar time (timestamptz), the numerics
MAX_DIGITS = 6  # 10000**3 .. 10000**-2: an integer part below 2**53 and 8 decimals
PREFIX = 11  # words of a row before its first numeric: count, int4 (len + 2), timestamptz (len + 4)
PADDING = PREFIX + 6 + MAX_DIGITS  # zero words after the stream: the longest read past an offset
POSITIVE, NEGATIVE = 0x0000, 0x4000
WHOLE_SCALE = np.array([0, 0, 1, 10**4, 10**8, 10**12], dtype=np.int64)  # by exponent + 2
DECIMAL_SCALE = np.array([1, 10**4, 0, 0, 0, 0], dtype=np.int64)
EXACT_SMALL = 2**26


def window_rows(data: memoryview, symbols: int) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]] | None:
    """(each row's symbol place, bar time in PostgreSQL microseconds, the 5 numerics as float64)
    of a COPY BINARY stream of (int4, timestamptz, 5 x numeric) rows; None when the stream is not
    that or a value needs the server's cast."""
    words = _words(data)
    if words is None:
        return None
    if len(words) == PADDING:  # no rows
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, [np.empty(0) for _ in range(NUMERICS)]
    rows = _rows(words, symbols)
    if rows is None:
        return None
    head, fields = rows
    position = _int(head, 3) << 16 | _int(head, 4)
    ts = _int(head, 7)
    for i in range(8, 11):
        ts = ts << 16 | _int(head, i)
    values = [_numerics(words, at) for at in fields]
    if any(v is None for v in values):
        return None
    return position, ts, values


# The words of each row are gathered at once as 16-bit blocks, then worked on one column at a time
# (an array of one value per row): on the 2-core box an int64 operation on a rows x 6 array took
# 40x as long as on one of a value per row, not 6x (it touched fresh pages).


def _words(data: memoryview) -> np.ndarray | None:
    """The stream's rows as 16-bit words (big-endian read), padded with zeros, or None for a bad
    frame."""
    size = len(SIGNATURE)
    if len(data) < size + 10 or bytes(data[:size]) != SIGNATURE or bytes(data[-2:]) != b"\xff\xff":
        return None
    header = size + 8 + int.from_bytes(data[size + 4 : size + 8], "big")  # flags, extension length
    body = len(data) - header - 2
    if body < 0 or body % 2:  # every field of these rows has an even length
        return None
    words = np.zeros(body // 2 + PADDING, dtype=np.uint16)  # the padding: no read past the end
    words[: body // 2] = np.frombuffer(data, dtype=">u2", count=body // 2, offset=header)
    return words


def _block(words: np.ndarray, at: np.ndarray, width: int) -> np.ndarray:
    """The `width` words from each offset in `at`: one gather of contiguous runs."""
    return np.lib.stride_tricks.sliding_window_view(words, width)[at]


def _int(block: np.ndarray, column: int) -> np.ndarray:
    return block[:, column].astype(np.int64)


def _rows(words: np.ndarray, symbols: int) -> tuple[np.ndarray, list[np.ndarray]] | None:
    """Each row's fixed words, and the offset of each of its numerics, when the candidates chain."""
    end = len(words) - PADDING  # the stream's words, without the padding
    starts = np.flatnonzero(words[:end] == FIELDS)
    head = _block(words, starts, PREFIX)
    looks = (head[:, 1] == 0) & (head[:, 2] == 4) & (head[:, 5] == 0) & (head[:, 6] == 8)  # lengths
    starts, head = starts[looks], head[looks]
    if len(starts) == 0 or starts[0] != 0:
        return None
    ok = (_int(head, 3) << 16 | _int(head, 4)) < symbols
    fields, at = [], starts + PREFIX
    for _ in range(NUMERICS):
        at = np.minimum(at, end)
        length = words[at + 1]  # its high word is checked with the value
        ok &= (length % 2 == 0) & (length >= 8) & (length <= 8 + 2 * MAX_DIGITS)
        fields.append(at)
        at = at + 2 + length // 2
    chained = ok.all() and (at[:-1] == starts[1:]).all() and at[-1] == end
    return (head, fields) if chained else None


def _numerics(words: np.ndarray, at: np.ndarray) -> np.ndarray | None:
    """float64 of the numeric field starting at each offset `at` (length, then count, weight,
    sign, scale, digits), or None."""
    block = _block(words, at, 6 + MAX_DIGITS)
    count, weight, sign, scale = (_int(block, i) for i in range(2, 6))
    weight = np.where(weight >= 0x8000, weight - 0x10000, weight)  # an int16
    if not (
        (block[:, 0] == 0).all()
        and (_int(block, 1) == 8 + 2 * count).all()
        and ((sign == POSITIVE) | (sign == NEGATIVE)).all()
        and (scale <= 8).all()
    ):
        return None
    whole, decimals = np.zeros(len(at), dtype=np.int64), np.zeros(len(at), dtype=np.int64)
    for k in range(int(count.max(initial=0))):
        present = count > k
        digit = np.where(present, _int(block, 6 + k), 0)
        exponent = weight - k  # of this digit, base 10000
        if ((present & ((exponent < -2) | (exponent > 3))) | (digit >= 10000)).any():
            return None
        place = np.clip(exponent + 2, 0, len(WHOLE_SCALE) - 1)
        whole += digit * WHOLE_SCALE[place]
        decimals += digit * DECIMAL_SCALE[place]
    if (whole >= 2**53).any():
        return None
    small = whole < EXACT_SMALL
    magnitude = np.where(small, (np.where(small, whole, 0) * 10**8 + decimals) / 1e8, whole + decimals / 1e8)
    return np.where(sign == NEGATIVE, -magnitude, magnitude)
