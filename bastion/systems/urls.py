from django.urls import path

from . import import_views, views

urlpatterns = [
    path("", views.system_list, name="system-list"),
    path("new/", views.system_create, name="system-create"),
    path("budget/", views.budget, name="system-budget"),
    path("import/", import_views.import_systems, name="system-import"),
    path("<int:pk>/", views.system_detail, name="system-detail"),
    path("<int:pk>/edit/", views.system_edit, name="system-edit"),
]
