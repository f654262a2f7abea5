from django.urls import path

from . import views

urlpatterns = [
    path("account/", views.account, name="account"),
    path("account/mfa/", views.account_mfa, name="account-mfa"),
    path("account/tokens/", views.token_create, name="token-create"),
    path("account/tokens/<int:pk>/revoke/", views.token_revoke, name="token-revoke"),
    path("accounts/users/", views.user_list, name="user-list"),
    path("accounts/users/new/", views.user_create, name="user-create"),
    path("accounts/users/<int:pk>/", views.user_detail, name="user-detail"),
    path("accounts/users/<int:pk>/reset-mfa/", views.user_reset_mfa, name="user-reset-mfa"),
    path("accounts/users/<int:pk>/password/", views.user_set_password, name="user-set-password"),
    path("accounts/mfa-policy/", views.mfa_policy, name="mfa-policy"),
]
