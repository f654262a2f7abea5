"""The learner's signed link: it opens that person's training and nothing else.

Made for a person (the token's subject), with its own purpose, so a review link or another
person's link never opens it; it expires, and every reminder carries a fresh one.
"""

import functools
from datetime import datetime, timedelta

from django.urls import reverse

from bastion.lib.tokens import make_link_token

TRAINING_PURPOSE = "training"
TRAINING_LINK_LIFETIME = timedelta(days=30)


def training_link_path(person_id: int, *, now: datetime | None = None) -> str:
    """The path (no host) of a fresh link to the person's training; emails add BASE_URL."""
    token = make_link_token(TRAINING_PURPOSE, person_id, expires_in=TRAINING_LINK_LIFETIME, now=now)
    return f"{_link_prefix()}{token}/"


@functools.cache
def _link_prefix() -> str:
    """The path before the token, resolved once: a run emails 100,000 links."""
    marker = "-"
    path = reverse("training-link", args=[marker])
    assert path.endswith(f"/{marker}/")
    return path[:-len(marker) - 1]
