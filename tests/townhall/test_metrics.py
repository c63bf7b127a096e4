"""The town hall feeds the operations metrics: sockets per town hall, broadcasts, ack timings."""

from __future__ import annotations

from participation.ops import metrics
from participation.realtime.rooms import NAMESPACE


def _sample(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


def test_connected_sockets_gauge_follows_joins_leaves_and_disconnects(townhall, joined):
    label = str(townhall.id)
    assert _sample("participation_townhall_connected_sockets", townhall_id=label) == 0
    first = joined(townhall, None)
    second = joined(townhall, "resident")
    assert first.join_ack["ok"] and second.join_ack["ok"]
    assert _sample("participation_townhall_connected_sockets", townhall_id=label) == 2
    # Joining twice from one socket is still one socket.
    first.emit("join", {"townhall_id": townhall.id}, namespace=NAMESPACE, callback=True)
    assert _sample("participation_townhall_connected_sockets", townhall_id=label) == 2

    assert first.emit("leave", {"townhall_id": townhall.id}, namespace=NAMESPACE,
                      callback=True)["ok"]
    assert _sample("participation_townhall_connected_sockets", townhall_id=label) == 1
    second.disconnect(NAMESPACE)
    assert metrics.connected_sockets(townhall.id) == 0
    assert metrics.REGISTRY.get_sample_value("participation_townhall_connected_sockets",
                                             {"townhall_id": label}) is None


def test_moderation_is_counted_as_events_broadcasts_and_ack_timings(townhall, make_question,
                                                                    joined):
    question = make_question(townhall)
    mod = joined(townhall, "moderator", moderator=True)
    broadcasts = _sample("participation_broadcasts_total", event="question")
    handled = _sample("participation_socket_events_total", event="moderate", outcome="ok")
    timed = _sample("participation_socket_ack_seconds_count", event="moderate")
    refused = _sample("participation_socket_events_total", event="moderate",
                      outcome="not_found")

    ack = mod.emit("moderate", {"question_id": question.id, "action": "approve"},
                   namespace=NAMESPACE, callback=True)
    assert ack["ok"], ack
    assert mod.emit("moderate", {"question_id": 2**31 - 1, "action": "approve"},
                    namespace=NAMESPACE, callback=True)["error"] == "not_found"

    assert _sample("participation_broadcasts_total", event="question") > broadcasts
    assert _sample("participation_socket_events_total", event="moderate",
                   outcome="ok") == handled + 1
    assert _sample("participation_socket_events_total", event="moderate",
                   outcome="not_found") == refused + 1
    assert _sample("participation_socket_ack_seconds_count", event="moderate") == timed + 2
