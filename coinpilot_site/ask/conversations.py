"""Each operator's conversation: its messages, the history the model sees, storing an answer, clearing.

These are the only writes of "Ask CoinPilot", all to its own tables (ask_*). An answer's tokens
are also kept in ChatUsage, which survives clearing: the day's AI budget counts them.
"""

from django.utils import timezone

from agents import costs, guardrails
from agents.models import ChatMessage, ChatUsage, Conversation
from core.kst import kst_text

from .loop import Answer, without_nul

HISTORY_MESSAGES = 10  # earlier messages the model sees (text only)
PAGE_MESSAGES = 100


def conversation_of(user, *, create: bool = True) -> Conversation | None:
    """The user's conversation (created when asked to and missing)."""
    conversation = Conversation.objects.filter(user=user).order_by("-pk").first()
    return conversation or (Conversation.objects.create(user=user) if create else None)


def history(conversation: Conversation) -> list[dict]:
    """The last messages as alternating user/assistant turns starting with a user turn (text only)."""
    rows = list(conversation.messages.order_by("-created_at", "-pk")[:HISTORY_MESSAGES])[::-1]
    turns: list[dict] = []
    for row in rows:
        text = row.text or "(no answer)"
        if turns and turns[-1]["role"] == row.role:
            turns[-1]["content"] += "\n\n" + text
        elif turns or row.role == ChatMessage.Role.USER:
            turns.append({"role": row.role, "content": text})
    if turns and turns[-1]["role"] == ChatMessage.Role.USER:
        turns.append({"role": "assistant", "content": "(no answer)"})
    return turns


def save_question(conversation: Conversation, text: str) -> ChatMessage:
    return ChatMessage.objects.create(conversation=conversation, role=ChatMessage.Role.USER, text=text)


def save_answer(conversation: Conversation, answer: Answer, latency_ms: int) -> ChatMessage:
    """Store the answer (whatever ended it) and its tokens; past the day's budget, block the AI.

    The tokens are stored first, on their own: they count toward the budget even if the message
    cannot be stored. NUL characters (PostgreSQL text cannot hold them) are dropped."""
    if answer.input_tokens or answer.output_tokens:
        ChatUsage.objects.create(input_tokens=answer.input_tokens, output_tokens=answer.output_tokens)
        if costs.over_budget(timezone.now()):
            guardrails.set_block(guardrails.BUDGET)
    row = ChatMessage.objects.create(
        conversation=conversation,
        role=ChatMessage.Role.ASSISTANT,
        text=without_nul(answer.full_text),
        sources=without_nul(answer.sources),
        unverified=without_nul(answer.unverified),
        tool_calls=without_nul(answer.tool_calls),
        input_tokens=answer.input_tokens,
        output_tokens=answer.output_tokens,
        model_used=answer.model,
        status=answer.status,
        error=without_nul(answer.error),
        latency_ms=latency_ms,
    )
    conversation.save(update_fields=["updated_at"])
    return row


def clear(user) -> int:
    """Delete `user`'s messages (only his); returns how many."""
    deleted, _ = ChatMessage.objects.filter(conversation__user=user).delete()
    return deleted


def as_page_data(row: ChatMessage, *, staff: bool) -> dict:
    """One message for the page (admin links only for staff)."""
    return {
        "id": row.pk,
        "role": row.role,
        "text": row.text,
        "status": row.status,
        "sources": [s for s in row.sources if staff or not s.get("admin")],
        "unverified": row.unverified,
        "tool_calls": [{"name": c["name"], "rows": c["rows"], "error": c["error"]} for c in row.tool_calls],
        "at": kst_text(row.created_at),
    }


def page_messages(conversation: Conversation | None, *, staff: bool) -> list[dict]:
    if conversation is None:
        return []
    rows = list(conversation.messages.order_by("-created_at", "-pk")[:PAGE_MESSAGES])[::-1]
    return [as_page_data(row, staff=staff) for row in rows]
