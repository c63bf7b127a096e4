"""Fixtures for operating the app: a TCP proxy the tests can cut to take a database away."""

from __future__ import annotations

import contextlib
import os
import re
import select
import shutil
import socket
import subprocess
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PG_URL, REDIS_URL, ROOT, free_port, wait_for_port


class TcpProxy:
    """Forward 127.0.0.1:<port> to a target; `cut()` drops every connection and refuses new
    ones until `restore()`, like a database server that went away and came back."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def start(self) -> TcpProxy:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        thread = threading.Thread(target=self._accept, args=(listener,), daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._pairs.append((client, upstream))
            thread = threading.Thread(target=self._pump, args=(client, upstream), daemon=True)
            thread.start()

    def _pump(self, client: socket.socket, upstream: socket.socket) -> None:
        sockets = [client, upstream]
        try:
            while True:
                readable, _, _ = select.select(sockets, [], [], 0.5)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    (upstream if sock is client else client).sendall(data)
        except (OSError, ValueError):
            return
        finally:
            self._close(client, upstream)

    def _close(self, *sockets: socket.socket) -> None:
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def cut(self) -> None:
        """Refuse new connections and reset the open ones."""
        if self._listener is not None:
            # shutdown() wakes the thread blocked in accept(); close() alone would not.
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for client, upstream in pairs:
            self._close(client, upstream)

    def restore(self) -> None:
        if self._listener is None:
            self.start()

    def stop(self) -> None:
        self.cut()


@pytest.fixture
def tcp_proxy() -> Iterator[type[TcpProxy]]:
    made: list[TcpProxy] = []

    def factory(host: str, port: int) -> TcpProxy:
        proxy = TcpProxy(host, port).start()
        made.append(proxy)
        return proxy

    yield factory  # type: ignore[misc]
    for proxy in made:
        proxy.stop()


NGINX = "/usr/sbin/nginx"
DEPLOY_CONFIG = ROOT / "deploy" / "nginx" / "participation.conf"
UPSTREAM_SERVER = re.compile(r"^(\s*)server 127\.0\.0\.1:\d+ (.*);$", re.MULTILINE)


def render_deploy_config(listen_port: int, worker_ports: list[int]) -> str:
    """deploy/nginx/participation.conf with the test's ports: nothing else is changed."""
    text = DEPLOY_CONFIG.read_text()
    servers = UPSTREAM_SERVER.findall(text)
    assert servers, "the deploy config lists no upstream workers"
    indent, options = servers[0]
    text = UPSTREAM_SERVER.sub("", text)
    lines = "".join(f"{indent}server 127.0.0.1:{port} {options};\n" for port in worker_ports)
    text = text.replace("    hash $participation_route consistent;\n",
                        "    hash $participation_route consistent;\n" + lines, 1)
    assert "    listen 80;\n" in text
    return text.replace("    listen 80;\n", f"    listen 127.0.0.1:{listen_port};\n", 1)


class Nginx:
    """Debian's nginx in the foreground, its prefix, logs and temp files in a test folder.

    The access log records which worker (`$upstream_addr`) answered each request.
    """

    def __init__(self, folder: Path, worker_ports: list[int]) -> None:
        self.folder = folder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.access_log = folder / "access.log"
        (folder / "logs").mkdir(parents=True, exist_ok=True)
        (folder / "participation.conf").write_text(render_deploy_config(self.port, worker_ports))
        user = "user root root;\n" if os.geteuid() == 0 else ""
        temp = "".join(f"    {kind}_temp_path {folder / kind};\n"
                       for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        (folder / "nginx.conf").write_text(
            f"{user}worker_processes 1;\ndaemon off;\npid {folder / 'nginx.pid'};\n"
            f"error_log {folder / 'error.log'} info;\n"
            "events { worker_connections 512; }\n"
            "http {\n"
            "    log_format routed '$upstream_addr $status \"$request\"';\n"
            f"    access_log {self.access_log} routed;\n{temp}"
            f"    include {folder / 'participation.conf'};\n"
            "}\n")
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Nginx:
        args = [NGINX, "-p", str(self.folder), "-e", str(self.folder / "error.log"),
                "-c", str(self.folder / "nginx.conf")]
        check = subprocess.run([*args, "-t"], capture_output=True, text=True, timeout=30,
                               check=False)
        assert check.returncode == 0, check.stderr
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        if not wait_for_port(self.port, 15, self.process):
            raise RuntimeError(f"nginx did not start: {(self.folder / 'error.log').read_text()}")
        return self

    def upstreams_for(self, marker: str) -> list[str]:
        """The worker addresses that answered requests whose line contains `marker`."""
        if not self.access_log.exists():
            return []
        return [line.split(" ", 1)[0] for line in self.access_log.read_text().splitlines()
                if marker in line]

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_patiently(server: Any, timeout: float = 120.0) -> None:
    """LiveServer.start with more time: two workers importing at once on a busy two-core
    machine can take longer than its 30 seconds."""
    server.start(timeout)


def truncate_postgresql(url: str) -> None:
    from sqlalchemy import create_engine, text

    import participation.models  # noqa: F401 - every table is known to the metadata
    from participation.db import Base

    tables = [t.name for t in Base.metadata.sorted_tables]
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables)
                                + " RESTART IDENTITY CASCADE"))
    engine.dispose()


