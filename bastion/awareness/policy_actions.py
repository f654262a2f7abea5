"""Writes of policies: each in one transaction with its audit entry. The forms check the input
before (a free slug, a body and a summary of changes)."""

from django.db import transaction
from django.db.models import Max

from bastion.audit.chain import record

from .models import Policy, PolicyVersion


@transaction.atomic
def do_create_policy(*, acting_user, title: str, slug: str, body: str, request=None) -> Policy:
    """A new policy with its version 1, which everyone is asked to acknowledge."""
    policy = Policy.objects.create(title=title, slug=slug)
    version = PolicyVersion.objects.create(policy=policy, number=1, body=body, published_by=acting_user,
                                           summary_of_changes="First version.")
    record("policy.created", actor=acting_user, obj=policy, request=request,
           after={"slug": slug, "title": title, "version": version.number})
    return policy


@transaction.atomic
def do_publish_policy_version(*, acting_user, policy: Policy, body: str, summary_of_changes: str,
                              request=None) -> PolicyVersion:
    """Publish a new text of the policy: it becomes the current version, so everyone is asked to
    acknowledge again. Acknowledgements of older versions stay recorded against those versions."""
    policy = Policy.objects.select_for_update().get(pk=policy.pk)
    number = (policy.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    version = PolicyVersion.objects.create(policy=policy, number=number, body=body,
                                           summary_of_changes=summary_of_changes, published_by=acting_user)
    record("policy.version_published", actor=acting_user, obj=policy, request=request,
           before={"version": number - 1} if number > 1 else None,
           after={"version": number, "summary_of_changes": summary_of_changes})
    return version
