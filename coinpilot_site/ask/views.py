"""The "Ask CoinPilot" page: a conversation with the read-only assistant (logic: coinpilot_site/ask)."""

import json
import logging
import time

from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from . import conversations, loop

log = logging.getLogger(__name__)
MAX_QUESTION_CHARS = 2000


def ask_page(request: HttpRequest) -> HttpResponse:
    conversation = conversations.conversation_of(request.user, create=False)
    refused = loop.refusal(timezone.now(), set_block=False)
    data = {
        "messages": conversations.page_messages(conversation, staff=request.user.is_staff),
        "refusal": refused[1] if refused else None,
        "urls": {"question": reverse("ask-question")},
    }
    return render(request, "coinpilot_site/ask.html", {"data": data, "refusal": data["refusal"]})


@require_POST
def ask_question(request: HttpRequest) -> HttpResponse:
    """Answer one question as newline-delimited JSON events: delta, tool, error, then done."""
    question = (request.POST.get("question") or "").strip()
    if not question or len(question) > MAX_QUESTION_CHARS:
        return JsonResponse(
            {"error": _("Ask a question of 1 to %(max)s characters.") % {"max": MAX_QUESTION_CHARS}},
            status=400,
        )
    if "\x00" in question:  # PostgreSQL text cannot hold it; refused rather than changed behind one's back
        return JsonResponse(
            {"error": _("The question contains a NUL character (\\0); remove it and ask again.")}, status=400
        )
    conversation = conversations.conversation_of(request.user)
    history = conversations.history(conversation)
    conversations.save_question(conversation, question)
    events = _answer_events(
        conversation, question, history, staff=request.user.is_staff, language=translation.get_language()
    )
    response = StreamingHttpResponse(events, content_type="application/x-ndjson; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # a reverse proxy must pass each line on at once
    return response


@require_POST
def ask_clear(request: HttpRequest) -> HttpResponse:
    conversations.clear(request.user)
    return redirect("ask")


def _answer_events(
    conversation, question: str, history: list[dict], *, staff: bool, language: str | None = None
):
    # The stream is read after the view returned: its notices and source labels in the asker's language.
    with translation.override(language or translation.get_language()):
        yield from _events(conversation, question, history, staff=staff)


def _events(conversation, question: str, history: list[dict], *, staff: bool):
    started = time.monotonic()
    answer = loop.Answer()
    run = loop.answer(question, history, timezone.now(), out=answer)
    stored = False
    try:
        try:
            while True:
                yield _line(next(run))
        except StopIteration:
            pass
        except Exception as exc:  # never a half-written stream without its end: store and say it failed
            log.exception("ask: answering failed")
            answer.status, answer.error = loop.Status.ERROR, f"{type(exc).__name__}: {exc}"[:500]
            answer.notice = _("The assistant failed (internal error); the details are in the server log.")
        if answer.status != loop.Status.OK:
            yield _line({"type": "error", "status": answer.status, "message": answer.notice})
        stored = True  # saved once, even if saving fails half-way (its tokens are stored first)
        row = conversations.save_answer(conversation, answer, _ms_since(started))
        yield _line({"type": "done", "message": conversations.as_page_data(row, staff=staff)})
    finally:
        if not stored:  # the page was closed mid-answer: keep what was said and the tokens spent
            run.close()
            answer.status = loop.Status.INTERRUPTED
            answer.notice = _("Interrupted: the page was closed before the answer ended.")
            conversations.save_answer(conversation, answer, _ms_since(started))


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _line(event: dict) -> bytes:
    return (json.dumps(event, ensure_ascii=False, default=str) + "\n").encode()