class ScaledSite:
    """Two `participation serve` workers on one PostgreSQL database and one Redis queue,
    behind nginx configured by deploy/nginx/participation.conf."""

    def __init__(self, workers: list[Any], nginx: Nginx, env: dict[str, str]) -> None:
        self.workers = workers
        self.nginx = nginx
        self.env = env
        self.url = nginx.url

    def worker_address(self, index: int) -> str:
        return f"127.0.0.1:{self.workers[index].port}"

    def route_cookie(self, index: int) -> str:
        """A `participation_route` value that nginx sends to worker `index`."""
        import requests

        wanted = self.worker_address(index)
        for _ in range(60):
            marker = uuid.uuid4().hex
            response = requests.get(f"{self.url}/healthz?probe={marker}", timeout=10)
            assert response.status_code == 200
            if self.nginx.upstreams_for(marker) == [wanted]:
                return response.cookies["participation_route"]
        raise AssertionError(f"no request reached {wanted}")

    def session_on(self, index: int) -> Any:
        """A requests session (a browser) that nginx routes to worker `index`."""
        import requests

        http = requests.Session()
        http.cookies.set("participation_route", self.route_cookie(index))
        return http


@pytest.fixture
def scaled_site(request: pytest.FixtureRequest, live_server: Callable[..., Any],
                tmp_path: Path) -> Iterator[Callable[..., ScaledSite]]:
    """Start the two-worker site; PostgreSQL and Redis must be configured for the suite."""
    if not PG_URL or not REDIS_URL:
        pytest.skip("needs PARTICIPATION_TEST_DATABASE_URL and PARTICIPATION_TEST_REDIS_URL")
    if not Path(NGINX).exists():
        pytest.fail(f"{NGINX} is missing: apt-get install -y nginx (make test does this as "
                    "root, through .ci/install-test-tools)")
    url = request.getfixturevalue("migrated_postgresql")
    sites: list[ScaledSite] = []

    def start(queue_url: str | None = None, **extra_env: str) -> ScaledSite:
        import redis

        # Rate limits live in the suite's Redis database: start from none, as make_app does.
        with redis.Redis.from_url(REDIS_URL or "") as connection:
            connection.flushdb()
        env = {"DATABASE_URL": url, "SOCKETIO_MESSAGE_QUEUE": queue_url or REDIS_URL or "",
               # Pub/sub channels span every Redis database: a channel of our own keeps other
               # test runs' broadcasts out.
               "SOCKETIO_CHANNEL": f"participation-test-{uuid.uuid4().hex[:12]}",
               "RATELIMIT_STORAGE_URI": REDIS_URL or "memory://", "TRUSTED_PROXIES": "1",
               "SECRET_KEY": "scaled-" + uuid.uuid4().hex, "METRICS_ENABLED": "1",
               **extra_env}
        # migrated_postgresql has built the schema already.
        workers = [live_server(env, migrate=False) for _ in range(2)]
        # Both start at once: each takes a few seconds to import and bind.
        failures: list[BaseException] = []

        def start_worker(worker: Any) -> None:
            try:
                start_patiently(worker)
            except BaseException as error:  # noqa: BLE001 - re-raised below, in the test
                failures.append(error)

        starters = [threading.Thread(target=start_worker, args=(w,)) for w in workers]
        for thread in starters:
            thread.start()
        for thread in starters:
            thread.join()
        if failures:
            raise failures[0]
        nginx = Nginx(tmp_path / f"nginx-{len(sites)}", [w.port for w in workers]).start()
        site = ScaledSite(workers, nginx, env)
        sites.append(site)
        return site

    yield start
    for site in sites:
        site.nginx.stop()
        for worker in site.workers:
            worker.stop()
    truncate_postgresql(url)


REDIS_SERVER = shutil.which("redis-server")


class RedisServer:
    """A redis-server of the test's own on a free port, to kill and restart at will (never the
    machine's shared one)."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.folder = folder
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisServer:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [str(REDIS_SERVER), "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_for_port(self.port, 10, self.process):
            raise RuntimeError("redis-server did not start")
        return self

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed")
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.kill()
