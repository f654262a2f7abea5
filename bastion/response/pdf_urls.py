"""The plan's PDF, under /plan/ beside the plan's pages (bastion/response/urls.py)."""

from django.urls import path

from . import pdf_views

urlpatterns = [
    path("versions/<int:number>/plan.pdf", pdf_views.version_pdf, name="plan-version-pdf"),
]
