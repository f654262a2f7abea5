"""The demo's closed criticality review: answered by six leaders, with results worth showing."""

import pytest
from django.core.management import call_command
from django.db.models import F

from bastion.accounts.models import Role, User
from bastion.systems.models import CriticalityReview, InvitationStatus, ReviewResult, ReviewStatus


@pytest.mark.django_db
def test_demo_has_a_closed_review_answered_by_six_leaders(client_for):
    call_command("demo")
    review = CriticalityReview.objects.get(title="Annual criticality review 2026")
    assert review.status == ReviewStatus.CLOSED
    invitations = list(review.invitations.select_related("person"))
    assert len(invitations) == 6
    assert all(i.status == InvitationStatus.SUBMITTED for i in invitations)
    assert {i.person.title for i in invitations} == {
        "CFO", "COO", "VP Sales", "CIO", "General Counsel", "Chief Executive Officer"}
    in_scope = set(review.systems.values_list("pk", flat=True))
    assert len(in_scope) >= 35
    results = ReviewResult.objects.filter(review=review)
    assert set(results.values_list("system_id", flat=True)) == in_scope
    assert results.exclude(raised_reason="").filter(effective_tier__lt=F("tier")).exists()
    assert results.filter(rto_gap=True).exists()
    # The earlier review is kept for history.
    assert CriticalityReview.objects.filter(title="Annual criticality review 2025", status="closed").exists()

    biggest = results.order_by("-spread", "system__name").select_related("system").first()
    lead = User.objects.get(role=Role.SECURITY_LEAD)
    response = client_for(lead).get(f"/systems/reviews/{review.pk}/results/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Conversations to have" in html and biggest.system.name in html
    assert html.index(biggest.system.name) < html.index("Ranking, most critical first")

