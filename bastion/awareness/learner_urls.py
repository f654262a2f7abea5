"""What learners see, under /training/: reached by the emailed link or by signing in."""

from django.urls import path

from . import learner_views as views

urlpatterns = [
    path("", views.my_training, name="my-training"),
    path("t/<str:token>/", views.training_link, name="training-link"),
    path("a/<int:pk>/", views.course, name="training-course"),
    path("a/<int:pk>/lesson/<int:position>/", views.lesson, name="training-lesson"),
    path("a/<int:pk>/quiz/", views.quiz, name="training-quiz"),
    path("a/<int:pk>/quiz/start/", views.quiz_start, name="training-quiz-start"),
    path("a/<int:pk>/quiz/<int:number>/", views.attempt_result, name="training-attempt"),
    path("a/<int:pk>/certificate.pdf", views.certificate_pdf, name="training-certificate"),
    path("policy/<int:version_pk>/", views.policy, name="training-policy"),
]
