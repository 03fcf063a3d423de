"""Korean and English are complete: no template shows unmarked English, and every marked string has a
Korean translation in locale/ko that is neither missing nor fuzzy."""

import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.template.base import Lexer, TokenType

import dev

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = sorted(
    path
    for pattern in ("templates/**/*.html", "*/templates/**/*.html")
    for path in ROOT.glob(pattern)
    if ".venv" not in path.parts
)
# Words that read the same in both languages: names, tickers, units, technical abbreviations.
SAME_IN_EVERY_LANGUAGE = {
    "CoinPilot", "Upbit", "Discord", "Telegram", "Prometheus", "Grafana", "Sentry", "Django", "RQ",
    "KRW", "USD", "KST", "UTC", "RSI", "ATR", "MA", "GARCH", "AI", "API", "CSV", "JSON", "ID", "OK",
    "BTC", "ETH", "XRP", "MDD", "PnL", "TA", "OpenAPI",
}  # fmt: skip
CODE = re.compile(r"^[A-Z][A-Z0-9_]*(-[A-Z0-9]+)*$")  # tickers and stored codes: KRW-BTC, TAKE_PROFIT
VISIBLE_ATTRIBUTES = {"title", "placeholder", "aria-label", "alt"}
NOT_PROSE = ("script", "style", "code", "kbd")  # code and commands read the same in every language
HOLE = "\x00"  # where a template variable or tag was: never a word


def skeleton(source: str) -> str:
    """The template's literal text, each variable/tag replaced by HOLE and translated or commented
    blocks removed: what is left is text a person would see untranslated."""
    parts, skipping = [], None
    for token in Lexer(source).tokenize():
        content = token.contents.split()[0] if token.token_type == TokenType.BLOCK and token.contents else ""
        if skipping:
            if content == skipping:
                skipping = None
            continue
        if content in ("blocktranslate", "blocktrans", "comment", "verbatim"):
            skipping = {"blocktranslate": "endblocktranslate", "blocktrans": "endblocktrans"}.get(
                content, f"end{content}"
            )
            parts.append(HOLE)
        elif token.token_type == TokenType.TEXT:
            parts.append(token.contents)
        else:
            parts.append(HOLE)
    return "".join(parts)


class VisibleText(HTMLParser):
    """Collects the text and the visible attributes of an HTML page, not its scripts, styles and code."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[int, str]] = []
        self._hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in NOT_PROSE:
            self._hidden += 1
        for name, value in attrs:
            if value and (name in VISIBLE_ATTRIBUTES or (name == "value" and ("type", "submit") in attrs)):
                self.found.append((self.getpos()[0], value))

    def handle_endtag(self, tag):
        if tag in NOT_PROSE:
            self._hidden = max(0, self._hidden - 1)

    def handle_data(self, data):
        if not self._hidden:
            self.found.append((self.getpos()[0], data))


def untranslated_words(source: str) -> list[str]:
    parser = VisibleText()
    parser.feed(skeleton(source))
    parser.close()
    problems = []
    for line, text in parser.found:
        words = [
            word
            for word in re.findall(r"[A-Za-z][A-Za-z'-]+", text.replace(HOLE, " "))
            if word not in SAME_IN_EVERY_LANGUAGE and not CODE.match(word)
        ]
        if words:
            problems.append(f"line ~{line}: {' '.join(text.replace(HOLE, '…').split())[:80]!r}")
    return problems


@pytest.mark.parametrize("path", TEMPLATES, ids=[str(p.relative_to(ROOT)) for p in TEMPLATES])
def test_template_has_no_unmarked_text(path):
    problems = untranslated_words(path.read_text(encoding="utf-8"))
    assert not problems, (
        f"{path.relative_to(ROOT)} shows English that is not marked for translation:\n" + "\n".join(problems)
    )


def test_the_check_sees_unmarked_text_and_accepts_marked_text():
    assert untranslated_words('<h1>Open positions <small title="Latest price">{{ n }}</small></h1>') == [
        "line ~1: 'Open positions'",
        "line ~1: 'Latest price'",
    ]
    marked = (
        '{% load i18n %}<h1>{% translate "Open positions" %} '
        '<small title="{% translate "Latest" %}">KRW</small></h1>'
        "{% blocktranslate trimmed count n=3 %}One trade{% plural %}{{ n }} trades{% endblocktranslate %}"
        "<script>const x = 'not shown';</script>{# a comment #}{% comment %}Nor this{% endcomment %}"
        "<code>manage.py run_scheduler</code>"
    )
    assert untranslated_words(marked) == []


@pytest.fixture(scope="module")
def extracted(tmp_path_factory) -> Path:
    """The catalogs makemessages makes from today's code, in a copy of the repository (the committed
    locale/ is the translated one to compare with)."""
    copy = tmp_path_factory.mktemp("i18n") / "repo"
    ignore = shutil.ignore_patterns(*dev.I18N_IGNORE, ".git", "locale", "__pycache__", "*.png", "data")
    shutil.copytree(ROOT, copy, ignore=ignore)
    (copy / "locale" / "ko" / "LC_MESSAGES").mkdir(parents=True)
    dev.make_messages(root=copy)
    return copy / "locale" / "ko" / "LC_MESSAGES"


def gettext_tool(*args: str) -> str:
    result = subprocess.run(args, capture_output=True, text=True)
    assert result.returncode == 0, f"{args[0]}: {result.stderr}"
    return result.stdout


@pytest.mark.parametrize("domain", dev.I18N_DOMAINS)
def test_every_marked_string_has_a_korean_translation(extracted, domain, tmp_path):
    """Today's strings merged into the committed catalog: none may be left untranslated or fuzzy."""
    reference = extracted / f"{domain}.po"
    if not reference.exists():
        pytest.fail(f"nothing marked for the {domain} domain")
    committed = ROOT / "locale" / "ko" / "LC_MESSAGES" / f"{domain}.po"
    assert committed.exists(), f"{committed.relative_to(ROOT)} is missing: run `python3 dev.py messages`"
    merged = tmp_path / "merged.po"
    gettext_tool(
        "msgmerge", "--quiet", "--no-fuzzy-matching", "-o", str(merged), str(committed), str(reference)
    )
    missing = gettext_tool("msgattrib", "--untranslated", "--no-obsolete", str(merged))
    fuzzy = gettext_tool("msgattrib", "--only-fuzzy", "--no-obsolete", str(merged))
    problems = [
        f"{kind}: {line[6:]}"
        for kind, text in (("no Korean", missing), ("fuzzy", fuzzy))
        for line in text.splitlines()
        if line.startswith("msgid ") and line != 'msgid ""'
    ]
    assert not problems, (
        f"locale/ko/LC_MESSAGES/{domain}.po: {len(problems)} strings need a translator "
        "(run `python3 dev.py messages`, translate, remove the fuzzy flags):\n" + "\n".join(problems[:60])
    )


def test_the_catalogs_are_well_formed():
    for path in sorted((ROOT / "locale").glob("*/LC_MESSAGES/*.po")):
        result = subprocess.run(
            ["msgfmt", "--check", "-o", "/dev/null", str(path)], capture_output=True, text=True
        )
        assert result.returncode == 0, f"{path.relative_to(ROOT)}: {result.stderr}"
