"""`participation serve` keeps a meeting's burst of connections waiting instead of dropping them:
its listening socket's queue is SERVER_BACKLOG long (eventlet's own default is 50)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest


def listen_queue(port: int) -> int:
    """The accept queue's length of the socket listening on `port` (ss's Send-Q)."""
    out = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True,
                         check=True, timeout=10).stdout.split()
    assert out, f"nothing listens on {port}"
    return int(out[2])


@pytest.mark.server
@pytest.mark.parametrize("backlog", [None, "1000"])
def test_the_server_listens_with_the_configured_queue(live_server, backlog):
    if not Path("/usr/bin/ss").exists() and not Path("/bin/ss").exists():
        pytest.skip("ss (iproute2) is not installed")
    somaxconn = int(Path("/proc/sys/net/core/somaxconn").read_text())
    server = live_server({"SERVER_BACKLOG": backlog} if backlog else None).start()
    expected = min(int(backlog or 4096), somaxconn)
    assert listen_queue(server.port) == expected
