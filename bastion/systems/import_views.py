"""Importing systems from a CSV file: upload → dry-run preview → apply → result.

No upload is stored: the preview page carries the decoded text in its Apply form, and applying
plans the file again against the register as it is then, so nothing stale is ever written.
"""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from . import access, actions, importer
from .importer import COLUMNS, ImportFileError


class UploadForm(forms.Form):
    file = forms.FileField(
        label="Systems file (CSV, UTF-8)",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
        help_text="One row per system, with a header row naming the columns.",
    )


class ApplyForm(forms.Form):
    content = forms.CharField(widget=forms.HiddenInput, strip=False)
    filename = forms.CharField(widget=forms.HiddenInput, max_length=255)


@login_required
def import_systems(request: HttpRequest) -> HttpResponse:
    access.require_systems_editor(request.user)
    if request.method == "POST" and request.POST.get("action") == "apply":
        return _apply(request)
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        filename = (upload.name or "systems.csv")[:255]
        try:
            text = importer.read_upload(upload)
            plan = importer.plan_import(text)
        except ImportFileError as exc:
            form.add_error("file", str(exc))
        else:
            return _preview(request, plan, text, filename)
    return render(request, "systems/import_upload.html", {"form": form, "columns": COLUMNS},
                  status=400 if form.errors else 200)


def _preview(request: HttpRequest, plan: importer.ImportPlan, text: str, filename: str,
             status: int = 200) -> HttpResponse:
    return render(request, "systems/import_preview.html", {
        "filename": filename, "preview": plan.summary(), "cap": importer.DISPLAY_CAP,
        "apply": ApplyForm(initial={"content": text, "filename": filename}) if plan.ok else None,
    }, status=status if plan.ok else 400)


def _apply(request: HttpRequest) -> HttpResponse:
    form = ApplyForm(request.POST)
    if not form.is_valid():
        messages.error(request, "The import form was incomplete. Upload the file again.")
        return redirect("system-import")
    text, filename = form.cleaned_data["content"], form.cleaned_data["filename"]
    try:
        plan = actions.do_apply_systems_import(text=text, filename=filename, acting_user=request.user,
                                               request=request)
    except ImportFileError as exc:
        messages.error(request, f"Nothing was imported: {exc}")
        return redirect("system-import")
    if not plan.ok:
        # The register changed since the preview in a way that now conflicts with the file.
        messages.error(request, "The register has changed since the preview and the file now has errors. "
                                "Nothing was imported.")
        return _preview(request, plan, text, filename)
    counts = plan.counts()
    messages.success(request, f"Import of {filename} applied: {counts['created']} created, "
                              f"{counts['changed']} changed, {counts['unchanged']} unchanged.")
    return redirect("system-list")
