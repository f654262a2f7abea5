from django.urls import include, path

# /awareness/: what the security team works with; /training/ (learner_urls): what learners see.
urlpatterns = [
    path("", include("bastion.awareness.course_urls")),
    path("", include("bastion.awareness.programme_urls")),
    path("", include("bastion.awareness.progress_urls")),
]
