"""A manager's people: everyone whose chain of command reaches them, within a number of levels,
even when the directory has a loop in it."""

import pytest

from bastion.people.models import Person

_n = iter(range(1, 10_000))


def person(name: str, manager: Person | None = None) -> Person:
    return Person.objects.create(employee_id=f"R{next(_n):05d}", email=f"{name.lower()}@example.com",
                                 first_name=name, last_name="Chain", manager=manager)


def names(people) -> set[str]:
    return set(people.values_list("first_name", flat=True))


@pytest.mark.django_db
def test_reporting_to_follows_the_chain_down_to_the_depth():
    ceo = person("Ceo")
    vp = person("Vp", ceo)
    lead = person("Lead", vp)
    dev = person("Dev", lead)
    person("Other")
    assert names(Person.objects.reporting_to(ceo)) == {"Vp", "Lead", "Dev"}
    assert names(Person.objects.reporting_to(ceo, depth=2)) == {"Vp", "Lead"}
    assert names(Person.objects.reporting_to(ceo, depth=1)) == {"Vp"}
    assert names(Person.objects.reporting_to(ceo, depth=0)) == set()
    assert names(Person.objects.reporting_to(lead)) == {"Dev"}
    assert names(Person.objects.reporting_to(dev)) == set()
    # It narrows a queryset like any filter.
    assert names(Person.objects.filter(first_name__startswith="L").reporting_to(ceo)) == {"Lead"}


@pytest.mark.django_db
def test_reporting_to_ends_in_a_loop_of_managers(django_assert_num_queries):
    a = person("Alpha")
    b = person("Beta", a)
    c = person("Gamma", b)
    Person.objects.filter(pk=a.pk).update(manager=c)  # a → c → b → a
    person("Delta", c)
    with django_assert_num_queries(1):
        assert names(Person.objects.reporting_to(a)) == {"Alpha", "Beta", "Gamma", "Delta"}
    assert names(Person.objects.reporting_to(a, depth=2)) == {"Beta", "Gamma"}
    assert names(Person.objects.reporting_to(a, depth=100)) == {"Alpha", "Beta", "Gamma", "Delta"}
