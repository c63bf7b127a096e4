"""deploy/: the nginx configuration in front of two workers that share PostgreSQL and Redis."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests
import socketio

from tests.conftest import REDIS_URL, ROOT


@pytest.mark.server
def test_http_through_nginx_reaches_both_workers_and_sticks_by_cookie(scaled_site):
    site = scaled_site()
    seen = set()
    for _ in range(40):
        marker = uuid.uuid4().hex
        response = requests.get(f"{site.url}/healthz?probe={marker}", timeout=10)
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}
        assert "participation_route" in response.cookies
        seen.update(site.nginx.upstreams_for(marker))
        if len(seen) == 2:
            break
    assert seen == {site.worker_address(0), site.worker_address(1)}

    # A browser keeps its route cookie, and with it its worker.
    browser = requests.Session()
    markers = []
    for _ in range(8):
        marker = uuid.uuid4().hex
        markers.append(marker)
        assert browser.get(f"{site.url}/readyz?probe={marker}", timeout=10).status_code == 200
    workers = {address for marker in markers for address in site.nginx.upstreams_for(marker)}
    assert len(workers) == 1

    # The home page renders through the proxy, and /metrics stays private behind it.
    assert browser.get(f"{site.url}/", timeout=10).status_code == 200
    assert browser.get(f"{site.url}/metrics", timeout=10).status_code == 404
    worker_metrics = requests.get(f"http://{site.worker_address(0)}/metrics", timeout=10)
    assert worker_metrics.status_code == 200


@pytest.mark.server
def test_a_broadcast_reaches_clients_on_both_workers_over_polling_and_websocket(scaled_site):
    site = scaled_site()
    clients = []
    received = {0: threading.Event(), 1: threading.Event()}
    payloads: dict[int, dict] = {}
    try:
        for index, transports in ((0, ["polling"]), (1, ["websocket"])):
            cookie = site.route_cookie(index)
            client = socketio.Client(reconnection=False)

            def on_probe(data, index=index):
                payloads[index] = data
                received[index].set()

            client.on("probe", on_probe)
            client.connect(site.url, headers={"Cookie": f"participation_route={cookie}"},
                           transports=transports, wait_timeout=10)
            clients.append(client)
            assert client.transport() == transports[0]

        # Any process that shares the queue reaches every client, whichever worker holds it.
        emitter = socketio.RedisManager(REDIS_URL, channel=site.env["SOCKETIO_CHANNEL"],
                                        write_only=True)
        emitter.emit("probe", {"n": 1}, namespace="/")
        assert received[0].wait(10) and received[1].wait(10)
        assert payloads == {0: {"n": 1}, 1: {"n": 1}}
    finally:
        for client in clients:
            client.disconnect()
    # nginx logs a WebSocket when it closes: each worker held one of the two sockets.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        routes = set(site.nginx.upstreams_for("/socket.io/"))
        if len(routes) == 2:
            break
        time.sleep(0.1)
    assert routes == {site.worker_address(0), site.worker_address(1)}


SYSTEMD_ANALYZE = shutil.which("systemd-analyze")


@pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed")
def test_systemd_units_are_valid(tmp_path):
    """The unit files parse without unknown keys and their ExecStart commands exist."""
    exe = str(Path(sys.executable).with_name("participation"))
    for unit in (ROOT / "deploy" / "systemd").iterdir():
        text = unit.read_text().replace("/opt/participation/.venv/bin/participation", exe)
        (tmp_path / unit.name).write_text(text)
    # A template unit is checked as one of its instances.
    (tmp_path / "participation@5001.service").write_text(
        (tmp_path / "participation@.service").read_text())
    result = subprocess.run(
        [SYSTEMD_ANALYZE, "verify", "--man=no", "participation@5001.service",
         "participation-migrate.service", "participation-worker.service",
         "participation.target"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr
