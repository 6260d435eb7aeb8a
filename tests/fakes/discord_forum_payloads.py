"""Wire formats and rules of forum channels (type 15): the channel, its tags, and who may change a post's tags.

Shapes follow Discord's channel resource docs ("Channel Object", "Forum Tag Object", "Start Thread in Forum or
Media Channel", "Modify Channel" for threads) and the threads topic ("Editing & Deleting Threads"). Pure: no state
lives here; ``discord_forums.ForumActions`` owns it.
"""

from __future__ import annotations

from collections.abc import Iterable

from fakes.discord_protocol import JSON
from fakes.discord_validation import FormErrors

FORUM_CHANNEL = 15
MAX_APPLIED_TAGS = 5
MAX_TAG_NAME = 20
# Thread fields a thread's creator may change without MANAGE_THREADS ("Editing & Deleting Threads"); tags are
# theirs too, except moderated ones (discord.py's Thread.add_tags documents the same rule).
OWNER_EDITABLE = frozenset({"name", "archived", "auto_archive_duration", "applied_tags"})
THREAD_EDITABLE = OWNER_EDITABLE | {"locked", "rate_limit_per_user", "invitable", "flags"}


def make_forum_tag(tag_id: int, name: str, *, moderated: bool = False, emoji_name: str | None = None) -> JSON:
    """A forum tag object: ``emoji_id`` and ``emoji_name`` are both present, null when unset."""
    return {"id": str(tag_id), "name": name, "moderated": moderated, "emoji_id": None, "emoji_name": emoji_name}


def make_forum_channel(channel_id: int, guild_id: int, name: str, *, position: int, tags: Iterable[JSON]) -> JSON:
    return {
        "id": str(channel_id),
        "type": FORUM_CHANNEL,
        "guild_id": str(guild_id),
        "name": name,
        "position": position,
        "permission_overwrites": [],
        "parent_id": None,
        "topic": None,
        "nsfw": False,
        "last_message_id": None,  # for a forum: the id of its newest post
        "rate_limit_per_user": 0,
        "default_auto_archive_duration": 4320,
        "default_thread_rate_limit_per_user": 0,
        "available_tags": list(tags),
        "default_reaction_emoji": None,
        "default_sort_order": None,
        "default_forum_layout": 0,
        "flags": 0,
    }


def validate_applied_tags(errors: FormErrors, tag_ids: object, forum: JSON, path: list[str | int]) -> None:
    """At most five tags, each one of the forum's ``available_tags``."""
    if not isinstance(tag_ids, list):
        errors.add(path, "BASE_TYPE_ARRAY", "Must be an array.")
        return
    errors.max_length(path, tag_ids, MAX_APPLIED_TAGS)
    known = {t["id"] for t in forum["available_tags"]}
    for i, tag_id in enumerate(tag_ids):
        if str(tag_id) not in known:
            errors.add([*path, i], "TAG_NOT_AVAILABLE", "Unknown tag: it is not one of this forum's tags.")


def validate_thread_edit(body: JSON, forum: JSON | None) -> FormErrors:
    errors = FormErrors()
    for key in body:
        if key not in THREAD_EDITABLE:
            errors.add([key], "UNKNOWN_FIELD", f"{key} cannot be set on a thread.")
    if "name" in body and not 1 <= len(body.get("name") or "") <= 100:
        errors.add(["name"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
    if "applied_tags" in body:
        if forum is None:
            errors.add(["applied_tags"], "CHANNEL_TYPE_INVALID", "Tags only exist on posts in forum channels.")
        else:
            validate_applied_tags(errors, body["applied_tags"], forum, ["applied_tags"])
    return errors


def edit_needs_manage_threads(body: JSON, thread: JSON, forum: JSON | None, *, by_owner: bool) -> bool:
    """Whether this thread edit needs MANAGE_THREADS: anything but the owner's own fields, and any change to a
    moderated tag (added or removed), whoever makes it."""
    if not by_owner or any(key not in OWNER_EDITABLE for key in body):
        return True
    if "applied_tags" not in body or forum is None:
        return False
    before = {str(t) for t in thread.get("applied_tags", [])}
    after = {str(t) for t in body["applied_tags"]}
    moderated = {t["id"] for t in forum["available_tags"] if t.get("moderated")}
    return bool((before ^ after) & moderated)
