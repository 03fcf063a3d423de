"""The grounding check: every number in an answer must come from that turn's tool results or question.

Numbers are read as people write them: "1,234,567", "12.5%", "-3.2", "3건", "1,234원", "₩5,000",
"120만" (x 10,000) and "1.2억" (x 100,000,000). A number is verified when its size equals some
number found in the tool results or the question after rounding (or cutting) that number to the
precision the answer shows; a percentage may also be a ratio x 100. Signs are not compared ("a
loss of 3.2 %" is the -3.2 of the data). List markers ("1. ") are not figures and are skipped.
Everything else that matches nothing is returned as unverified, with its place in the text.
"""

import json
import re
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation

# A number not glued to a preceding letter or digit (KRW-BTC, v3, RSI14 are names, not figures).
ANSWER_NUMBER = re.compile(
    r"(?<![A-Za-z0-9.,_])(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
    r"(?P<unit>\s?(?:%|만|억))?"
)
DATA_NUMBER = re.compile(r"\d+(?:\.\d+)?")
SCALES = {"만": Decimal(10_000), "억": Decimal(100_000_000)}
HUNDRED = Decimal(100)


def known_numbers(*sources) -> set[Decimal]:
    """Every number in the given values (tool results as JSON-ready data, the question text)."""
    text = " ".join(
        s if isinstance(s, str) else json.dumps(s, ensure_ascii=False, default=str) for s in sources
    )
    return {Decimal(m) for m in DATA_NUMBER.findall(text.replace(",", ""))}


def unverified_numbers(answer: str, known: set[Decimal]) -> list[dict]:
    """The numbers of `answer` found in none of `known`: [{"text", "start", "end"}]."""
    found = []
    for match in ANSWER_NUMBER.finditer(answer):
        if _is_marker(answer, match):
            continue
        if not verified(match.group("num"), (match.group("unit") or "").strip(), known):
            found.append({"text": match.group(0).strip(), "start": match.start(), "end": match.end()})
    return found


def verified(shown: str, unit: str, known: set[Decimal]) -> bool:
    try:
        value = Decimal(shown.replace(",", ""))
    except InvalidOperation:
        return True
    places = Decimal(1).scaleb(value.as_tuple().exponent)  # 12.5 -> 0.1, 1234 -> 1
    scale = SCALES.get(unit, Decimal(1))
    candidates = [k / scale for k in known]
    if unit == "%":
        candidates += [k * HUNDRED for k in known]
    return any(_shows_as(c, value, places) for c in candidates)


def _shows_as(candidate: Decimal, value: Decimal, places: Decimal) -> bool:
    size = abs(candidate)
    try:
        return size.quantize(places, ROUND_HALF_UP) == value or size.quantize(places, ROUND_DOWN) == value
    except InvalidOperation:  # far too large for that many places: not this number
        return False


def _is_marker(answer: str, match: re.Match) -> bool:
    """ "1. " or "2) " at the start of a line: a list marker."""
    line_start = answer.rfind("\n", 0, match.start()) + 1
    after = answer[match.end("num") : match.end("num") + 2]
    return (
        not answer[line_start : match.start()].strip()
        and after[:1] in (".", ")")
        and after[1:2] in (" ", "\t")
        and len(match.group("num")) <= 2
    )
