from django.urls import path

from . import views

app_name = "phishing"

urlpatterns = [
    path("o/<str:token>.gif", views.open_pixel, name="open"),
    path("c/<str:token>/", views.click, name="click"),
    path("l/<str:token>/", views.landing, name="landing"),
    path("l/<str:token>/submit", views.submit, name="submit"),
    path("r/<str:token>/", views.report, name="report"),
    path("h/<str:token>/", views.human_signal, name="human-signal"),
]
