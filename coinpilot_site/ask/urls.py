from django.urls import path

from . import views

urlpatterns = [
    path("", views.ask_page, name="ask"),
    path("question", views.ask_question, name="ask-question"),
    path("clear", views.ask_clear, name="ask-clear"),
]
