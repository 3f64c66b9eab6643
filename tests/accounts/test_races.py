"""Two sign-ups for one address at once (real threads, real database). STYLE: the canary
first shows that a check-then-insert without the any-case unique index makes two
accounts; with the index, however the two interleave, exactly one account exists."""

import threading
from collections import Counter

import pytest
from django.db import connection

from autodoctor.accounts import registration
from autodoctor.accounts.models import User
from tests.racing import race

from .conftest import NOW, STRONG

pytestmark = [pytest.mark.race, pytest.mark.django_db(transaction=True)]

VARIANTS = ["Casey@Example.test", "casey@EXAMPLE.TEST"]


@pytest.fixture
def without_the_any_case_index():
    constraint = next(c for c in User._meta.constraints if c.name == "user_email_unique_any_case")
    with connection.schema_editor() as editor:
        editor.remove_constraint(User, constraint)
    try:
        yield
    finally:
        User.objects.all().delete()
        with connection.schema_editor() as editor:
            editor.add_constraint(User, constraint)


def test_canary_check_then_insert_without_the_index_makes_two_accounts(
    without_the_any_case_index,
):
    both_checked = threading.Barrier(2)

    def naive_signup(i: int) -> None:
        taken = User.objects.filter(email__iexact=VARIANTS[i]).exists()
        both_checked.wait(30)
        if not taken:
            User.objects.create(email=VARIANTS[i], password="!")

    outcomes = race(2, naive_signup)
    assert outcomes == Counter({"ok": 2}), outcomes
    assert User.objects.filter(email__iexact=VARIANTS[0]).count() == 2  # the bug


def _signup(i: int):
    return registration.account_signup(
        email=VARIANTS[i], password=STRONG, full_name=f"Casey {i}", now=NOW
    )


def test_two_signups_with_the_same_email_at_once_make_one_account():
    outcomes = race(2, _signup)
    assert outcomes == Counter({"ok": 2}), outcomes  # neither caller sees an error
    assert User.objects.count() == 1
    assert User.objects.get().email == "casey@example.test"


def test_when_both_pass_the_check_the_index_decides_and_the_loser_is_answered_as_existing(
    monkeypatch,
):
    """Force the interleaving: the friendly pre-check finds nothing for either caller,
    so the second insert meets the unique index and takes the "existing account" path."""
    real_filter = User.objects.filter
    calls = Counter()

    def blind_first_check(*args, **kwargs):
        calls["filter"] += 1
        qs = real_filter(*args, **kwargs)
        return qs.none() if calls["filter"] <= 2 else qs

    monkeypatch.setattr(User.objects, "filter", blind_first_check)
    first = _signup(0)
    second = _signup(1)
    assert first.created and not second.created
    assert second.user.pk == first.user.pk
    monkeypatch.undo()
    assert User.objects.count() == 1
