"""The incident pages under /incidents/."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.incident_list, name="incidents"),
    path("declare/", views.declare, name="incident-declare"),
    path("systems/", views.system_choices, name="incident-systems"),
    path("deviations/", views.deviation_list, name="incident-deviations"),
    path("<int:pk>/", views.incident_detail, name="incident"),
    path("<int:pk>/notifications/", views.notifications_region, name="incident-notifications"),
    path("<int:pk>/notifications/<int:nid>/", views.notification_outcome, name="incident-notification"),
    path("<int:pk>/facts/", views.update_facts, name="incident-facts"),
    path("<int:pk>/status/", views.change_status, name="incident-status"),
    path("<int:pk>/team/", views.change_team, name="incident-team"),
    path("<int:pk>/law-enforcement/", views.law_enforcement, name="incident-law-enforcement"),
    path("<int:pk>/timeline/", views.add_timeline_entry, name="incident-timeline"),
    path("<int:pk>/timeline/verify/", views.timeline_verification, name="incident-timeline-verify"),
    path("<int:pk>/updates/new/", views.send_update, name="incident-update"),
    path("<int:pk>/review/", views.review_page, name="incident-review"),
    path("<int:pk>/review/waive/", views.waive_review, name="incident-review-waive"),
    path("<int:pk>/dossier.json", views.dossier_json, name="incident-dossier-json"),
    path("<int:pk>/dossier.pdf", views.dossier_pdf, name="incident-dossier-pdf"),
    path("<int:pk>/steps/<str:key>/<str:outcome>/", views.step_outcome, name="incident-step"),
]
