from bastion.accounts.models import Role


def navigation(request):
    """The navigation a signed-in person sees: only what their role can open."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav": []}
    from bastion.accounts.access import can_view_users
    from bastion.audit.access import can_view_audit
    from bastion.awareness.access import (
        can_view_all_progress,
        can_view_awareness,
        can_view_team_progress,
    )
    from bastion.incidents.access import can_view_incidents
    from bastion.outbox.access import can_view_outbox
    from bastion.people.access import can_list_people, can_view_groups
    from bastion.phishing.access import can_triage_reports, can_view_campaigns
    from bastion.response.access import can_view_plan
    from bastion.systems.access import can_view_reviews, can_view_systems

    items = [("Home", "/")]
    if can_list_people(user):
        items.append(("People", "/people/"))
    if can_view_groups(user):
        items.append(("Groups", "/people/groups/"))
    if can_view_systems(user):
        items.append(("Systems", "/systems/"))
    if can_view_reviews(user):
        items.append(("Criticality reviews", "/systems/reviews/"))
    if can_view_awareness(user):
        items.append(("Awareness", "/awareness/"))
    elif can_view_all_progress(user) or can_view_team_progress(user):
        items.append(("Training progress", "/awareness/progress/"))
    if user.person_id is not None:
        items.append(("My training", "/training/"))
    if can_view_campaigns(user):
        items.append(("Phishing", "/phishing/"))
    if can_triage_reports(user):
        items.append(("Reported email", "/phishing/reports/"))
    if can_view_plan(user):
        items.append(("Response plan", "/plan/"))
    if can_view_incidents(user):
        items.append(("Incidents", "/incidents/"))
    if can_view_users(user):
        items.append(("Users", "/accounts/users/"))
    if can_view_outbox(user):
        items.append(("Outbox", "/outbox/"))
    if can_view_audit(user):
        items.append(("Audit trail", "/audit/"))
    matches = [url for _, url in items if request.path == url or (url != "/" and request.path.startswith(url))]
    current = max(matches, key=len) if matches else None
    return {"nav": [{"label": label, "url": url, "current": url == current} for label, url in items], "roles": Role}
