"""Posts sent to ``POST /v1/posts`` by any other tool, in the replay file's post shape.

A request is a JSON array of posts, or ``{"posts": [...]}``; ``"type"`` may be
left out (every item is a post). Every item is checked before anything is
stored and every problem is reported with a JSON pointer to it, so a sender
fixes a whole batch in one round trip; a batch with any bad item stores
nothing, which keeps retries simple (resend the corrected batch; what was
stored before is recognised by (source, id) and not stored twice).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from ingest.records import Post

#: Post field -> replay-file field, for pointing at what the sender wrote
_WIRE_NAMES = {"external_id": "id", "author_key": "author"}


@dataclass(frozen=True)
class IntakeProblem:
    """One reason one item (or the whole body) was refused."""

    pointer: str
    detail: str


def _item_to_post(item: dict[str, Any]) -> Post:
    fields = {key: value for key, value in item.items() if key != "type"}
    for wire, name in (("id", "external_id"), ("author", "author_key")):
        if wire in fields:
            fields[name] = fields.pop(wire)
    return Post.model_validate(fields)


def parse_intake(body: Any, *, max_posts: int) -> tuple[list[Post], list[IntakeProblem]]:
    """The posts of a request body, or every problem found in it (then no posts)."""
    if isinstance(body, dict) and isinstance(body.get("posts"), list):
        items, base = body["posts"], "/posts"
    elif isinstance(body, list):
        items, base = body, ""
    else:
        return [], [IntakeProblem("", "expected a JSON array of posts or an object with a 'posts' array")]
    if not items:
        return [], [IntakeProblem(base or "/", "no posts in the request")]
    if len(items) > max_posts:
        return [], [
            IntakeProblem(base or "/", f"{len(items)} posts is more than the {max_posts} allowed per request")
        ]
    posts: list[Post] = []
    problems: list[IntakeProblem] = []
    for index, item in enumerate(items):
        where = f"{base}/{index}"
        if not isinstance(item, dict):
            problems.append(IntakeProblem(where, "expected a JSON object"))
            continue
        if item.get("type", "post") != "post":
            problems.append(IntakeProblem(f"{where}/type", f"must be 'post', not {item.get('type')!r}"))
            continue
        try:
            posts.append(_item_to_post(item))
        except ValidationError as error:
            for detail in error.errors():
                path = "/".join(_WIRE_NAMES.get(str(part), str(part)) for part in detail["loc"])
                problems.append(IntakeProblem(f"{where}/{path}" if path else where, detail["msg"]))
    return ([] if problems else posts), problems
