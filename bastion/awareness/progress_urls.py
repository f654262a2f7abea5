from django.urls import path

from . import progress_views as views

urlpatterns = [
    path("", views.awareness_home, name="awareness-home"),
    path("progress/", views.progress_overview, name="awareness-progress"),
    path("progress/people/", views.progress_people, name="awareness-progress-people"),
    path("people/<int:person_pk>/", views.person_record, name="awareness-person"),
    path("events/<int:event_pk>/waive/", views.waive_consequence, name="awareness-waive"),
]
