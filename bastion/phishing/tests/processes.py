"""Real `bastion` processes against the test database, started as tests/processes.py starts them."""

import pytest

from tests.processes import started, stop, wait_for

__all__ = ["start", "stop", "wait_for"]


@pytest.fixture
def start(tmp_path):
    """start(*args) starts `bastion <args>`; every process still running is stopped at the end."""
    with started(tmp_path) as start_process:
        yield start_process
