from django.urls import path

from . import views

urlpatterns = [
    path("", views.outbox_list, name="outbox"),
    path("test/", views.send_test_email, name="outbox-test"),
    path("<int:pk>/", views.message_detail, name="outbox-message"),
    path("<int:pk>/retry/", views.message_retry, name="outbox-retry"),
]
