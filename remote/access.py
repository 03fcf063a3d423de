"""Who may use the bot: TELEGRAM_ALLOWED_CHATS maps a chat id to a Django user, checked at start."""

import re

from django.contrib.auth import get_user_model

VARIABLE = "TELEGRAM_ALLOWED_CHATS"
USERNAME = re.compile(r"^[\w.@+-]+$")  # what Django's username validator allows
EXAMPLE = '"12345:alice,67890:bob" (chat id:Django username, comma separated)'


class AccessError(ValueError):
    """The setting is wrong; the message names the variable and how to fix it."""


def parse_allowed_chats(raw: str) -> dict[int, str]:
    """{chat id: username} from "12345:alice,67890:bob"."""
    if not raw.strip():
        raise AccessError(f"{VARIABLE} is empty: set it to {EXAMPLE}")
    chats: dict[int, str] = {}
    for item in raw.split(","):
        chat, sep, username = (part.strip() for part in item.strip().partition(":"))
        if not sep or not USERNAME.match(username) or not chat.lstrip("-").isdigit():
            raise AccessError(f"{VARIABLE}: '{item.strip()[:40]}' is not chat id:username; use {EXAMPLE}")
        if int(chat) in chats:
            raise AccessError(f"{VARIABLE}: chat {chat} is listed twice")
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
            f"{VARIABLE}: no active Django user named {', '.join(unknown)} "
            "(create it with `manage.py createsuperuser` or fix the name)"
        )
    return {chat: users[username] for chat, username in chats.items()}
