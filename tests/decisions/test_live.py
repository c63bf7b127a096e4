"""End to end on a real server: the demo's chain, downloaded by a visitor, verifies offline."""

from __future__ import annotations

import pytest
import requests


@pytest.mark.server
def test_demo_chain_downloaded_from_a_running_server_verifies(live_server, tmp_path):
    server = live_server()
    seeded = server.command("demo")
    assert seeded.returncode == 0, seeded.stderr
    server.start()
    page = requests.get(f"{server.url}/decisions/1", timeout=30)
    assert page.status_code == 200 and "Amended by" in page.text
    export = requests.get(f"{server.url}/api/v1/decisions/export", timeout=30)
    assert export.status_code == 200
    path = tmp_path / "downloaded.json"
    path.write_bytes(export.content)
    verified = server.command("verify", str(path))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stdout.startswith("OK: 3 records, head ")
    assert export.json()["head"] in verified.stdout
    tampered = export.content.replace(b"playground", b"Playground", 1)
    path.write_bytes(tampered)
    refused = server.command("verify", str(path))
    assert refused.returncode == 1 and refused.stdout.startswith("FAILED at record 1:")
