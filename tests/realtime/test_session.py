"""A socket's events run on the connection's own copy of the session, without reading the cookie
again: the account behind the socket is still known, and sign-out still ends it."""

from __future__ import annotations

from flask.sessions import SecureCookieSessionInterface

from participation.realtime.rooms import NAMESPACE
from participation.security.permissions import Role


def test_events_after_connect_do_not_decode_the_cookie_again(app, client_as, socket_client,
                                                             monkeypatch):
    decoded = []
    real = SecureCookieSessionInterface.get_signing_serializer

    def counting(self, app):
        decoded.append(1)
        return real(self, app)

    http = client_as(Role.RESIDENT)
    monkeypatch.setattr(SecureCookieSessionInterface, "get_signing_serializer", counting)
    sio = socket_client(http)
    after_connect = len(decoded)
    assert after_connect >= 1  # the connection itself reads the sign-in cookie
    for _ in range(3):
        ack = sio.emit("vote", {"poll_id": 987654, "choices": [1]}, namespace=NAMESPACE,
                       callback=True)
        # Known as a signed-in resident (a visitor would get `unauthorized`).
        assert ack["error"] == "not_found", ack
    assert len(decoded) == after_connect
    # A plain page still reads the cookie.
    assert http.get("/account").status_code == 200
    assert len(decoded) > after_connect
