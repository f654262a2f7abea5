from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from bastion import views
from bastion.accounts import auth_views
from bastion.api import api

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz),
    # Browsers ask for /favicon.ico whatever the page says.
    path("favicon.ico", RedirectView.as_view(url=static("bastion/favicon.svg"), permanent=True)),
    path("readyz", views.readyz),
    path("login/", auth_views.login_view, name="login"),
    path("login/mfa/", auth_views.login_mfa_view, name="login-mfa"),
    path("logout/", auth_views.logout_view, name="logout"),
    path("", include("bastion.accounts.urls")),
    path("people/", include("bastion.people.urls")),
    path("systems/", include("bastion.systems.urls")),
    path("awareness/", include("bastion.awareness.urls")),
    path("training/", include("bastion.awareness.learner_urls")),
    path("audit/", include("bastion.audit.urls")),
    path("outbox/", include("bastion.outbox.urls")),
    path("plan/", include("bastion.response.urls")),
    path("plan/", include("bastion.response.pdf_urls")),
    path("incidents/", include("bastion.incidents.urls")),
    path("p/", include("bastion.phishing.urls")),
    path("phishing/", include("bastion.phishing.pages_urls")),
    path("phishing/", include("bastion.phishing.mailbox_urls")),
    path("api/v1/", api.urls),
]
