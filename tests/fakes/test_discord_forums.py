"""The fake's forum channels, tags and role mentions, driven by the REAL discord.py client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import discord
import pytest

from fakes.discord_protocol import MANAGE_THREADS
from fakes.discord_server import FakeDiscord

NO_MENTIONS = discord.AllowedMentions.none()


class _Client(discord.Client):
    """Records the thread events discord.py raises from the fake's gateway."""

    def __init__(self) -> None:
        intents = discord.Intents.default()
        intents.message_content = True
        super().__init__(intents=intents, guild_ready_timeout=0.1, allowed_mentions=NO_MENTIONS)
        self.created: list[discord.Thread] = []
        self.messages: list[discord.Message] = []
        self.updated: list[tuple[discord.Thread, discord.Thread]] = []

    async def on_thread_create(self, thread: discord.Thread) -> None:
        self.created.append(thread)

    async def on_message(self, message: discord.Message) -> None:
        self.messages.append(message)

    async def on_thread_update(self, before: discord.Thread, after: discord.Thread) -> None:
        self.updated.append((before, after))


@pytest.fixture
async def world() -> AsyncIterator[tuple[FakeDiscord, _Client, int]]:
    async with FakeDiscord() as fake:
        forum_id = fake.add_forum_channel(fake.guild_id, "help", ["Solved", "Needs human"], moderated=["Needs human"])
        with fake.patch_discord():
            client = _Client()
            await client.login("fake-token")
            task = asyncio.create_task(client.connect(reconnect=False))
            try:
                async with asyncio.timeout(5):
                    await client.wait_until_ready()
                yield fake, client, forum_id
            finally:
                await client.close()
                await asyncio.wait_for(task, 5)


def _channel(fake: FakeDiscord, channel_id: int) -> dict[str, Any]:
    channel = fake.channel(channel_id)
    assert channel is not None
    return channel


async def _until(condition: object, timeout: float = 5) -> None:
    async with asyncio.timeout(timeout):
        while not condition():  # type: ignore[operator]
            await asyncio.sleep(0.01)


async def test_a_forum_and_its_tags_reach_the_client(world: tuple[FakeDiscord, _Client, int]) -> None:
    fake, client, forum_id = world
    forum = client.get_channel(forum_id)
    assert isinstance(forum, discord.ForumChannel)
    assert [(t.name, t.moderated) for t in forum.available_tags] == [("Solved", False), ("Needs human", True)]
    [raw] = [t for t in _channel(fake, forum_id)["available_tags"] if t["name"] == "Solved"]
    assert set(raw) == {"id", "name", "moderated", "emoji_id", "emoji_name"}


async def test_a_members_post_is_a_thread_opened_by_a_message_of_the_same_id(
    world: tuple[FakeDiscord, _Client, int],
) -> None:
    fake, client, forum_id = world
    thread = await fake.post_in_forum(forum_id, "Export rules?", "Which chips are covered?", tags=["Solved"])
    await _until(lambda: client.messages)
    [created] = client.created
    assert created.id == int(thread["id"]) and created.parent_id == forum_id and created.owner_id == fake.user_id
    assert created.type is discord.ChannelType.public_thread and created.name == "Export rules?"
    assert [t.name for t in created.applied_tags] == ["Solved"]
    [starter] = client.messages
    assert starter.id == created.id and starter.channel.id == created.id
    assert starter.content == "Which chips are covered?"
    assert _channel(fake, forum_id)["last_message_id"] == thread["id"]  # a forum's last message is its newest post
    assert _channel(fake, created.id)["message_count"] == 0  # the opening message is not counted


async def test_the_bot_opens_a_post_and_cannot_write_in_the_forum_itself(
    world: tuple[FakeDiscord, _Client, int],
) -> None:
    fake, client, forum_id = world
    forum = client.get_channel(forum_id)
    assert isinstance(forum, discord.ForumChannel)
    made = await forum.create_thread(name="Weekly digest", content="This week's questions")
    assert made.thread.id == made.message.id and made.message.content == "This week's questions"
    assert [event for event, _ in fake.dispatched][-2:] == ["THREAD_CREATE", "MESSAGE_CREATE"]
    with pytest.raises(discord.HTTPException) as refused:
        await fake_send_in_forum(client, forum_id)
    assert refused.value.status == 400 and refused.value.code == 50008


async def fake_send_in_forum(client: _Client, forum_id: int) -> None:
    # discord.py has no send() on a ForumChannel; its HTTP client can still be asked, as a buggy bot would.
    await client.http.send_message(forum_id, params=discord.http.MultipartParameters({"content": "hi"}, None, None))


