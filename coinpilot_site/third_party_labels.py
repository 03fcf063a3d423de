"""Korean for the labels of installed apps that ship no Korean (django-axes' models in the admin).

Marked here so makemessages puts them in locale/ko; the project catalog comes first when Django
looks a string up, so the admin's sidebar and lists read them in Korean. Nothing imports this
module: its strings only need to be found."""

from django.utils.translation import gettext_noop

AXES = (
    gettext_noop("Axes"),
    gettext_noop("access failure"),
    gettext_noop("access failures"),
    gettext_noop("access attempt"),
    gettext_noop("access attempts"),
    gettext_noop("Access Attempt"),
    gettext_noop("access attempt expiration"),
    gettext_noop("access attempt expirations"),
    gettext_noop("access log"),
    gettext_noop("access logs"),
)
