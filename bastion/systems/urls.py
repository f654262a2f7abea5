from django.urls import path

from . import import_views, review_export, review_history, review_views, views

urlpatterns = [
    path("", views.system_list, name="system-list"),
    path("new/", views.system_create, name="system-create"),
    path("budget/", views.budget, name="system-budget"),
    path("import/", import_views.import_systems, name="system-import"),
    path("<int:pk>/", views.system_detail, name="system-detail"),
    path("<int:pk>/edit/", views.system_edit, name="system-edit"),
    path("reviews/", review_views.review_list, name="review-list"),
    path("reviews/new/", review_views.review_create, name="review-create"),
    path("reviews/answer/<str:token>/", review_views.review_answer_link, name="review-answer-link"),
    path("reviews/history/", review_history.review_history, name="review-history"),
    path("reviews/<int:pk>/", review_views.review_detail, name="review-detail"),
    path("reviews/<int:pk>/open/", review_views.review_open, name="review-open"),
    path("reviews/<int:pk>/close/", review_views.review_close, name="review-close"),
    path("reviews/<int:pk>/results/", review_views.review_results, name="review-results"),
    path("reviews/<int:pk>/results.csv", review_export.review_results_csv, name="review-results-csv"),
    path("reviews/<int:pk>/leaders/<int:invitation_pk>/systems/", review_views.review_leader_systems,
         name="review-leader-systems"),
    path("reviews/<int:pk>/remind/", review_views.review_remind, name="review-remind"),
    path("reviews/<int:pk>/answer/", review_views.review_answer, name="review-answer"),
]
