"""The plan's pages under /plan/ (links.py fixes the paths the emails use)."""

from django.urls import path

from . import edit_views, views

urlpatterns = [
    path("", views.plan_home, name="plan-home"),
    path("install/", views.plan_install, name="plan-install"),
    path("settings/", views.plan_settings, name="plan-settings"),
    path("submit/", views.plan_submit, name="plan-submit"),
    path("acknowledge/", views.acknowledge, name="plan-acknowledge"),
    path("acknowledge/<str:token>/", views.acknowledge_link, name="plan-acknowledge-link"),
    path("versions/", views.version_list, name="plan-versions"),
    path("versions/<int:number>/", views.version_detail, name="plan-version"),
    path("versions/<int:number>/decide/", views.version_decide, name="plan-decide"),
    path("diff/", views.plan_diff, name="plan-diff"),
    path("edit/", edit_views.edit_home, name="plan-edit"),
    path("edit/start/", edit_views.start_new_version, name="plan-edit-start"),
    path("edit/types/<str:type_key>/steps/new/", edit_views.step_new, name="plan-step-new"),
    path("edit/types/<str:type_key>/steps/<str:key>/", edit_views.step_edit, name="plan-step-edit"),
    path("edit/types/<str:type_key>/steps/<str:key>/move/", edit_views.step_move, name="plan-step-move"),
    path("edit/types/<str:type_key>/steps/<str:key>/remove/", edit_views.step_remove, name="plan-step-remove"),
    path("edit/<slug:part>/", edit_views.part_list, name="plan-edit-part"),
    path("edit/<slug:part>/new/", edit_views.item_new, name="plan-item-new"),
    path("edit/<slug:part>/<str:key>/", edit_views.item_edit, name="plan-item-edit"),
    path("edit/<slug:part>/<str:key>/move/", edit_views.item_move, name="plan-item-move"),
    path("edit/<slug:part>/<str:key>/remove/", edit_views.item_remove, name="plan-item-remove"),
]
