"""API tokens in the admin: created here, the plain token shown once, then only its hash kept."""

from django import forms
from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from . import tokens
from .auth import CONTROL_PERMISSION
from .models import AccessToken


class NewTokenForm(forms.ModelForm):
    class Meta:
        model = AccessToken
        fields = ["user", "name", "scope"]

    def __init__(self, *args, creator=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.creator = creator

    def clean(self):
        data = super().clean()
        user, scope = data.get("user"), data.get("scope")
        if user is None:
            return data
        if self.creator is not None and not self.creator.is_superuser and user != self.creator:
            self.add_error(
                "user", gettext("you may create tokens only for yourself (a superuser may for anyone)")
            )
        elif not user.is_active:
            self.add_error(
                "user",
                gettext("%(user)s is inactive: the token could never be used")
                % {"user": user.get_username()},
            )
        elif scope == AccessToken.Scope.CONTROL and not user.has_perm(CONTROL_PERMISSION):
            self.add_error(
                "scope",
                gettext(
                    "%(user)s may not change trading controls (permission %(permission)s): "
                    "give a 'read' token, or the permission first"
                )
                % {"user": user.get_username(), "permission": CONTROL_PERMISSION},
            )
        return data


@admin.register(AccessToken)
class AccessTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "scope", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["scope", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix", "user__username"]
    actions = ["revoke"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is not None:
            return super().get_form(request, obj, change=change, **kwargs)

        class Form(NewTokenForm):
            def __init__(self, *args, **kw):
                super().__init__(*args, creator=request.user, **kw)

        return Form

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return ["user", "scope", "prefix", "created_at", "last_used_at", "revoked_at"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["user", "name", "scope"]
        return ["name", "user", "scope", "prefix", "created_at", "last_used_at", "revoked_at"]

    def save_model(self, request, obj, form, change) -> None:
        if change:
            obj.save(update_fields=["name"])
            return
        token, plain = tokens.create_token(user=obj.user, name=obj.name, scope=obj.scope)
        obj.pk, obj.prefix, obj.created_at = token.pk, token.prefix, token.created_at
        request._api_plain_token = plain  # for response_add only: never saved, never logged

    def response_add(self, request, obj, post_url_continue=None):
        """Show the token on this one page (rendered now, so the message is never stored)."""
        plain = request.__dict__.pop("_api_plain_token")
        messages.warning(
            request,
            gettext("The token '%(name)s' was created: copy it now, it is not shown again.")
            % {"name": obj.name},
        )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "token": obj,
            "plain": plain,
            "title": gettext("API token created"),
        }
        return TemplateResponse(request, "admin/api/accesstoken/created.html", context)

    @admin.action(description=_("Revoke the selected tokens (they stop working at once)"))
    def revoke(self, request, queryset) -> None:
        count = tokens.revoke(queryset)
        self.message_user(
            request, ngettext("%(n)s token revoked", "%(n)s tokens revoked", count) % {"n": count}
        )
