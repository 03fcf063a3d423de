"""Who may use the bot: TELEGRAM_ALLOWED_CHATS maps a chat id to a Django user, checked at start;
and in which language the bot answers that user."""

import re

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import translation
from django.utils.translation import gettext as _

from core.models import UserPreference

VARIABLE = "TELEGRAM_ALLOWED_CHATS"
USERNAME = re.compile(r"^[\w.@+-]+$")  # what Django's username validator allows
EXAMPLE = '"12345:alice,67890:bob"'


class AccessError(ValueError):
    """The setting is wrong; the message names the variable and how to fix it."""


def parse_allowed_chats(raw: str) -> dict[int, str]:
    """{chat id: username} from "12345:alice,67890:bob"."""
    if not raw.strip():
        raise AccessError(_("%(variable)s is empty: set it to %(example)s") % _example())
    chats: dict[int, str] = {}
    for item in raw.split(","):
        chat, sep, username = (part.strip() for part in item.strip().partition(":"))
        if not sep or not USERNAME.match(username) or not chat.lstrip("-").isdigit():
            raise AccessError(
                _("%(variable)s: '%(item)s' is not chat id:username; use %(example)s")
                % {**_example(), "item": item.strip()[:40]}
            )
        if int(chat) in chats:
            raise AccessError(
                _("%(variable)s: chat %(chat)s is listed twice") % {"variable": VARIABLE, "chat": chat}
            )
        chats[int(chat)] = username
    return chats


def resolve_users(chats: dict[int, str]) -> dict[int, int]:
    """{chat id: user pk}; every username must be an active Django user."""
    users = dict(
        get_user_model()
        .objects.filter(username__in=set(chats.values()), is_active=True)
        .values_list("username", "pk")
    )
    unknown = sorted(set(chats.values()) - set(users))
    if unknown:
        raise AccessError(
            _(
                "%(variable)s: no active Django user named %(names)s "
                "(create it with `manage.py createsuperuser` or fix the name)"
            )
            % {"variable": VARIABLE, "names": ", ".join(unknown)}
        )
    return {chat: users[username] for chat, username in chats.items()}


def _example() -> dict:
    # Translators: how TELEGRAM_ALLOWED_CHATS is written; %(value)s is an example value.
    return {
        "variable": VARIABLE,
        "example": _("%(value)s (chat id:Django username, comma separated)") % {"value": EXAMPLE},
    }


def language_for(user_pk: int | None) -> str:
    """The language the bot answers this user in: their saved preference, else the alerts' language."""
    user = get_user_model().objects.filter(pk=user_pk).first() if user_pk is not None else None
    return (user and UserPreference.language_of(user)) or settings.ALERT_LANGUAGE


def speaking_to(user_pk: int | None) -> translation.override:
    """`with speaking_to(pk):` composes a reply in that user's language."""
    return translation.override(language_for(user_pk))
