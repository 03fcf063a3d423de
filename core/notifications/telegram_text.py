"""An alert's Discord embed as one Telegram HTML message (pure: embed in, text out).

The same embed the Discord message carries (embeds.render), so both channels say the same thing.
Payload text is HTML-escaped (Telegram's HTML mode knows &lt; &gt; &amp;), so a `<` in a reason
never breaks the message. Telegram refuses a message over 4,096 characters: a longer one is cut,
the footer (event and time) kept, with a note that it was cut.
"""

from html import escape

from django.utils.translation import gettext as _

TEXT_LIMIT = 4096  # Telegram's limit of one message


def render(embed: dict) -> str:
    """Title in bold, the description, one line per field, the footer in italics; within 4,096."""
    blocks: list[tuple[str, str, str]] = [("<b>", str(embed.get("title") or _("Alert")), "</b>")]
    if embed.get("description"):
        blocks.append(("", str(embed["description"]), ""))
    for field in embed.get("fields") or []:
        value = str(field.get("value", ""))
        blocks.append(
            (f"<b>{_esc(field.get('name', ''))}</b>:" + ("\n" if "\n" in value else " "), value, "")
        )
    footer = "<i>" + _esc((embed.get("footer") or {}).get("text", "")) + "</i>"
    full = "\n".join(prefix + _esc(text) + suffix for prefix, text, suffix in blocks) + "\n\n" + footer
    if len(full) <= TEXT_LIMIT:
        return full
    cut_note = (
        "\n<i>"
        + _esc(_("(cut to fit Telegram's 4,096 characters; the full text is in Discord or the dashboard)"))
        + "</i>"
    )
    room = TEXT_LIMIT - len(cut_note) - len("\n\n" + footer)
    lines: list[str] = []
    for prefix, text, suffix in blocks:
        left = room - len("\n".join(lines)) - (1 if lines else 0)
        line = prefix + _esc(text) + suffix
        if len(line) <= left:
            lines.append(line)
            continue
        cut = _cut_escaped(text, left - len(prefix) - len(suffix))
        if cut:
            lines.append(prefix + cut + suffix)
        break
    return "\n".join(lines) + cut_note + "\n\n" + footer


def _esc(text: object) -> str:
    return escape(str(text), quote=False)


def _cut_escaped(text: str, room: int) -> str:
    """The longest escaped start of `text` within `room` characters, ending in … ("" if none fits)."""
    if room < 2:
        return ""
    end = room - 1
    while end > 0 and len(_esc(text[:end])) > room - 1:
        end -= max(1, (len(_esc(text[:end])) - (room - 1)) // 5)  # escaping grows a character to <= 5
    return _esc(text[:end].rstrip()) + "…" if end > 0 else ""
