"""Live town-hall pages as python-socketio clients, for tests against real workers."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import requests
import socketio

from participation import create_app
from participation.extensions import db
from participation.realtime.rooms import NAMESPACE
from participation.townhall.models import Question, QuestionStatus
from tests.conftest import CSRF_RE, base_config


def wait_for(condition: Callable[[], bool], timeout: float = 20.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def form_token(http: requests.Session, url: str) -> str:
    match = CSRF_RE.search(http.get(url, timeout=10).text)
    assert match, f"no CSRF token on {url}"
    return match.group(1) or match.group(2)


def cookies(http: requests.Session) -> dict[str, str]:
    return {"Cookie": "; ".join(f"{c.name}={c.value}" for c in http.cookies)}


class Watcher:
    """A town-hall page as static/js/townhall.js behaves: joins on connect and on `resync`
    (with `since` once it has seen something), applies `question` events, ignores repeats.

    `arrivals` lists every `question` event's sequence number as it came, live or replayed;
    `seqs` the distinct ones in the order first seen; `replayed_since` each rejoin's `since` with
    the sequence numbers its ack replayed."""

    def __init__(self, url: str, townhall_id: int, headers: dict[str, str] | None = None, *,
                 moderator: bool = False):
        self.townhall_id = townhall_id
        self.moderator = moderator
        # Every `queue` and `session_ended` event, and whether the server closed the socket.
        self.queued: list[dict[str, Any]] = []
        self.ended: list[dict[str, Any]] = []
        self.join_errors: list[str] = []
        self.lock = threading.Lock()
        self.seq = 0
        self.seqs: list[int] = []
        self.arrivals: list[int] = []
        self.replayed_since: list[tuple[int, list[int]]] = []
        self.public: dict[int, str] = {}
        self.joins = 0
        self.resyncs = 0
        self.presence: int | None = None
        self.tallies: dict[int, dict[str, Any]] = {}
        self.client = socketio.Client(reconnection_delay=0.2, reconnection_delay_max=1.0)
        self.client.on("connect", self.rejoin, namespace=NAMESPACE)
        self.client.on("resync", self.resync, namespace=NAMESPACE)
        self.client.on("question", self.live_event, namespace=NAMESPACE)
        self.client.on("presence", self.counted, namespace=NAMESPACE)
        self.client.on("tally", self.tallied, namespace=NAMESPACE)
        self.client.on("queue", self.queued.append, namespace=NAMESPACE)
        self.client.on("session_ended", self.ended.append, namespace=NAMESPACE)
        self.client.connect(url, namespaces=[NAMESPACE], transports=["websocket"],
                            headers=headers or {}, wait_timeout=20)

    def resync(self, data: Any = None) -> None:
        with self.lock:
            self.resyncs += 1
        self.rejoin()

    def rejoin(self) -> None:
        payload: dict[str, Any] = {"townhall_id": self.townhall_id, "moderator": self.moderator}
        with self.lock:
            if self.joins:
                payload["since"] = self.seq
        self.client.emit("join", payload, namespace=NAMESPACE, callback=self.joined)

    def joined(self, ack: dict[str, Any]) -> None:
        if not ack["ok"]:
            self.join_errors.append(ack["error"])
            return
        with self.lock:
            self.joins += 1
            if "snapshot" in ack:
                self.public = {q["id"]: q["status"] for q in ack["snapshot"]["questions"]}
            else:
                self.replayed_since.append((self.seq, [e["data"]["seq"] for e in ack["events"]]))
                for entry in ack["events"]:
                    if entry["event"] == "question":
                        self.apply(entry["data"])
            self.seq = max(self.seq, ack["seq"])

    def tallied(self, data: dict[str, Any]) -> None:
        with self.lock:
            self.tallies[data["poll_id"]] = data["results"]

    def votes(self, poll_id: int) -> list[int] | None:
        with self.lock:
            results = self.tallies.get(poll_id)
            return None if results is None else [o["votes"] for o in results["options"]]

    def counted(self, data: dict[str, Any]) -> None:
        if data.get("townhall_id") == self.townhall_id:
            self.presence = data["count"]

    def live_event(self, data: dict[str, Any]) -> None:
        with self.lock:
            self.apply(data)

    def apply(self, data: dict[str, Any]) -> None:
        self.arrivals.append(data["seq"])
        if data["seq"] in self.seqs:
            return  # sent live and replayed after a resync: shown once, as the page does
        self.seqs.append(data["seq"])
        self.seq = max(self.seq, data["seq"])
        question = data["question"]
        if question["status"] in ("approved", "answered"):
            self.public[question["id"]] = question["status"]
        else:
            self.public.pop(question["id"], None)

    def approved(self) -> set[int]:
        with self.lock:
            return {qid for qid, status in self.public.items() if status == "approved"}


def database_approved(url: str, townhall_id: int) -> set[int]:
    app = create_app(base_config(SQLALCHEMY_DATABASE_URI=url))
    with app.app_context():
        ids = set(db.session.scalars(db.select(Question.id).where(
            Question.townhall_id == townhall_id, Question.status == QuestionStatus.APPROVED)))
        db.session.remove()
        db.engine.dispose()
    return ids


def create_accounts(url: str, **emails_by_role: str) -> None:
    """Accounts in a live site's database (faster than one command-line process each), with
    confirmed addresses as `participation create-user` makes them. Staff
    accounts set their second factor up at their first sign-in, as real ones do."""
    from tests.two_factor import forget

    forget(*emails_by_role.values())
    from participation.accounts import services
    from participation.security.permissions import Role
    from tests.conftest import PASSWORD

    app = create_app(base_config(SQLALCHEMY_DATABASE_URI=url))
    with app.app_context():
        for role, email in emails_by_role.items():
            user = services.register_user(db.session, email=email, display_name=role.title(),
                                          password=PASSWORD, role=Role(role),
                                          confirmed=True)
            assert user is not None, email
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


def create_live_poll(url: str, townhall_id: int, official_email: str) -> tuple[int, list[int]]:
    """An open single-choice poll with live results in the town hall; (poll id, option ids)."""
    from participation.accounts.models import User
    from participation.polls import services

    app = create_app(base_config(SQLALCHEMY_DATABASE_URI=url))
    with app.app_context():
        official = db.session.scalar(db.select(User).where(User.email == official_email))
        poll = services.create_poll(db.session, official, question="Which bus line first?",
                                    options=["Line 4", "Line 9"], kind="single",
                                    results_mode="live", townhall_id=townhall_id)
        services.open_poll(db.session, official, poll)
        db.session.commit()
        answer = poll.id, [option.id for option in poll.options]
        db.session.remove()
        db.engine.dispose()
    return answer


def signed_in_session(base_url: str, email: str,
                      http: requests.Session | None = None) -> requests.Session:
    """An HTTP session (`http`, or a new one) signed in on a live site, as a browser would be."""
    from tests.conftest import PASSWORD

    http = http or requests.Session()
    from tests.two_factor import finish_http_sign_in

    response = http.post(base_url + "/login", timeout=10, allow_redirects=False, data={
        "email": email, "password": PASSWORD, "csrf_token": form_token(http, base_url + "/login")})
    response = finish_http_sign_in(http, base_url, response, email)
    assert response.status_code == 302, response.text
    return http


def post_form(http: requests.Session, base_url: str, path: str, page: str,
              **fields: str) -> requests.Response:
    """Submit a form on a live site with the CSRF token of the page that shows it."""
    response = http.post(base_url + path, timeout=10, allow_redirects=False,
                         data={"csrf_token": form_token(http, base_url + page), **fields})
    assert response.status_code in (200, 302), (response.status_code, response.text[:500])
    return response


def open_live_townhall(base_url: str, official: requests.Session, title: str, *,
                       public: bool = True) -> int:
    """A town hall scheduled by `official` and set live at once; its id."""
    fields = {"title": title, "starts_at": "2026-01-01T10:00", "ends_at": "2030-01-01T10:00",
              "question_max_length": "300", "allow_anonymous": "y"}
    if public:
        fields["is_public"] = "y"
    response = post_form(official, base_url, "/townhalls/new", "/townhalls/new", **fields)
    townhall_id = int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    post_form(official, base_url, f"/townhalls/{townhall_id}/status",
              f"/townhalls/{townhall_id}", status="live")
    return townhall_id


def user_id_on(url: str, email: str) -> int:
    """The id of an account in a live site's database."""
    from participation.accounts.models import User

    app = create_app(base_config(SQLALCHEMY_DATABASE_URI=url))
    with app.app_context():
        user_id = db.session.scalar(db.select(User.id).where(User.email == email))
        db.session.remove()
        db.engine.dispose()
    assert user_id is not None, email
    return user_id
