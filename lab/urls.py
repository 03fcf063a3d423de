from django.urls import path

from . import views

urlpatterns = [
    path("", views.lab_page, name="lab"),
    path("<int:study_id>/", views.study_page, name="lab-study"),
    path("<int:study_id>.json", views.study_json, name="lab-study-json"),
    path("<int:study_id>/cancel", views.study_cancel, name="lab-study-cancel"),
    path("<int:study_id>/promote", views.study_promote, name="lab-study-promote"),
    path("lookahead", views.lookahead_start, name="lab-lookahead"),
    path("checks/<int:check_id>/", views.check_page, name="lab-check"),
]
