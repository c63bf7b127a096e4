"""Read-only forum API: public content only, paginated, described in the OpenAPI document."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify
from flask_babel import gettext as _

from participation.api import OPENAPI_SCHEMAS, PAGE_PARAMETERS, bp, document, path_id
from participation.errors import NotFound
from participation.extensions import db
from participation.forums import services
from participation.forums.models import Post, Thread, Topic
from participation.security.permissions import can
from participation.web import page_arguments, request_actor


def _time(value: Any) -> str | None:
    return value.isoformat() if value else None


def topic_json(topic: Topic, thread_count: int | None = None) -> dict[str, Any]:
    # A topic is public; the town hall it belongs to is named only to those who may see it.
    townhall_id = (topic.townhall_id if topic.townhall is not None
                   and can(request_actor(), "townhall.view", topic.townhall) else None)
    data = {"id": topic.id, "title": topic.title, "description_html": topic.description_html,
            "status": topic.status.value, "townhall_id": townhall_id,
            "created_at": _time(topic.created_at)}
    if thread_count is not None:
        data["thread_count"] = thread_count
    return data


def thread_json(thread: Thread) -> dict[str, Any]:
    return {"id": thread.id, "topic_id": thread.topic_id, "title": thread.title,
            "author": thread.author.public_name if thread.author else None,
            "created_at": _time(thread.created_at),
            "last_activity_at": _time(thread.last_activity_at),
            "reply_count": thread.reply_count, "locked": thread.locked, "pinned": thread.pinned}


def post_json(post: Post) -> dict[str, Any]:
    status = "deleted" if post.deleted else "hidden" if post.hidden else "visible"
    visible = status == "visible"
    return {"id": post.id, "status": status, "opening": post.is_opening,
            "author": (post.author.public_name if post.author else None) if visible else None,
            "body_html": post.body_html if visible else None,
            "quote_of_id": post.quote_of_id if visible else None,
            "official_department": post.official_department if visible else None,
            "created_at": _time(post.created_at),
            "edited_at": _time(post.edited_at) if visible else None}


def page_json(items: list[dict[str, Any]], page: int, per_page: int,
              total: int) -> dict[str, Any]:
    return {"items": items, "page": page, "per_page": per_page, "total": total}


def _page_schema(item: str) -> dict[str, Any]:
    return {"type": "object", "required": ["items", "page", "per_page", "total"],
            "properties": {"items": {"type": "array",
                                     "items": {"$ref": f"#/components/schemas/{item}"}},
                           "page": {"type": "integer"}, "per_page": {"type": "integer"},
                           "total": {"type": "integer"}}}


_string = {"type": "string"}
_nullable_string = {"type": "string", "nullable": True}
_time_schema = {"type": "string", "format": "date-time"}
OPENAPI_SCHEMAS.update({
    "ForumTopic": {"type": "object", "properties": {
        "id": {"type": "integer"}, "title": _string, "description_html": _string,
        "status": {"type": "string", "enum": ["open", "archived"]},
        "townhall_id": {"type": "integer", "nullable": True,
                        "description": "null when the topic has no town hall, or it is private "
                                       "and the request is not signed in"},
        "created_at": _time_schema,
        "thread_count": {"type": "integer"}}},
    "ForumThread": {"type": "object", "properties": {
        "id": {"type": "integer"}, "topic_id": {"type": "integer"}, "title": _string,
        "author": _nullable_string, "created_at": _time_schema,
        "last_activity_at": _time_schema, "reply_count": {"type": "integer"},
        "locked": {"type": "boolean"}, "pinned": {"type": "boolean"}}},
    "ForumPost": {"type": "object", "properties": {
        "id": {"type": "integer"},
        "status": {"type": "string", "enum": ["visible", "hidden", "deleted"]},
        "opening": {"type": "boolean"}, "author": _nullable_string,
        "body_html": {"type": "string", "nullable": True,
                      "description": "Sanitized HTML; null when hidden or deleted."},
        "quote_of_id": {"type": "integer", "nullable": True},
        "official_department": {"type": "string", "nullable": True,
                                "description": "On an official response: the department that "
                                               "answers; null on any other post."},
        "created_at": _time_schema,
        "edited_at": {"type": "string", "format": "date-time", "nullable": True}}},
})
OPENAPI_SCHEMAS["ForumTopicPage"] = _page_schema("ForumTopic")
OPENAPI_SCHEMAS["ForumThreadPage"] = _page_schema("ForumThread")
OPENAPI_SCHEMAS["ForumPostPage"] = _page_schema("ForumPost")


@bp.route("/topics")
@document("/topics", "Forum topics, open ones first", parameters=PAGE_PARAMETERS,
          response={"$ref": "#/components/schemas/ForumTopicPage"}, tag="forums")
def topics() -> Response:
    page, per_page = page_arguments()
    rows, total = services.list_topics(db.session, page=page, per_page=per_page)
    return jsonify(page_json([topic_json(t, n) for t, n in rows], page, per_page, total))


@bp.route("/topics/<int:topic_id>/threads")
@document("/topics/{topic_id}/threads", "A topic's threads, pinned then latest activity first",
          parameters=[path_id("topic_id", "The topic"), *PAGE_PARAMETERS],
          response={"$ref": "#/components/schemas/ForumThreadPage"}, tag="forums")
def topic_threads(topic_id: int) -> Response:
    page, per_page = page_arguments()
    topic = services.get_topic(db.session, topic_id)
    threads, total = services.list_threads(db.session, topic, page=page, per_page=per_page,
                                           include_hidden=False)
    return jsonify({"topic": topic_json(topic),
                    **page_json([thread_json(t) for t in threads], page, per_page, total)})


@bp.route("/threads/<int:thread_id>")
@document("/threads/{thread_id}", "A thread and its posts (hidden or deleted ones without text)",
          parameters=[path_id("thread_id", "The thread"), *PAGE_PARAMETERS],
          response={"type": "object", "properties": {
              "thread": {"$ref": "#/components/schemas/ForumThread"},
              "posts": {"$ref": "#/components/schemas/ForumPostPage"}}}, tag="forums")
def thread(thread_id: int) -> Response:
    page, per_page = page_arguments()
    thread = services.get_thread(db.session, thread_id)
    if thread.hidden:
        raise NotFound(_("There is no such thread."))
    posts, total = services.thread_posts(db.session, thread, page=page, per_page=per_page)
    return jsonify({"thread": thread_json(thread),
                    "posts": page_json([post_json(p) for p in posts], page, per_page, total)})
