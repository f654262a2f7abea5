"""The reported-email and reporting-mailbox pages under /phishing/ (beside pages_urls.py)."""

from django.urls import path

from . import mailbox_views

urlpatterns = [
    path("reports/", mailbox_views.report_list, name="phishing-reports"),
    path("reports/<int:pk>/", mailbox_views.report_detail, name="phishing-report"),
    path("reports/<int:pk>/message.eml", mailbox_views.report_message, name="phishing-report-message"),
    path("mailboxes/", mailbox_views.mailbox_list, name="phishing-mailboxes"),
    path("mailboxes/new/", mailbox_views.mailbox_edit, name="phishing-mailbox-new"),
    path("mailboxes/<int:pk>/edit/", mailbox_views.mailbox_edit, name="phishing-mailbox-edit"),
    path("mailboxes/<int:pk>/test/", mailbox_views.mailbox_test, name="phishing-mailbox-test"),
]
