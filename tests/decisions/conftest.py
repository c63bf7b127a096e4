"""Decision factories: an official, a publish helper, and a test-only evidence provider.

`fake_evidence` stands in for polls, town halls and threads in tests that are about the chain
itself; the real providers are tested against the real domains.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from participation.accounts.models import User
from participation.decisions import services
from participation.decisions.models import DecisionRecord
from participation.decisions.providers import PROVIDERS, Evidence
from participation.errors import NotFound
from participation.extensions import db
from participation.security.permissions import Role


@pytest.fixture
def official(make_user: Callable[..., User]) -> User:
    return make_user(Role.OFFICIAL, name="Olivia Official")


class FakeItems:
    """Items a test provider knows: Evidence, or an error to raise for that id."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, int], Evidence | Exception] = {}

    def add(self, kind: str, item_id: int, **evidence: Any) -> Evidence:
        found = Evidence(title=evidence.pop("title", f"{kind} {item_id}"),
                         snapshot=evidence.pop("snapshot", {"id": item_id}), **evidence)
        self.items[(kind, item_id)] = found
        return found

    def refuse(self, kind: str, item_id: int, error: Exception) -> None:
        self.items[(kind, item_id)] = error

    def provider(self, kind: str) -> Callable[[Any, int], Evidence]:
        def freeze(session: Any, item_id: int) -> Evidence:
            found = self.items.get((kind, item_id))
            if found is None:
                raise NotFound()
            if isinstance(found, Exception):
                raise found
            return found

        return freeze


@pytest.fixture
def fake_evidence(monkeypatch: pytest.MonkeyPatch) -> FakeItems:
    """Replace the evidence providers with test-only ones for the three kinds."""
    fake = FakeItems()
    for kind in ("poll", "townhall", "thread"):
        monkeypatch.setitem(PROVIDERS, kind, fake.provider(kind))
    return fake


def draft(**fields: Any) -> services.Draft:
    values: dict[str, Any] = {"title": "Extend the Riverside library hours",
                              "summary": "We heard you. **Evening hours** start in March.",
                              "outcome": "adopted", "department": "Libraries"}
    values.update(fields)
    return services.Draft(**values)


@pytest.fixture
def publish(official: User) -> Callable[..., DecisionRecord]:
    """Publish and commit a record as the official (or `actor`)."""

    def factory(actor: User | None = None, **fields: Any) -> DecisionRecord:
        record = services.publish_decision(db.session, actor or official, draft(**fields))
        db.session.commit()
        return record

    return factory


