"""Programmes under /awareness/programmes/."""

from django.urls import path

from . import programme_views

urlpatterns = [
    path("programmes/", programme_views.programme_list, name="programme-list"),
    path("programmes/new/", programme_views.programme_create, name="programme-create"),
    path("programmes/<int:pk>/", programme_views.programme_detail, name="programme-detail"),
    path("programmes/<int:pk>/edit/", programme_views.programme_edit, name="programme-edit"),
]
