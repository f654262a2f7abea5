"""The security team's pages for courses, lesson images and policies, under /awareness/."""

from django.urls import path

from . import course_views, policy_views

urlpatterns = [
    path("courses/", course_views.course_list, name="course-list"),
    path("courses/new/", course_views.course_create, name="course-create"),
    path("courses/starter/", course_views.course_install_starter, name="course-install-starter"),
    path("courses/<int:pk>/", course_views.course_detail, name="course-detail"),
    path("courses/<int:pk>/edit/", course_views.course_edit, name="course-edit"),
    path("courses/<int:pk>/publish/", course_views.course_publish, name="course-publish"),
    path("courses/<int:pk>/archive/", course_views.course_archive, name="course-archive"),
    path("courses/<int:pk>/versions/<int:number>/", course_views.course_version, name="course-version"),
    path("images/", course_views.image_list, name="course-image-list"),
    path("images/<int:pk>/", course_views.image_serve, name="course-image"),
    path("policies/", policy_views.policy_list, name="policy-list"),
    path("policies/new/", policy_views.policy_create, name="policy-create"),
    path("policies/<int:pk>/", policy_views.policy_detail, name="policy-detail"),
    path("policies/<int:pk>/acknowledgements.csv", policy_views.policy_acknowledgements_csv,
         name="policy-acknowledgements-csv"),
    path("policies/<int:pk>/new-version/", policy_views.policy_new_version, name="policy-new-version"),
]
