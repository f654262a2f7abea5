import pytest

from .helpers import add_person


@pytest.fixture
def leaders(db):
    """Two business leaders in the directory, to invite to reviews."""
    return [add_person(email="cfo@example.com", first_name="Carla", last_name="Finance"),
            add_person(email="coo@example.com", first_name="Oscar", last_name="Operations")]
