"""Fixtures of the conversation-store tests: the assistant's domain, a store on each backend."""

from __future__ import annotations

import os
import uuid

import pytest
from rasa.shared.core.domain import Domain
from sqlalchemy.engine import make_url

from tests.conftest import POSTGRES_ADMIN_URL, ROOT, _admin, postgres_available


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(ROOT / "domain"))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'tracker.db'}"
        return
    problem = postgres_available()
    if problem:
        if os.environ.get("CI"):
            pytest.fail(problem)
        pytest.skip(problem)
    name = f"tracker_test_{uuid.uuid4().hex[:10]}"
    _admin(f'CREATE DATABASE "{name}"')
    yield make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
