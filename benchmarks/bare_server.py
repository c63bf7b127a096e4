"""The baseline for benchmarks/fanout.py: a bare Flask-SocketIO server on eventlet that joins
watchers to a room and, on `moderate`, broadcasts a `question` message of a given size. No
database, no sessions checked, no authorization: only the cost of the fan-out itself."""

from __future__ import annotations

import warnings

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

import eventlet  # noqa: E402

eventlet.monkey_patch()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
from typing import Any  # noqa: E402

from flask import Flask  # noqa: E402
from flask_socketio import SocketIO, join_room  # noqa: E402

NS = "/townhall"


def payload_of_size(question_id: int, seq: int, size: int) -> dict[str, Any]:
    """A `question` payload whose Socket.IO text message is `size` bytes, like the app's."""
    data: dict[str, Any] = {"question": {"id": question_id, "status": "approved", "text": ""},
                            "townhall_id": 1, "seq": seq}
    framing = len(f'42{NS},["question",]') + len(json.dumps(data, separators=(",", ":")))
    data["question"]["text"] = "x" * max(0, size - framing)
    return data


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--payload-bytes", type=int, default=600)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    app = Flask(__name__)
    app.config["SECRET_KEY"] = os.urandom(32).hex()
    socketio = SocketIO(app, async_mode="eventlet", cors_allowed_origins=None,
                        max_http_buffer_size=1024 * 1024, ping_interval=20, ping_timeout=20)
    counter = {"seq": 0}

    @socketio.on("join", namespace=NS)
    def join(data: dict[str, Any]) -> dict[str, Any]:
        join_room(f"townhall:{int(data['townhall_id'])}")
        return {"ok": True, "seq": counter["seq"]}

    @socketio.on("moderate", namespace=NS)
    def moderate(data: dict[str, Any]) -> dict[str, Any]:
        counter["seq"] += 1
        socketio.emit("question", payload_of_size(int(data["question_id"]), counter["seq"],
                                                  args.payload_bytes),
                      to="townhall:1", namespace=NS)
        return {"ok": True}

    socketio.run(app, host="127.0.0.1", port=args.port, log_output=False, max_size=20_000)


if __name__ == "__main__":
    main()
