"""Discord's message limits, and the pure functions that keep every message inside them.

Discord refuses (400) a message whose embeds break a limit, so each embed is cut before it is
queued for sending, and a burst is packed into messages of at most 10 embeds and 6000 characters
(Discord's documented limits). Discord trims leading/trailing whitespace and counts what is left.
"""

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

TITLE = 256
DESCRIPTION = 4096
FIELDS = 25
FIELD_NAME = 256
FIELD_VALUE = 1024
FOOTER = 2048
AUTHOR = 256
EMBEDS_PER_MESSAGE = 10
MESSAGE_TOTAL = 6000
ELLIPSIS = "…"
DESCRIPTION_FLOOR = 1500  # a description is never cut shorter than this to make room for fields


def cut(text: object, limit: int) -> str:
    """`text` as a trimmed string of at most `limit` characters, ending in … when it was cut."""
    text = str(text).strip()
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + ELLIPSIS


def embed_size(embed: dict) -> int:
    """The characters Discord counts towards the 6000 of a message for this embed."""
    size = len(embed.get("title", "")) + len(embed.get("description", ""))
    size += len(embed.get("footer", {}).get("text", "")) + len(embed.get("author", {}).get("name", ""))
    for field in embed.get("fields", []):
        size += len(field["name"]) + len(field["value"])
    return size


def fit_embed(embed: dict, budget: int = MESSAGE_TOTAL) -> dict:
    """A copy of `embed` with every text cut to its limit and the whole within `budget` characters.

    Over budget, the description gives way first (down to DESCRIPTION_FLOOR characters: it holds a
    report's summary), then fields are dropped from the end and a last field says how many.
    """
    embed = dict(embed)
    for key, limit in (("title", TITLE), ("description", DESCRIPTION)):
        if key in embed:
            embed[key] = cut(embed[key], limit)
            if not embed[key]:
                del embed[key]
    if "footer" in embed:
        embed["footer"] = {**embed["footer"], "text": cut(embed["footer"]["text"], FOOTER)}
    if "author" in embed:
        embed["author"] = {**embed["author"], "name": cut(embed["author"]["name"], AUTHOR)}
    fields = [_fit_field(field) for field in embed.pop("fields", [])]
    description = embed.get("description", "")
    room = budget - embed_size(embed) + len(description) - _fields_size(fields[:FIELDS])
    keep = max(room, min(len(description), DESCRIPTION_FLOOR))
    if len(description) > keep:
        embed["description"] = cut(description, keep)
    fields = _fields_within(fields, budget - embed_size(embed))
    if fields:
        embed["fields"] = fields
    return embed


def _fields_within(fields: list[dict], room: int) -> list[dict]:
    """The leading fields that fit in `room` characters and 25 fields; a last one counts the rest."""
    for kept in range(min(len(fields), FIELDS), -1, -1):
        dropped = len(fields) - kept
        chosen = fields[:kept] + ([_omitted(dropped)] if dropped else [])
        if len(chosen) <= FIELDS and _fields_size(chosen) <= room:
            return chosen
    return []


def _fields_size(fields: list[dict]) -> int:
    return sum(len(field["name"]) + len(field["value"]) for field in fields)


def pack(embeds: list[dict]) -> int:
    """How many of the leading `embeds` fit in one message (at least 1: each is within 6000)."""
    total = 0
    for count, embed in enumerate(embeds[:EMBEDS_PER_MESSAGE]):
        total += embed_size(embed)
        if total > MESSAGE_TOTAL:
            return max(count, 1)
    return min(len(embeds), EMBEDS_PER_MESSAGE)


def _fit_field(field: dict) -> dict:
    fitted = {
        "name": cut(field.get("name", ""), FIELD_NAME) or "-",
        "value": cut(field.get("value", ""), FIELD_VALUE) or "-",  # Discord refuses an empty value
    }
    if field.get("inline"):
        fitted["inline"] = True
    return fitted


def _omitted(count: int) -> dict:
    return {
        "name": _("Omitted"),
        "value": ngettext(
            "%(count)s more field left out to fit Discord's limits",
            "%(count)s more fields left out to fit Discord's limits",
            count,
        )
        % {"count": count},
    }