async def test_tags_are_applied_by_patch_and_need_manage_threads_on_another_members_post(
    world: tuple[FakeDiscord, _Client, int],
) -> None:
    fake, client, forum_id = world
    posted = await fake.post_in_forum(forum_id, "Title", "Body")
    await _until(lambda: client.messages)
    [thread] = client.created
    forum = client.get_channel(forum_id)
    assert isinstance(forum, discord.ForumChannel)
    solved = next(t for t in forum.available_tags if t.name == "Solved")
    await thread.add_tags(solved)
    [patch] = fake.calls_to("PATCH", f"/channels/{posted['id']}")
    assert patch.json == {"applied_tags": [str(solved.id)]} and patch.status == 200
    await _until(lambda: client.updated)
    assert [t.name for t in client.updated[-1][1].applied_tags] == ["Solved"]
    assert fake.applied_tag_names(thread.id) == ["Solved"]

    fake.set_permission_overwrite(forum_id, fake.bot_user_id, deny=MANAGE_THREADS, member=True)
    with pytest.raises(discord.Forbidden) as denied:
        await thread.remove_tags(solved)
    assert denied.value.code == 50013
    assert fake.applied_tag_names(thread.id) == ["Solved"]


async def test_members_may_tag_their_own_post_but_not_with_a_moderated_tag(
    world: tuple[FakeDiscord, _Client, int],
) -> None:
    fake, client, forum_id = world
    other = fake.add_user("bob")
    fake.add_member(fake.guild_id, other)
    posted = await fake.post_in_forum(forum_id, "Title", "Body")
    await fake.tag_post(int(posted["id"]), ["Solved"])
    assert fake.applied_tag_names(int(posted["id"])) == ["Solved"]
    with pytest.raises(ValueError, match="may not change the tags"):
        await fake.tag_post(int(posted["id"]), ["Solved", "Needs human"])
    with pytest.raises(ValueError, match="may not change the tags"):
        await fake.tag_post(int(posted["id"]), [], user_id=other)
    await _until(lambda: client.updated)
    assert [t.name for t in client.updated[-1][1].applied_tags] == ["Solved"]


async def test_role_mentions_follow_allowed_mentions_and_the_roles_own_setting(
    world: tuple[FakeDiscord, _Client, int],
) -> None:
    fake, client, _ = world
    helpers = fake.add_role(fake.guild_id, "helpers", 0, mentionable=True)
    staff = fake.add_role(fake.guild_id, "staff", 0)  # not mentionable
    fake.pingable_roles |= {helpers, staff}
    channel = client.get_channel(fake.channel_id)
    assert isinstance(channel, discord.TextChannel)
    text = f"<@&{helpers}> <@&{staff}> <@{fake.user_id}> @everyone"
    only_helpers = discord.AllowedMentions(everyone=False, users=False, roles=[discord.Object(helpers)])
    sent = await channel.send(text, allowed_mentions=only_helpers)
    stored = fake.message(sent.id)
    assert stored is not None
    assert stored["mention_roles"] == [str(helpers)] and stored["mentions"] == [] and not stored["mention_everyone"]
    # A role that is not mentionable is pinged only by a sender with MENTION_EVERYONE.
    both = discord.AllowedMentions(everyone=False, users=False, roles=[discord.Object(helpers), discord.Object(staff)])
    again = fake.message((await channel.send(text, allowed_mentions=both)).id)
    assert again is not None and again["mention_roles"] == [str(helpers)]


async def test_allowed_mentions_shape_is_validated_as_discord_does(world: tuple[FakeDiscord, _Client, int]) -> None:
    fake, client, _ = world
    role = fake.add_role(fake.guild_id, "helpers", 0, mentionable=True)
    channel = client.get_channel(fake.channel_id)
    assert isinstance(channel, discord.TextChannel)
    body = {"content": f"<@&{role}>", "allowed_mentions": {"parse": ["roles"], "roles": [str(role)]}}
    with pytest.raises(discord.HTTPException) as refused:
        await client.http.send_message(channel.id, params=discord.http.MultipartParameters(body, None, None))
    assert refused.value.status == 400 and "mutually exclusive" in str(refused.value)
    body = {"content": "hi", "allowed_mentions": {"parse": ["channels"]}}
    with pytest.raises(discord.HTTPException) as refused:
        await client.http.send_message(channel.id, params=discord.http.MultipartParameters(body, None, None))
    assert refused.value.status == 400 and "not a valid enum value" in str(refused.value)
    # The fake's own policy: naming a role the test did not allow is a violation even when Discord would accept it.
    named = discord.AllowedMentions(everyone=False, users=False, roles=[discord.Object(role)])
    with pytest.raises(discord.HTTPException):
        await channel.send(f"<@&{role}>", allowed_mentions=named)
    assert len(fake.mention_violations) == 1


async def test_a_guilds_channel_list_includes_its_forums(world: tuple[FakeDiscord, _Client, int]) -> None:
    fake, client, forum_id = world
    guild = client.get_guild(fake.guild_id)
    assert guild is not None
    fetched = await guild.fetch_channels()
    assert {c.id: type(c).__name__ for c in fetched} == {fake.channel_id: "TextChannel", forum_id: "ForumChannel"}
