"""Signed links (lib/tokens.py): what a visitor with a good, tampered, stale or spent link gets."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from bastion.accounts.models import UsedLinkToken
from bastion.lib.tokens import (
    ExpiredLinkToken,
    InvalidLinkToken,
    LinkTokenError,
    UsedLinkTokenError,
    WrongPurposeLinkToken,
    consume_link_token,
    make_link_token,
    read_link_token,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TRAINING = "awareness.training"
REVIEW = "systems.review"


def test_round_trip_gives_back_subject_times_and_nonce():
    token = make_link_token(TRAINING, 42, expires_in=timedelta(days=14), now=T0)

    claim = read_link_token(token, TRAINING, now=T0 + timedelta(days=1))

    assert claim.subject_id == 42
    assert claim.purpose == TRAINING
    assert claim.issued_at == T0
    assert claim.expires_at == T0 + timedelta(days=14)
    assert claim.single_use is False
    assert len(claim.nonce) >= 22  # 16 random bytes, base64: 128 bits


def test_string_subject_ids_survive():
    token = make_link_token(REVIEW, "inv-7", expires_in=timedelta(hours=1), now=T0)
    assert read_link_token(token, REVIEW, now=T0).subject_id == "inv-7"


def test_token_is_url_safe_and_unique_per_link():
    tokens = {make_link_token(TRAINING, 1, expires_in=timedelta(days=1)) for _ in range(50)}

    assert len(tokens) == 50  # same person, same purpose: still a different, unguessable link
    for token in tokens:
        assert re.fullmatch(r"[A-Za-z0-9_\-.:]+", token)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # signature altered
        lambda t: t[:-5],  # truncated (a mail client cut it)
        lambda t: "x" + t,  # payload altered
        lambda t: "not-a-token",
        lambda t: "",
    ],
)
def test_tampered_or_garbled_token_is_refused_with_a_plain_message(mangle):
    token = make_link_token(TRAINING, 42, expires_in=timedelta(days=14), now=T0)

    with pytest.raises(InvalidLinkToken) as refused:
        read_link_token(mangle(token), TRAINING, now=T0)

    assert str(refused.value) == (
        "This link is not valid. Check that you copied all of it, or ask for a new one."
    )


def test_forged_subject_with_the_original_signature_is_refused():
    # Swap in another person's id but keep the signature: must not verify.
    mine = make_link_token(TRAINING, 42, expires_in=timedelta(days=14), now=T0)
    theirs = make_link_token(TRAINING, 43, expires_in=timedelta(days=14), now=T0)
    forged = theirs.rsplit(":", 2)[0] + ":" + ":".join(mine.rsplit(":", 2)[1:])

    with pytest.raises(InvalidLinkToken):
        read_link_token(forged, TRAINING, now=T0)


def test_wrong_purpose_is_named_as_such():
    review_link = make_link_token(REVIEW, 42, expires_in=timedelta(days=14), now=T0)

    with pytest.raises(WrongPurposeLinkToken) as refused:
        read_link_token(review_link, TRAINING, now=T0)

    assert str(refused.value) == (
        "This link is not meant for this page. Use the link from the email you received."
    )


def test_expired_link_says_when():
    token = make_link_token(TRAINING, 42, expires_in=timedelta(days=14), now=T0)

    # Valid up to the last second...
    read_link_token(token, TRAINING, now=T0 + timedelta(days=14) - timedelta(seconds=1))
    # ...refused from the expiry moment on.
    with pytest.raises(ExpiredLinkToken) as refused:
        read_link_token(token, TRAINING, now=T0 + timedelta(days=14))

    assert refused.value.expired_at == datetime(2026, 3, 16, 9, 0, tzinfo=UTC)
    assert str(refused.value) == "This link expired on 16 March 2026 at 09:00 UTC. Ask for a new one."


def test_expiry_follows_django_clock_by_default(monkeypatch):
    token = make_link_token(TRAINING, 42, expires_in=timedelta(minutes=5))
    read_link_token(token, TRAINING)

    later = timezone.now() + timedelta(minutes=5, seconds=1)
    monkeypatch.setattr("django.utils.timezone.now", lambda: later)

    with pytest.raises(ExpiredLinkToken):
        read_link_token(token, TRAINING)


def test_bad_arguments_are_programming_errors_not_link_errors():
    with pytest.raises(ValueError):
        make_link_token("", 1, expires_in=timedelta(days=1))
    with pytest.raises(ValueError):
        make_link_token(TRAINING, 1, expires_in=timedelta(0))
    with pytest.raises(TypeError):
        make_link_token(TRAINING, 1.5, expires_in=timedelta(days=1))  # type: ignore[arg-type]


@pytest.mark.django_db
def test_single_use_link_works_once_then_is_refused():
    token = make_link_token(REVIEW, 7, expires_in=timedelta(days=7), single_use=True, now=T0)

    assert read_link_token(token, REVIEW, now=T0).single_use is True  # reading does not spend it
    claim = consume_link_token(token, REVIEW, now=T0 + timedelta(hours=1))
    assert claim.subject_id == 7

    with pytest.raises(UsedLinkTokenError) as refused:
        consume_link_token(token, REVIEW, now=T0 + timedelta(hours=2))
    assert str(refused.value) == "This link has already been used. Ask for a new one if you still need it."
    with pytest.raises(UsedLinkTokenError):
        read_link_token(token, REVIEW, now=T0 + timedelta(hours=2))

    used = UsedLinkToken.objects.get()
    assert (used.nonce, used.purpose) == (claim.nonce, REVIEW)
    assert used.used_at == T0 + timedelta(hours=1)
    assert used.expires_at == T0 + timedelta(days=7)


@pytest.mark.django_db
def test_a_second_single_use_link_for_the_same_person_is_independent():
    first = make_link_token(REVIEW, 7, expires_in=timedelta(days=7), single_use=True, now=T0)
    second = make_link_token(REVIEW, 7, expires_in=timedelta(days=7), single_use=True, now=T0)

    consume_link_token(first, REVIEW, now=T0)

    assert consume_link_token(second, REVIEW, now=T0).subject_id == 7


@pytest.mark.django_db(transaction=True)
def test_race_between_two_uses_lets_exactly_one_through(monkeypatch):
    # Both requests pass the "already used?" read before either writes: the unique constraint
    # still lets only one of them record the nonce.
    token = make_link_token(REVIEW, 7, expires_in=timedelta(days=7), single_use=True, now=T0)
    monkeypatch.setattr("bastion.lib.tokens.read_link_token", lambda t, p, now=None: _read_only(t, p))

    consume_link_token(token, REVIEW, now=T0)
    with pytest.raises(UsedLinkTokenError):
        consume_link_token(token, REVIEW, now=T0)

    assert UsedLinkToken.objects.count() == 1


def _read_only(token, purpose):
    # read_link_token without the database check, as if a concurrent request had just read.
    from bastion.lib import tokens

    return tokens._claim(tokens._verified_payload(token, purpose))


@pytest.mark.django_db
def test_multi_use_link_is_reusable_within_its_lifetime(django_assert_num_queries):
    token = make_link_token(TRAINING, 42, expires_in=timedelta(days=30), now=T0)

    with django_assert_num_queries(0):  # nothing to record for a reusable link
        for day in (0, 1, 15, 29):
            assert consume_link_token(token, TRAINING, now=T0 + timedelta(days=day)).subject_id == 42

    with pytest.raises(ExpiredLinkToken):
        consume_link_token(token, TRAINING, now=T0 + timedelta(days=30))
    assert not UsedLinkToken.objects.exists()


@pytest.mark.django_db
def test_expired_single_use_link_is_expired_not_used():
    token = make_link_token(REVIEW, 7, expires_in=timedelta(days=1), single_use=True, now=T0)
    consume_link_token(token, REVIEW, now=T0)

    with pytest.raises(ExpiredLinkToken):
        consume_link_token(token, REVIEW, now=T0 + timedelta(days=2))


def test_every_refusal_is_a_link_token_error():
    for error in (InvalidLinkToken, WrongPurposeLinkToken, ExpiredLinkToken, UsedLinkTokenError):
        assert issubclass(error, LinkTokenError)
