"""The security team's phishing pages under /phishing/ (the recipients' links are under /p/)."""

from django.urls import path

from . import pages

urlpatterns = [
    path("", pages.campaign_list, name="phishing-campaigns"),
    path("campaigns/new/", pages.campaign_new, name="phishing-campaign-new"),
    path("campaigns/<int:pk>/", pages.campaign_detail, name="phishing-campaign"),
    path("campaigns/<int:pk>/test-send/", pages.campaign_test_send, name="phishing-campaign-test"),
    path("campaigns/<int:pk>/cancel/", pages.campaign_cancel, name="phishing-campaign-cancel"),
    path("campaigns/<int:pk>/results.csv", pages.campaign_csv, name="phishing-campaign-csv"),
    path("templates/", pages.template_list, name="phishing-templates"),
    path("templates/new/", pages.template_edit, name="phishing-template-new"),
    path("templates/<int:pk>/", pages.template_detail, name="phishing-template"),
    path("templates/<int:pk>/edit/", pages.template_edit, name="phishing-template-edit"),
    path("templates/<int:pk>/preview.html", pages.template_preview, name="phishing-template-preview"),
    path("landing-pages/", pages.landing_list, name="phishing-landing-pages"),
    path("landing-pages/new/", pages.landing_edit, name="phishing-landing-new"),
    path("landing-pages/<int:pk>/", pages.landing_detail, name="phishing-landing"),
    path("landing-pages/<int:pk>/edit/", pages.landing_edit, name="phishing-landing-edit"),
    path("landing-pages/<int:pk>/preview.html", pages.landing_preview, name="phishing-landing-preview"),
    path("profiles/", pages.profile_list, name="phishing-profiles"),
    path("profiles/new/", pages.profile_edit, name="phishing-profile-new"),
    path("profiles/<int:pk>/edit/", pages.profile_edit, name="phishing-profile-edit"),
    path("profiles/<int:pk>/test/", pages.profile_test, name="phishing-profile-test"),
    path("domains/", pages.domain_list, name="phishing-domains"),
    path("domains/<int:pk>/remove/", pages.domain_remove, name="phishing-domain-remove"),
    path("rules/", pages.rules_edit, name="phishing-rules"),
    path("repeat-clickers/", pages.repeat_clickers, name="phishing-repeat-clickers"),
    path("people/<int:pk>/", pages.person_history, name="phishing-person"),
]
