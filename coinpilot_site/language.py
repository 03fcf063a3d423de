"""The language menu: a person picks Korean or English for the pages (and the bot's chat replies).

Signed in, the choice is saved on the user (core.UserPreference) and copied into the session, so it
follows them to another browser; before sign-in only the cookie holds it."""

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from core import i18n
from core.models import UserPreference


@login_not_required
@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    language = i18n.supported(request.POST.get("language"))
    if language is None:
        return HttpResponseBadRequest(
            gettext("Unknown language: choose one of %(codes)s.") % {"codes": ", ".join(i18n.CODES)},
            content_type="text/plain; charset=utf-8",
        )
    if request.user.is_authenticated:
        UserPreference.objects.update_or_create(user=request.user, defaults={"language": language})
        request.session[i18n.SESSION_KEY] = language
    target = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = "/"
    response = HttpResponseRedirect(target)
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )
    return response


@receiver(user_logged_in)
def remember_language(sender, request: HttpRequest | None, user, **kwargs) -> None:
    """At sign-in the saved preference goes into the session (the middleware reads it from there)."""
    language = UserPreference.language_of(user)
    if request is not None and hasattr(request, "session") and language:
        request.session[i18n.SESSION_KEY] = language
