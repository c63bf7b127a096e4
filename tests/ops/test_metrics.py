"""Prometheus metrics: hidden by default, behind a bearer token or opened for trusted networks,
and fed by the socket acknowledgements, the database error handlers and the town hall rooms."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from participation.errors import Forbidden
from participation.ops import metrics
from participation.realtime.acks import acknowledged


def _samples(body: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(body) for sample in family.samples}


def test_metrics_are_off_by_default(make_app):
    assert make_app().test_client().get("/metrics").status_code == 404


@pytest.mark.parametrize("header", [None, "Bearer wrong-token", "Basic c2VjcmV0",
                                    "metrics-token-123456"])
def test_metrics_token_is_required_when_configured(make_app, header):
    client = make_app(METRICS_TOKEN="metrics-token-123456").test_client()
    headers = {"Authorization": header} if header else {}
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "participation_" not in response.get_data(as_text=True)


def test_metrics_with_the_right_token_are_prometheus_text(make_app):
    client = make_app(METRICS_TOKEN="metrics-token-123456").test_client()
    response = client.get("/metrics", headers={"Authorization": "Bearer metrics-token-123456"})
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    names = {family.name for family in text_string_to_metric_families(response.get_data(
        as_text=True))}
    assert {"participation_socket_events", "participation_socket_ack_seconds",
            "participation_database_errors", "participation_townhall_connected_sockets",
            "participation_broadcasts", "process_cpu_seconds"} <= names


def test_metrics_enabled_opens_them_without_a_token(make_app):
    client = make_app(METRICS_ENABLED=True).test_client()
    assert client.get("/metrics").status_code == 200


def test_acknowledged_events_are_counted_and_timed(app):
    @acknowledged
    def metric_probe(payload):
        if payload.get("refuse"):
            raise Forbidden()
        return {"echo": payload["value"]}

    def value(name, **labels):
        return metrics.REGISTRY.get_sample_value(name, labels) or 0.0

    ok_before = value("participation_socket_events_total", event="metric_probe", outcome="ok")
    forbidden_before = value("participation_socket_events_total", event="metric_probe",
                             outcome="forbidden")
    invalid_before = value("participation_socket_events_total", event="metric_probe",
                           outcome="invalid")
    timed_before = value("participation_socket_ack_seconds_count", event="metric_probe")

    assert metric_probe({"value": 1}) == {"ok": True, "echo": 1}
    assert metric_probe({"refuse": True})["error"] == "forbidden"
    assert metric_probe("not an object")["error"] == "invalid"

    assert value("participation_socket_events_total", event="metric_probe",
                 outcome="ok") == ok_before + 1
    assert value("participation_socket_events_total", event="metric_probe",
                 outcome="forbidden") == forbidden_before + 1
    assert value("participation_socket_events_total", event="metric_probe",
                 outcome="invalid") == invalid_before + 1
    assert value("participation_socket_ack_seconds_count", event="metric_probe") == (
        timed_before + 3)
    assert value("participation_socket_ack_seconds_sum", event="metric_probe") > 0


def test_connected_sockets_per_townhall_rise_fall_and_disappear(make_app):
    client = make_app(METRICS_ENABLED=True).test_client()
    metrics.socket_joined(9001)
    metrics.socket_joined(9001)
    metrics.socket_joined(9002)
    body = _samples(client.get("/metrics").get_data(as_text=True))
    gauge = "participation_townhall_connected_sockets"
    assert body[(gauge, (("townhall_id", "9001"),))] == 2
    assert body[(gauge, (("townhall_id", "9002"),))] == 1
    metrics.socket_left(9001)
    metrics.socket_left(9002)
    metrics.socket_left(9002)  # a duplicate leave never goes below zero
    assert metrics.connected_sockets(9001) == 1
    assert metrics.connected_sockets(9002) == 0
    body = _samples(client.get("/metrics").get_data(as_text=True))
    assert body[(gauge, (("townhall_id", "9001"),))] == 1
    assert (gauge, (("townhall_id", "9002"),)) not in body
    metrics.socket_left(9001)


def test_broadcasts_are_counted(app):
    before = metrics.REGISTRY.get_sample_value("participation_broadcasts_total",
                                               {"event": "question"}) or 0.0
    metrics.broadcast_sent("question")
    assert metrics.REGISTRY.get_sample_value("participation_broadcasts_total",
                                             {"event": "question"}) == before + 1
