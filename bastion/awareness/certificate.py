"""The certificate of completion: a one-page PDF made with WeasyPrint from an HTML template.

Nothing is fetched while rendering: the template has no links to fonts, images or stylesheets,
and the URL fetcher refuses every protocol, so a certificate renders offline and the same way
everywhere (fonts come from the machine, through fontconfig).

The certificate id is derived from the assignment and its completion time with a keyed hash,
so the security team can tell a genuine certificate from an edited one (``certificate_id``
gives the same id again for the same completion).
"""

from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.text import slugify

from .models import Assignment

_SALT = "bastion.awareness.certificate"


def certificate_id(assignment: Assignment) -> str:
    """A short id for the certificate: the assignment number and a keyed check of it."""
    completed = assignment.completed_at.isoformat() if assignment.completed_at else ""
    check = salted_hmac(_SALT, f"{assignment.pk}:{assignment.person_id}:{completed}",
                        algorithm="sha256").hexdigest()[:8].upper()
    return f"BST-{assignment.pk:06d}-{check}"


def certificate_filename(assignment: Assignment) -> str:
    return f"certificate-{slugify(assignment.version.title)[:60] or 'course'}-{assignment.pk}.pdf"


def certificate_html(assignment: Assignment) -> str:
    completed = timezone.localtime(assignment.completed_at) if assignment.completed_at else None
    return render_to_string("awareness/learner_certificate.html", {
        "person": assignment.person, "version": assignment.version, "assignment": assignment,
        "completed_on": completed.date() if completed else None, "certificate_id": certificate_id(assignment),
    })


def certificate_document(assignment: Assignment):
    """The laid-out certificate (a ``weasyprint.Document``): tests read its text from here."""
    from weasyprint import HTML  # imported here: loading pango takes a moment, needed only now
    from weasyprint.urls import URLFetcher

    # No protocol allowed: any stray URL fails instead of reaching the network.
    fetcher = URLFetcher(allowed_protocols=(), timeout=1)
    return HTML(string=certificate_html(assignment), url_fetcher=fetcher).render()


def certificate_pdf(assignment: Assignment) -> bytes:
    """The certificate as PDF bytes, for a completed assignment."""
    return certificate_document(assignment).write_pdf()


def document_text(document) -> str:
    """All the text laid out in a WeasyPrint document, in reading order."""
    parts: list[str] = []

    def walk(box) -> None:
        text = getattr(box, "text", None)
        if isinstance(text, str):
            parts.append(text)
        for child in getattr(box, "children", None) or []:
            walk(child)

    for page in document.pages:
        walk(page._page_box)
    return " ".join(parts)
