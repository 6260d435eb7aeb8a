"""Prove FakeDiscord speaks the protocol the REAL discord.py client expects (REST + gateway)."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.ext import commands

from fakes.discord_server import Call, FakeDiscord

NO_MENTIONS = discord.AllowedMentions.none()


# ---- a minimal bot, defined here so the fake is tested against the real client only ----------
class FeedbackView(discord.ui.View):
    """Persistent (timeout=None, fixed custom_id): survives restarts via ``bot.add_view``."""

    def __init__(self) -> None:
        super().__init__(timeout=None)

    @discord.ui.button(label="Helpful", style=discord.ButtonStyle.success, custom_id="feedback:up")
    async def up(self, interaction: discord.Interaction, button: discord.ui.Button[FeedbackView]) -> None:
        await interaction.response.send_message("Thanks!", ephemeral=True, allowed_mentions=NO_MENTIONS)


class ReportModal(discord.ui.Modal, title="Report this answer"):
    reason: discord.ui.TextInput[ReportModal] = discord.ui.TextInput(label="Reason", custom_id="reason")

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(
            f"Reported: {self.reason.value}", ephemeral=True, allowed_mentions=NO_MENTIONS
        )


@app_commands.command(name="ping", description="Check that the bot answers")
async def ping(interaction: discord.Interaction) -> None:
    await interaction.response.defer(thinking=True)
    await interaction.edit_original_response(content="pong", allowed_mentions=NO_MENTIONS)


@app_commands.command(name="slow", description="Answers too late")
async def slow(interaction: discord.Interaction) -> None:
    await asyncio.sleep(0.2)
    await interaction.response.send_message("late", allowed_mentions=NO_MENTIONS)


@app_commands.command(name="ask", description="Private answer with a source file")
async def ask(interaction: discord.Interaction) -> None:
    await interaction.response.defer(ephemeral=True, thinking=True)
    await interaction.followup.send("the answer", allowed_mentions=NO_MENTIONS)  # completes the deferral
    source = discord.File(io.BytesIO(b"Article 50 ..."), filename="source.txt")
    await interaction.followup.send("the source", file=source, ephemeral=True, allowed_mentions=NO_MENTIONS)


@app_commands.context_menu(name="Report answer")
async def report(interaction: discord.Interaction, message: discord.Message) -> None:
    await interaction.response.send_modal(ReportModal())


class _Bot(commands.Bot):
    def __init__(self, guild_id: int) -> None:
        intents = discord.Intents.default()
        intents.message_content = True
        # guild_ready_timeout: READY waits this long after the last GUILD_CREATE (default 2 s).
        super().__init__(
            command_prefix=commands.when_mentioned, intents=intents, guild_ready_timeout=0.1, help_command=None
        )
        self.test_guild = discord.Object(guild_id)

    async def setup_hook(self) -> None:
        self.add_view(FeedbackView())
        self.tree.add_command(ping, guild=self.test_guild)
        self.tree.add_command(report, guild=self.test_guild)
        self.tree.add_command(slow, guild=self.test_guild)
        self.tree.add_command(ask, guild=self.test_guild)

    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot or self.user not in message.mentions:
            return
        await message.reply("hello back", allowed_mentions=NO_MENTIONS)


@pytest.fixture
async def fake(request: pytest.FixtureRequest) -> AsyncIterator[FakeDiscord]:
    options = getattr(request, "param", {})  # parametrize("fake", [{...}], indirect=True)
    async with FakeDiscord(**options) as f:
        with f.patch_discord():
            yield f


@pytest.fixture
async def bot(fake: FakeDiscord) -> AsyncIterator[_Bot]:
    b = _Bot(fake.guild_id)
    await b.login("fake-token")
    task = asyncio.create_task(b.connect(reconnect=False))
    try:
        async with asyncio.timeout(5):
            await b.wait_until_ready()
        yield b
    finally:
        await b.close()
        await asyncio.wait_for(task, 5)


def _channel(bot: _Bot, fake: FakeDiscord) -> discord.TextChannel:
    channel = bot.get_channel(fake.channel_id)
    assert isinstance(channel, discord.TextChannel)
    return channel


def _is(method: str, path_part: str) -> Callable[[Call], bool]:
    return lambda c: c.method == method and path_part in c.path


# ---- login, READY, GUILD_CREATE ----------------------------------------------------------------
async def test_login_ready_and_guild_state(fake: FakeDiscord, bot: _Bot) -> None:
    assert bot.user is not None and bot.user.id == fake.bot_user_id
    assert bot.application_id == fake.application_id
    channel = _channel(bot, fake)
    assert channel.name == "general" and channel.guild.id == fake.guild_id
    me = channel.guild.me
    assert me is not None and me.id == fake.bot_user_id
    assert channel.permissions_for(me).send_messages
    assert [c.path for c in fake.calls[:2]] == ["/users/@me", "/oauth2/applications/@me"]
    assert fake.calls[0].headers["authorization"] == "Bot fake-token"
    [identify] = fake.identify_payloads
    assert identify["intents"] == bot.intents.value and identify["token"] == "fake-token"
    # discord.py asks for zlib-stream transport compression; the fake answers in kind.
    assert fake.gateway_queries == [{"v": "10", "encoding": "json", "compress": "zlib-stream"}]
    assert fake.gateway_frames_sent["zlib-stream"] >= 3 and fake.gateway_frames_sent["text"] == 0
    assert any(f["op"] == 1 for f in fake.gateway_received)  # heartbeats flow (and are ACKed)


# ---- app commands ------------------------------------------------------------------------------
async def test_command_sync_and_deferred_slash_command(fake: FakeDiscord, bot: _Bot) -> None:
    synced = await bot.tree.sync(guild=discord.Object(fake.guild_id))
    names = {"ping", "Report answer", "slow", "ask"}
    assert {c.name for c in synced} == names
    [put] = fake.calls_to("PUT", f"/applications/{fake.application_id}/guilds/{fake.guild_id}/commands")
    assert put.status == 200 and {c["name"] for c in put.json} == names
    assert {c["name"] for c in fake.commands(fake.guild_id)} == names

    ix = await fake.slash_command("ping")
    await fake.wait_for_call(_is("PATCH", "/messages/@original"))
    callback, edit = fake.interaction_responses(ix)
    assert (callback.method, callback.status, callback.json["type"]) == ("POST", 200, 5)
    assert callback.query == {"with_response": "1"}
    assert callback.response["interaction"]["response_message_loading"] is True
    assert edit.path == f"/webhooks/{fake.application_id}/{ix.token}/messages/@original" and edit.status == 200
    assert edit.json["allowed_mentions"] == {"parse": []}
    outcome = fake.interaction_outcome(ix)
    assert outcome.deferred and not outcome.loading and not outcome.ephemeral
    assert outcome.content == "pong"
    assert fake.messages_in(fake.channel_id)[-1]["content"] == "pong"


@pytest.mark.parametrize("fake", [{"interaction_ack_timeout": 0.05}], indirect=True)
async def test_late_acknowledgement_is_refused(fake: FakeDiscord, bot: _Bot) -> None:
    await bot.tree.sync(guild=discord.Object(fake.guild_id))
    ix = await fake.slash_command("slow")
    call = await fake.wait_for_call(_is("POST", f"/interactions/{ix.id}/"))
    assert call.status == 404 and call.response == {"message": "Unknown interaction", "code": 10062}
    assert not fake.interaction_outcome(ix).acknowledged


async def test_unsynced_command_cannot_be_invoked(fake: FakeDiscord, bot: _Bot) -> None:
    with pytest.raises(LookupError, match="never synced"):
        await fake.slash_command("ping")


async def test_followups_after_ephemeral_defer(fake: FakeDiscord, bot: _Bot) -> None:
    await bot.tree.sync(guild=discord.Object(fake.guild_id))
    ix = await fake.slash_command("ask")
    await fake.wait_for_call(lambda c: c.method == "POST" and c.files_count == 1)
    callback, first, second = fake.interaction_responses(ix)
    assert callback.json == {"type": 5, "data": {"flags": 64}}
    assert first.path == f"/webhooks/{fake.application_id}/{ix.token}" and first.query["wait"] == "1"
    assert second.files[0].filename == "source.txt" and second.json["attachments"][0]["filename"] == "source.txt"
    outcome = fake.interaction_outcome(ix)
    # The first followup after a thinking defer replaces the loading message (ephemeral, as deferred).
    assert outcome.content == "the answer" and outcome.ephemeral and not outcome.loading
    [extra] = outcome.followups
    assert extra["content"] == "the source" and extra["attachments"][0]["size"] == len(b"Article 50 ...")
    assert fake.messages_in(fake.channel_id) == []


async def test_context_menu_modal_and_submit(fake: FakeDiscord, bot: _Bot) -> None:
    await bot.tree.sync(guild=discord.Object(fake.guild_id))
    target = await fake.send_message(fake.channel_id, "an answer to report")
    opened = await fake.context_menu("Report answer", int(target["id"]))
    await fake.wait_for_call(_is("POST", f"/interactions/{opened.id}/"))
    modal = fake.interaction_outcome(opened).modal
    assert modal is not None and modal["title"] == "Report this answer"

    submitted = await fake.submit_modal(values={"reason": "cites the wrong article"})
    await fake.wait_for_call(_is("POST", f"/interactions/{submitted.id}/"))
    outcome = fake.interaction_outcome(submitted)
    assert outcome.ephemeral and outcome.content == "Reported: cites the wrong article"
    assert fake.messages_in(fake.channel_id) == []  # ephemeral replies are not channel messages


async def test_button_click_reaches_persistent_view(fake: FakeDiscord, bot: _Bot) -> None:
    sent = await _channel(bot, fake).send("Was this helpful?", view=FeedbackView(), allowed_mentions=NO_MENTIONS)
    stored = fake.message(sent.id)
    assert stored is not None and stored["components"][0]["components"][0]["custom_id"] == "feedback:up"

    ix = await fake.click_button(sent.id, "feedback:up")
    call = await fake.wait_for_call(_is("POST", f"/interactions/{ix.id}/{ix.token}/callback"))
    assert call.status == 200 and call.json["type"] == 4 and call.json["data"]["flags"] == 64
    outcome = fake.interaction_outcome(ix)
    assert outcome.ephemeral and outcome.content == "Thanks!"


# ---- messages ------------------------------------------------------------------------------------
async def test_mention_gets_a_reply_without_pings(fake: FakeDiscord, bot: _Bot) -> None:
    question = await fake.send_message(fake.channel_id, "what does Article 50 say?", mentions_bot=True)
    call = await fake.wait_for_call(_is("POST", f"/channels/{fake.channel_id}/messages"))
    assert call.status == 200
    assert call.json["allowed_mentions"] == {"parse": []}
    assert str(call.json["message_reference"]["message_id"]) == question["id"]
    [reply] = fake.messages_in(fake.channel_id)
    assert reply["content"] == "hello back" and reply["type"] == 19 and reply["mentions"] == []
    assert fake.mention_violations == []


async def test_missing_allowed_mentions_is_rejected_and_recorded(fake: FakeDiscord, bot: _Bot) -> None:
    with pytest.raises(discord.HTTPException) as info:
        await _channel(bot, fake).send("no allowed_mentions here")
    assert info.value.status == 400 and info.value.code == 50035
    [violation] = fake.mention_violations
    assert violation.status == 400 and "allowed_mentions" not in violation.json
    assert fake.messages_in(fake.channel_id) == []


async def test_content_over_2000_chars_is_rejected(fake: FakeDiscord, bot: _Bot) -> None:
    channel = _channel(bot, fake)
    with pytest.raises(discord.HTTPException) as info:
        await channel.send("x" * 2001, allowed_mentions=NO_MENTIONS)
    assert info.value.status == 400 and "Must be 2000 or fewer in length" in info.value.text
    ok = await channel.send("x" * 2000, allowed_mentions=NO_MENTIONS)
    assert len(ok.content) == 2000


async def test_embed_with_26_fields_is_rejected(fake: FakeDiscord, bot: _Bot) -> None:
    embed = discord.Embed(title="Sources")
    for i in range(26):
        embed.add_field(name=f"[{i}]", value="passage")
    with pytest.raises(discord.HTTPException) as info:
        await _channel(bot, fake).send(embed=embed, allowed_mentions=NO_MENTIONS)
    assert info.value.status == 400 and "embeds.0.fields" in info.value.text


async def test_rate_limited_post_is_retried(fake: FakeDiscord, bot: _Bot) -> None:
    path = f"/channels/{fake.channel_id}/messages"
    fake.rate_limit_next("POST", path, retry_after=0.3)
    started = time.monotonic()
    msg = await _channel(bot, fake).send("after the wait", allowed_mentions=NO_MENTIONS)
    assert time.monotonic() - started >= 0.25
    limited, accepted = fake.calls_to("POST", path)
    assert limited.status == 429 and limited.response["retry_after"] == 0.3
    assert accepted.status == 200 and accepted.response["id"] == str(msg.id)


async def test_thread_from_message(fake: FakeDiscord, bot: _Bot) -> None:
    root = await _channel(bot, fake).send("Let's discuss", allowed_mentions=NO_MENTIONS)
    thread = await root.create_thread(name="Discussion")
    assert thread.id == root.id and thread.parent_id == fake.channel_id
    assert isinstance(bot.get_channel(thread.id), discord.Thread)  # THREAD_CREATE reached the cache
    assert any(event == "THREAD_CREATE" for event, _ in fake.dispatched)
    await thread.send("inside the thread", allowed_mentions=NO_MENTIONS)
    assert [m["content"] for m in fake.messages_in(thread.id)] == ["inside the thread"]
    assert [m["type"] for m in fake.messages_in(thread.id, include_system=True)] == [21, 0]

    mark = fake.mark()  # only calls made from here on
    user_msg = await fake.send_message(thread.id, "a follow-up question", mentions_bot=True)
    await fake.wait_for_call(_is("POST", f"/channels/{thread.id}/messages"), since=mark)
    assert fake.messages_in(thread.id)[-1]["message_reference"]["message_id"] == user_msg["id"]


async def test_history_and_fetch(fake: FakeDiscord, bot: _Bot) -> None:
    first = fake.seed_message(fake.channel_id, "first")
    fake.seed_message(fake.channel_id, "second")
    channel = _channel(bot, fake)
    await channel.send("third", allowed_mentions=NO_MENTIONS)
    newest_first = [m.content async for m in channel.history(limit=10)]
    assert newest_first == ["third", "second", "first"]
    older = [m.content async for m in channel.history(limit=10, before=discord.Object(int(first["id"]) + 1))]
    assert older == ["first"]
    fetched = await channel.fetch_message(int(first["id"]))
    assert fetched.content == "first" and fetched.author.id == fake.user_id
    [get] = fake.calls_to("GET", f"/channels/{fake.channel_id}/messages/{first['id']}")
    assert get.status == 200


async def test_file_upload_is_parsed_and_downloadable(fake: FakeDiscord, bot: _Bot) -> None:
    upload = discord.File(io.BytesIO(b"%PDF-1.4 fake"), filename="report.pdf", description="the report")
    msg = await _channel(bot, fake).send("see attached", file=upload, allowed_mentions=NO_MENTIONS)
    [call] = fake.calls_to("POST", f"/channels/{fake.channel_id}/messages")
    assert call.files_count == 1 and call.files[0].data == b"%PDF-1.4 fake"
    assert call.json["content"] == "see attached" and call.json["allowed_mentions"] == {"parse": []}
    [attachment] = msg.attachments
    assert attachment.filename == "report.pdf" and attachment.content_type == "application/pdf"
    assert await attachment.read() == b"%PDF-1.4 fake"  # served by the fake's CDN route


async def test_edit_and_typing_and_reaction_and_pin(fake: FakeDiscord, bot: _Bot) -> None:
    channel = _channel(bot, fake)
    async with channel.typing():
        msg = await channel.send("draft", allowed_mentions=NO_MENTIONS)
    await msg.edit(content="final", allowed_mentions=NO_MENTIONS)
    await msg.add_reaction("👍")
    await msg.pin()
    stored = fake.message(msg.id)
    assert stored is not None and stored["content"] == "final" and stored["edited_timestamp"]
    assert stored["pinned"] and stored["reactions"][0]["emoji"]["name"] == "👍"
    assert fake.calls_to("POST", f"/channels/{fake.channel_id}/typing")[0].status == 204
    assert fake.calls_to("PUT", f"/channels/{fake.channel_id}/messages/{msg.id}/reactions/👍/@me")
    assert fake.calls_to("PUT", f"/channels/{fake.channel_id}/messages/pins/{msg.id}")


async def test_reconnect_resumes_the_session(fake: FakeDiscord, bot: _Bot) -> None:
    await fake.request_reconnect()
    await fake.wait_until_connected()
    resume = next(f for f in fake.gateway_received if f["op"] == 6)
    assert resume["d"]["session_id"] and resume["d"]["seq"] > 0 and resume["d"]["token"] == "fake-token"
    assert len(fake.identify_payloads) == 1 and len(fake.gateway_queries) == 2  # resumed, not re-identified
    await fake.send_message(fake.channel_id, "still there?", mentions_bot=True)
    reply = await fake.wait_for_call(_is("POST", f"/channels/{fake.channel_id}/messages"))
    assert reply.status == 200


async def test_without_message_content_intent_only_mentions_keep_content(fake: FakeDiscord) -> None:
    seen: list[str] = []
    client = discord.Client(intents=discord.Intents.default(), guild_ready_timeout=0.1)
    client.event(_collect(seen))
    await client.login("fake-token")
    task = asyncio.create_task(client.connect(reconnect=False))
    try:
        await asyncio.wait_for(client.wait_until_ready(), 5)
        await fake.send_message(fake.channel_id, "not for the bot")
        await fake.send_message(fake.channel_id, "for the bot", mentions_bot=True)
        async with asyncio.timeout(5):
            while len(seen) < 2:
                await asyncio.sleep(0.01)
    finally:
        await client.close()
        await asyncio.wait_for(task, 5)
    assert seen == ["", f"<@{fake.bot_user_id}> for the bot"]


def _collect(seen: list[str]) -> Any:
    async def on_message(message: discord.Message) -> None:
        seen.append(message.content)

    return on_message


# ---- raw protocol checks (no client-side validation in the way) -----------------------------------
def _big(n: int) -> str:
    return "y" * n


_BUTTON = {"type": 2, "style": 1, "label": "ok", "custom_id": "b"}


def _row(n: int, **override: Any) -> dict[str, Any]:
    return {"type": 1, "components": [{**_BUTTON, "custom_id": f"b{i}", **override} for i in range(n)]}


def _safe(**fields: Any) -> dict[str, Any]:
    """A message body that passes the no-mentions policy, so only the tested limit can fail."""
    return {"allowed_mentions": {"parse": []}, **fields}


@pytest.mark.parametrize(
    ("payload", "error_path"),
    [
        (_safe(content=_big(2001)), ["content"]),
        (_safe(embeds=[{"description": "d"}] * 11), ["embeds"]),
        (_safe(embeds=[{"title": _big(257)}]), ["embeds", "0", "title"]),
        (_safe(embeds=[{"description": _big(4097)}]), ["embeds", "0", "description"]),
        (_safe(embeds=[{"fields": [{"name": "n", "value": "v"}] * 26}]), ["embeds", "0", "fields"]),
        (_safe(embeds=[{"fields": [{"name": _big(257), "value": "v"}]}]), ["embeds", "0", "fields", "0", "name"]),
        (_safe(embeds=[{"fields": [{"name": "n", "value": _big(1025)}]}]), ["embeds", "0", "fields", "0", "value"]),
        (_safe(embeds=[{"footer": {"text": _big(2049)}}]), ["embeds", "0", "footer", "text"]),
        (_safe(embeds=[{"author": {"name": _big(257)}}]), ["embeds", "0", "author", "name"]),
        (_safe(embeds=[{"description": _big(4000)}, {"description": _big(2001)}]), ["embeds"]),
        (_safe(content="c", components=[_row(1)] * 6), ["components"]),
        (_safe(content="c", components=[_row(6)]), ["components", "0", "components"]),
        (_safe(content="c", components=[_row(1, custom_id=_big(101))]), ["components", "0", "components", "0"]),
        (_safe(content="c", components=[_row(1, label=_big(81))]), ["components", "0", "components", "0", "label"]),
        ({"content": "hi", "allowed_mentions": {"parse": ["users"]}}, ["allowed_mentions"]),
        ({"content": "hi", "allowed_mentions": {"parse": [], "users": ["1"]}}, ["allowed_mentions"]),
        ({"content": "hi"}, ["allowed_mentions"]),
    ],
)
async def test_validation_errors_match_discord(
    fake: FakeDiscord, payload: dict[str, Any], error_path: list[str]
) -> None:
    url = f"{fake.api_base}/channels/{fake.channel_id}/messages"
    async with aiohttp.ClientSession(headers={"Authorization": "Bot t"}) as http, http.post(url, json=payload) as resp:
        assert resp.status == 400
        assert resp.headers["Content-Type"] == "application/json"
        data = await resp.json()
    assert data["code"] == 50035 and data["message"] == "Invalid Form Body"
    node = data["errors"]
    for part in error_path:
        node = node[part]
    assert node  # the error sits where Discord puts it
    assert fake.messages_in(fake.channel_id) == []


async def test_unknown_route_auth_and_lenient_mentions() -> None:
    async with FakeDiscord(require_no_mentions=False) as fake, aiohttp.ClientSession() as http:
        async with http.get(f"{fake.api_base}/voice/regions", headers={"Authorization": "Bot t"}) as resp:
            assert resp.status == 404 and resp.headers["Content-Type"] == "application/json"
            assert await resp.json() == {"message": "404: Not Found", "code": 0}
        async with http.get(f"{fake.api_base}/users/@me") as resp:
            assert resp.status == 401
        url = f"{fake.api_base}/channels/{fake.channel_id}/messages"
        async with http.post(url, json={"content": "hi"}, headers={"Authorization": "Bot t"}) as resp:
            assert resp.status == 200  # recorded, but let through
        assert [c.path for c in fake.unhandled] == ["/voice/regions"]
        assert len(fake.mention_violations) == 1 and fake.mention_violations[0].status == 200
