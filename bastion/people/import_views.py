"""Importing people from an HR file: upload → map columns → dry-run preview → apply → result."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from bastion.audit.chain import record

from . import access, importer
from .importer import CANONICAL_COLUMNS, COLUMN_LABELS, REQUIRED_COLUMNS, ImportFileError
from .models import ImportStatus, PeopleImport


class UploadForm(forms.Form):
    file = forms.FileField(
        label="HR file (CSV, UTF-8)",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
        help_text="One row per person, with a header row. Columns are matched on the next step.",
    )
    full = forms.BooleanField(
        required=False, initial=True,
        label="This file is the full list of current employees",
        help_text="People in Bastion who are not in the file are then marked as leavers "
                  "(never deleted). Untick it to add and update only the people in the file.",
    )


class MappingForm(forms.Form):
    """One select per Bastion column, offering the file's own column names."""

    def __init__(self, header: list[str], *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.header = header
        choices = [("", "— not in this file —")] + [(h, h) for h in header if h]
        for column in CANONICAL_COLUMNS:
            required = column in REQUIRED_COLUMNS
            self.fields[column] = forms.ChoiceField(
                choices=choices, required=required, label=COLUMN_LABELS[column],
                error_messages={"required": f"Choose the file's column for {column}; it is required."},
                help_text="Required" if required else "Optional: left as it is when not in the file",
            )

    def mapping(self) -> dict[str, str]:
        return {c: self.cleaned_data[c] for c in CANONICAL_COLUMNS if self.cleaned_data.get(c)}

    def clean(self):
        data = super().clean()
        chosen: dict[str, str] = {}
        for column in CANONICAL_COLUMNS:
            name = data.get(column)
            if not name:
                continue
            if name in chosen:
                self.add_error(column, f"“{name}” is already chosen for {COLUMN_LABELS[chosen[name]]}.")
            chosen.setdefault(name, column)
        return data


def _require_importer(user) -> None:
    if not access.can_import_people(user):
        raise PermissionDenied


def _preview_into(people_import: PeopleImport, plan: importer.ImportPlan) -> None:
    people_import.summary = {
        **(people_import.summary or {}),
        "preview": plan.summary(),
        "previewed_at": timezone.now().isoformat(),
    }


@login_required
def import_upload(request: HttpRequest) -> HttpResponse:
    _require_importer(request.user)
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        full = form.cleaned_data["full"]
        try:
            text = importer.read_upload(upload)
            header = importer.read_header(text)
            if not importer.sample_rows(text, 1):
                raise ImportFileError("The file has a header but no rows of people.")
            mapping = importer.guess_mapping(header)
            plan = None
            if importer.mapping_is_complete(header, mapping):
                plan = importer.preview(text, mapping, full=full)
        except ImportFileError as exc:
            form.add_error("file", str(exc))
        else:
            people_import = PeopleImport(
                uploaded_by_id=request.user.pk, filename=(upload.name or "upload.csv")[:255],
                content=text, mapping=mapping, full=full,
            )
            if plan is not None:
                _preview_into(people_import, plan)
            people_import.save()
            return redirect("import-preview", pk=people_import.pk)
    recent = PeopleImport.objects.defer("content").select_related("uploaded_by")[:10]
    return render(request, "people/import_upload.html", {
        "form": form, "recent": recent, "columns": CANONICAL_COLUMNS, "required": REQUIRED_COLUMNS,
    }, status=400 if form.errors else 200)


@login_required
def import_preview(request: HttpRequest, pk: int) -> HttpResponse:
    """One page per stored import; what it shows follows where the import is in its life."""
    people_import = access.get_import_for_user(request.user, pk)
    if people_import.status != ImportStatus.UPLOADED:
        if request.method == "POST":
            messages.info(request, f"This import was {people_import.get_status_display().lower()} already.")
            return redirect("import-preview", pk=pk)
        return render(request, "people/import_result.html", {
            "imp": people_import, "result": (people_import.summary or {}).get("result"),
            "cap": importer.DISPLAY_CAP,
        })

    action = request.POST.get("action") if request.method == "POST" else None
    if action == "discard":
        with transaction.atomic():
            discarded = PeopleImport.objects.filter(pk=pk, status=ImportStatus.UPLOADED).update(
                status=ImportStatus.DISCARDED, content=""
            )
            if discarded:
                record("people.import_discarded", actor=request.user, obj=people_import,
                       after={"filename": people_import.filename}, request=request)
        messages.success(request, f"Import of {people_import.filename} discarded. Nothing was changed.")
        return redirect("import-upload")
    if action == "apply":
        return _apply(request, people_import)

    preview = (people_import.summary or {}).get("preview")
    if action == "map" or request.GET.get("step") == "mapping" or preview is None:
        return _mapping_step(request, people_import)
    return render(request, "people/import_preview.html", {
        "imp": people_import, "preview": preview, "cap": importer.DISPLAY_CAP,
    })


def _mapping_step(request: HttpRequest, people_import: PeopleImport) -> HttpResponse:
    header = importer.read_header(people_import.content)
    if request.method == "POST":
        form = MappingForm(header, request.POST)
        if form.is_valid():
            people_import.mapping = form.mapping()
            try:
                plan = importer.preview(people_import.content, people_import.mapping, full=people_import.full)
            except ImportFileError as exc:
                form.add_error(None, str(exc))
            else:
                _preview_into(people_import, plan)
                people_import.save(update_fields=["mapping", "summary"])
                return redirect("import-preview", pk=people_import.pk)
    else:
        form = MappingForm(header, initial=people_import.mapping or importer.guess_mapping(header))
    columns = [h for h in header if h]
    samples = importer.sample_rows(people_import.content)
    file_columns = [
        {"name": name, "examples": [row[i].strip() for row in samples if i < len(row) and row[i].strip()]}
        for i, name in enumerate(header) if name
    ]
    return render(request, "people/import_mapping.html", {
        "imp": people_import, "form": form, "file_columns": file_columns, "column_count": len(columns),
    }, status=400 if form.errors else 200)


def _apply(request: HttpRequest, people_import: PeopleImport) -> HttpResponse:
    try:
        plan, _ = importer.do_apply_import(
            text=people_import.content, mapping=people_import.mapping, full=people_import.full,
            filename=people_import.filename, acting_user=request.user,
            people_import=people_import, request=request,
        )
    except importer.ImportAlreadyApplied:
        messages.info(request, "This import was applied already.")
        return redirect("import-preview", pk=people_import.pk)
    except ImportFileError as exc:
        messages.error(request, f"Nothing was imported: {exc}")
        return redirect("import-preview", pk=people_import.pk)
    if not plan.ok:
        # The directory changed since the preview in a way that now conflicts with the file.
        _preview_into(people_import, plan)
        people_import.save(update_fields=["summary"])
        messages.error(request, "The directory has changed since the preview and the file now has "
                                "errors. Nothing was imported.")
        return redirect("import-preview", pk=people_import.pk)
    counts = plan.counts()
    messages.success(request, (
        f"Import applied: {counts['created']} created, {counts['changed']} changed, "
        f"{counts['leavers']} marked as leavers, {counts['unchanged']} unchanged."
    ))
    return redirect(reverse("import-preview", kwargs={"pk": people_import.pk}))
