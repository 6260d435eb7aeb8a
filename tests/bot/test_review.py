"""The review queue end to end: refusals and 👎 votes become cards in the review channel, and moderators turn a
card into an FAQ entry (answering the next such question) or dismiss it, through the real bot and loopback
Discord."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import discord
import pytest
from fakes.discord_message_payloads import walk_components
from fakes.discord_protocol import SEND_MESSAGES
from fakes.discord_server import Call, FakeDiscord, InteractionOutcome, SentInteraction
from fakes.web_site import WebSite
from harness import Harness, HarnessFactory
from web_pages import ACT_ANSWER, ACT_QUESTION, ACT_TITLE, act_html

from bot.events import REVIEW_SIGNAL, ReviewSignal
from bot.permissions import NOT_ADMINISTRATOR, NOT_MODERATOR
from bot.rendering import FAQ_LABEL, REFUSAL_LABEL
from bot.review_rendering import OPEN_STATUS, embed_as_text, render_card
from curation.faq import FaqMatcher
from curation.review import MAX_PLACES, Card, Place, ReviewQueue

BREAD = "What's a good recipe for sourdough bread?"
BREAD_AGAIN = "Any good sourdough bread recipe?"
BREAD_LATER = "Do you have a sourdough bread recipe?"
FOUNDER = "Who founded DeepSeek?"
ANSWER = "DeepSeek was founded by Liang Wenfeng [1]."
TITLE = "Will China’s New AI Model DeepSeek Threaten U.S. Dominance?"
LOOPBACK_PAGES = {"allow_private_urls": ["127.0.0.1/32"], "url_timeout": 5}
FAQ_TEXT = "This server is about AI policy; the baking channel has sourdough recipes."


def _review_desk(fake: FakeDiscord) -> dict[str, Any]:
    return {"review_channel": fake.add_text_channel(fake.guild_id, "review")}


def _review_channel(h: Harness) -> int:
    channel = h.settings.discord.review_channel
    assert channel is not None
    return channel


def _is_final_answer(call: Call, ix: SentInteraction) -> bool:
    # Every finished answer, refusals included, carries the vote buttons; drafts never do.
    return call.method == "PATCH" and ix.token in call.path and bool((call.json or {}).get("components"))


@dataclass(frozen=True)
class Asked:
    content: str
    message: dict[str, Any]


async def _ask(h: Harness, question: str) -> Asked:
    """/ask, once the answer is final: what the asker sees and the answer's message."""
    ix = await h.discord.slash_command("ask", {"question": question})
    await h.discord.wait_for_call(lambda c: _is_final_answer(c, ix), 15)
    outcome = h.discord.interaction_outcome(ix)
    assert outcome.content is not None and outcome.message is not None
    return Asked(outcome.content, outcome.message)


async def _press(h: Harness, ix: SentInteraction) -> tuple[str, InteractionOutcome]:
    """What the presser (or submitter) sees once the bot has answered the interaction."""
    outcome = await h.settled(ix)
    return outcome.content or "", outcome


async def _card_change(h: Harness, since: int, method: str = "POST") -> dict[str, Any]:
    """The card message once the bot has posted (POST) or edited (PATCH) it in the review channel."""
    prefix = f"/channels/{_review_channel(h)}/messages"
    call = await h.discord.wait_for_call(lambda c: c.method == method and c.path.startswith(prefix), 10, since=since)
    assert call.status == 200, call.status
    message = h.discord.message(int(call.response["id"]))
    assert message is not None
    return message


def _fields(card: dict[str, Any]) -> dict[str, str]:
    return {f["name"]: f["value"] for f in card["embeds"][0]["fields"]}


def _buttons(message: dict[str, Any]) -> dict[str, str]:
    """Button label (the custom id for an emoji-only button) → custom id."""
    buttons = [c for c in walk_components(message["components"]) if c.get("type") == 2]
    return {c.get("label") or c["custom_id"]: c["custom_id"] for c in buttons}


def _card_text(message: dict[str, Any]) -> str:
    """The card as text, its buttons below."""
    buttons = [c for c in walk_components(message["components"]) if c.get("type") == 2]
    row = " ".join(f"[{c['emoji']['name']} {c['label']}]" for c in buttons)
    return embed_as_text(discord.Embed.from_dict(message["embeds"][0])) + "\n" + row


def _jump(h: Harness, channel_id: int, message_id: int | str) -> str:
    return f"https://discord.com/channels/{h.discord.guild_id}/{channel_id}/{message_id}"


async def test_a_refused_question_posts_a_card_and_a_similar_one_edits_it(harness_factory: HarnessFactory) -> None:
    h = await harness_factory(setup=_review_desk)
    since = len(h.discord.calls)
    refused = await _ask(h, BREAD)
    assert refused.content.startswith(REFUSAL_LABEL)
    card = await _card_change(h, since)
    embed = card["embeds"][0]
    assert embed["title"] == "Review card #1" and embed["description"] == f"> {BREAD}"
    fields = _fields(card)
    assert fields["Signals"] == "🤷 refused ×1"
    assert fields["Asked"] == f"[1]({_jump(h, h.discord.channel_id, refused.message['id'])})"
    assert fields["Status"] == OPEN_STATUS
    assert list(_buttons(card)) == ["Write FAQ", "Add source", "Dismiss"]

    since = len(h.discord.calls)
    again = await _ask(h, BREAD_AGAIN)
    edited = await _card_change(h, since, "PATCH")
    assert edited["id"] == card["id"] and len(h.discord.messages_in(_review_channel(h))) == 1
    assert _fields(edited)["Signals"] == "🤷 refused ×2"
    print("\n" + _card_text(edited))  # the README's mock-up of a card is this run's (pytest -s shows it)
    assert _fields(edited)["Asked"].endswith(f" · [2]({_jump(h, h.discord.channel_id, again.message['id'])})")
    assert h.discord.mention_violations == []


async def test_a_downvote_posts_a_card_once_per_voter(harness_factory: HarnessFactory) -> None:
    h = await harness_factory(setup=_review_desk)
    h.model.enqueue_reply(ANSWER)
    answered = (await _ask(h, FOUNDER)).message
    down = next(custom_id for custom_id in _buttons(answered).values() if ":down:" in custom_id)

    since = len(h.discord.calls)
    thanks, vote = await _press(h, await h.discord.click_button(int(answered["id"]), down))
    assert vote.ephemeral and "👎 was recorded" in thanks  # the voter is thanked as before
    card = await _card_change(h, since)
    assert card["embeds"][0]["description"] == f"> {FOUNDER}"
    assert _fields(card)["Signals"] == "👎 voted down ×1"
    assert _fields(card)["Asked"] == f"[1]({_jump(h, h.discord.channel_id, answered['id'])})"
    assert TITLE in _fields(card)["Closest sources"]  # the sources the answer cited

    # The same member pressing 👎 again is not a second signal; a refusal after it opens card #2, by which
    # time the repeated vote has been handled.
    await h.settled(await h.discord.click_button(int(answered["id"]), down))
    since = len(h.discord.calls)
    await _ask(h, BREAD)
    assert (await _card_change(h, since))["embeds"][0]["title"] == "Review card #2"
    first = h.discord.message(int(card["id"]))
    assert first is not None and _fields(first)["Signals"] == "👎 voted down ×1"


async def test_write_faq_answers_the_thread_and_the_next_question(harness_factory: HarnessFactory) -> None:
    h = await harness_factory(setup=_review_desk)
    mod = h.add_moderator()
    thread = await h.discord.create_thread(h.discord.channel_id, "baking")
    since = len(h.discord.calls)
    await h.discord.send_message(int(thread["id"]), BREAD, mentions_bot=True)
    card = await _card_change(h, since)
    [refusal] = h.discord.messages_in(int(thread["id"]))
    assert refusal["content"].startswith(REFUSAL_LABEL)
    assert _fields(card)["Asked"] == f"[1]({_jump(h, int(thread['id']), refusal['id'])})"
    write = _buttons(card)["Write FAQ"]

    member = await h.settled(await h.discord.click_button(int(card["id"]), write))  # @everyone only
    assert member.ephemeral and member.content == NOT_MODERATOR and member.modal is None

    press = await h.discord.click_button(int(card["id"]), write, user_id=mod)
    shown = await h.settled(press)
    assert shown.modal is not None
    inputs = {c["custom_id"]: c for c in walk_components(shown.modal["components"]) if c.get("type") == 4}
    assert inputs["question"]["value"] == BREAD
    since = len(h.discord.calls)
    submit = await h.discord.submit_modal(values={"answer": FAQ_TEXT}, from_interaction=press, user_id=mod)
    text, saved = await _press(h, submit)
    assert saved.ephemeral and "Saved FAQ entry **#1**" in text and "Posted the answer in 1 open thread." in text

    resolved = await _card_change(h, since, "PATCH")
    assert _fields(resolved)["Status"] == f"✅ **Resolved** by <@{mod}>: wrote FAQ entry #1."
    assert resolved["components"] == []  # no buttons on a closed card
    posted = h.discord.messages_in(int(thread["id"]))[-1]
    assert posted["content"] == f"{FAQ_LABEL}\n\n{FAQ_TEXT}"  # the asker gets the answer where they asked

    asked = len(h.model.chat_requests)
    faq = await _ask(h, BREAD_LATER)
    assert faq.content == f"{FAQ_LABEL}\n\n{FAQ_TEXT}" and len(h.model.chat_requests) == asked
    assert len(h.discord.messages_in(_review_channel(h))) == 1  # answered from the FAQ: no new card
    assert h.discord.mention_violations == []


@pytest.fixture
async def site() -> AsyncIterator[WebSite]:
    async with WebSite() as served:
        yield served


async def test_add_source_resolves_the_card_and_answers_the_thread_again(
    harness_factory: HarnessFactory, site: WebSite
) -> None:
    h = await harness_factory(setup=_review_desk, ingest_options=LOOPBACK_PAGES)
    admin, mod = h.add_administrator(), h.add_moderator()
    url = site.page("/news/act.html", act_html())
    thread = await h.discord.create_thread(h.discord.channel_id, "audits")
    h.model.enqueue_reply("The sources do not say [1].")
    await h.discord.send_message(int(thread["id"]), ACT_QUESTION, mentions_bot=True)
    unhelpful = await h.discord.wait_for_call(lambda c: c.method == "PATCH" and bool((c.json or {}).get("components")))
    since = len(h.discord.calls)
    message_id = int(unhelpful.response["id"])
    down = next(custom_id for custom_id in _buttons(unhelpful.response).values() if ":down:" in custom_id)
    await h.settled(await h.discord.click_button(message_id, down))
    card = await _card_change(h, since)
    assert _fields(card)["Signals"] == "👎 voted down ×1"
    add = _buttons(card)["Add source"]

    # A moderator may write FAQ entries, but a source changes every server's answers: administrators only.
    text, refused = await _press(h, await h.discord.click_button(int(card["id"]), add, user_id=mod))
    assert refused.ephemeral and text == NOT_ADMINISTRATOR and refused.modal is None
    press = await h.discord.click_button(int(card["id"]), add, user_id=admin)
    assert (await h.settled(press)).modal is not None

    h.model.enqueue_reply(ACT_ANSWER)
    submit = await h.discord.submit_modal(values={"url": url}, from_interaction=press, user_id=admin)
    outcome = await h.settled(submit, timeout=60)
    text = outcome.content or ""
    assert outcome.ephemeral and text.startswith(f"🌐 **Added** [{ACT_TITLE}](<{url}>) — ")
    assert text.endswith("\nAnswered the question again in 1 open thread.")

    resolved = h.discord.message(int(card["id"]))
    assert resolved is not None and resolved["components"] == []
    assert _fields(resolved)["Status"] == f"✅ **Resolved** by <@{admin}>: added the source [{ACT_TITLE}](<{url}>)."
    again = h.discord.messages_in(int(thread["id"]))[-1]
    assert again["content"] == ACT_ANSWER and f"[{ACT_TITLE}](<{url}>)" in again["embeds"][0]["description"]
    assert h.discord.mention_violations == []


async def test_bad_input_leaves_the_card_open_and_a_stale_form_still_saves(
    harness_factory: HarnessFactory, site: WebSite
) -> None:
    h = await harness_factory(setup=_review_desk, ingest_options=LOOPBACK_PAGES)
    admin, mod = h.add_administrator(), h.add_moderator()
    since = len(h.discord.calls)
    await _ask(h, BREAD)
    card = await _card_change(h, since)
    buttons = _buttons(card)

    press = await h.discord.click_button(int(card["id"]), buttons["Write FAQ"], user_id=mod)
    await h.settled(press)
    submit = await h.discord.submit_modal(values={"answer": "Ask @everyone"}, from_interaction=press, user_id=mod)
    text, _ = await _press(h, submit)
    assert text == "⚠️ The answer mentions @everyone, @here or a role; remove the mention."
    press = await h.discord.click_button(int(card["id"]), buttons["Add source"], user_id=admin)
    await h.settled(press)
    picture = site.page("/picture.png", b"\x89PNG\r\n\x1a\n", "image/png")
    submit = await h.discord.submit_modal(values={"url": picture}, from_interaction=press, user_id=admin)
    text, _ = await _press(h, submit)
    assert text.startswith(f"⚠️ Nothing was changed for <{picture}>: the page is image/png;")
    still = h.discord.message(int(card["id"]))
    assert still is not None and _fields(still)["Status"] == OPEN_STATUS and len(_buttons(still)) == 3
    assert await h.db.faqs_for_guild(h.discord.guild_id) == []

    # Two moderators at once: one opens the form, the other dismisses; the form's entry is still saved.
    press = await h.discord.click_button(int(card["id"]), buttons["Write FAQ"], user_id=mod)
    await h.settled(press)
    await h.settled(await h.discord.click_button(int(card["id"]), buttons["Dismiss"], user_id=admin))
    submit = await h.discord.submit_modal(values={"answer": FAQ_TEXT}, from_interaction=press, user_id=mod)
    text, _ = await _press(h, submit)
    assert "Saved FAQ entry **#1**" in text and text.endswith(
        "The card had been closed meanwhile. The entry is saved all the same."
    )
    closed = h.discord.message(int(card["id"]))
    assert closed is not None and _fields(closed)["Status"] == f"🗑️ **Dismissed** by <@{admin}>."


async def test_dismiss_closes_the_card_and_a_later_question_opens_a_new_one(harness_factory: HarnessFactory) -> None:
    h = await harness_factory(setup=_review_desk)
    mod = h.add_moderator()
    since = len(h.discord.calls)
    await _ask(h, BREAD)
    card = await _card_change(h, since)

    dismissed = await h.settled(await h.discord.click_button(int(card["id"]), _buttons(card)["Dismiss"], user_id=mod))
    assert not dismissed.ephemeral  # the press edits the card itself
    closed = h.discord.message(int(card["id"]))
    assert closed is not None and closed["components"] == []
    assert _fields(closed)["Status"] == f"🗑️ **Dismissed** by <@{mod}>."

    since = len(h.discord.calls)
    await _ask(h, BREAD_AGAIN)
    assert (await _card_change(h, since))["embeds"][0]["title"] == "Review card #2"


async def test_a_deleted_card_is_posted_again_on_its_next_signal(harness_factory: HarnessFactory) -> None:
    h = await harness_factory(setup=_review_desk)
    assert h.bot is not None
    since = len(h.discord.calls)
    await _ask(h, BREAD)
    card = await _card_change(h, since)
    review = h.bot.get_channel(_review_channel(h))
    assert isinstance(review, discord.TextChannel)
    await review.get_partial_message(int(card["id"])).delete()  # a moderator tidied the channel

    since = len(h.discord.calls)
    await _ask(h, BREAD_AGAIN)
    again = await _card_change(h, since)
    assert again["id"] != card["id"] and again["embeds"][0]["title"] == "Review card #1"
    assert _fields(again)["Signals"] == "🤷 refused ×2"
    assert [m["id"] for m in h.discord.messages_in(_review_channel(h))] == [again["id"]]


async def test_without_a_review_channel_nothing_is_filed(harness_factory: HarnessFactory) -> None:
    h = await harness_factory()
    refused = await _ask(h, BREAD)
    assert refused.content.startswith(REFUSAL_LABEL)
    queue = ReviewQueue(h.db, FaqMatcher(None, 0.75))
    assert await queue.open_count(h.discord.guild_id) == 0
    assert [m["id"] for m in h.discord.messages_in(h.discord.channel_id)] == [refused.message["id"]]


async def test_a_card_that_cannot_be_posted_costs_no_answer(harness_factory: HarnessFactory) -> None:
    def locked_review_channel(fake: FakeDiscord) -> dict[str, Any]:
        settings = _review_desk(fake)
        fake.set_permission_overwrite(settings["review_channel"], fake.guild_id, deny=SEND_MESSAGES)  # @everyone
        return settings

    h = await harness_factory(setup=locked_review_channel)
    since = len(h.discord.calls)
    refused = await _ask(h, BREAD)
    assert refused.content.startswith(REFUSAL_LABEL)
    prefix = f"/channels/{_review_channel(h)}/messages"
    refused_post = await h.discord.wait_for_call(lambda c: c.path == prefix, 10, since=since)
    assert refused_post.status == 403 and h.discord.messages_in(_review_channel(h)) == []
    h.model.enqueue_reply(ANSWER)
    assert (await _ask(h, FOUNDER)).content == ANSWER  # the bot carries on answering


async def test_signals_at_once_share_one_card_and_other_servers_are_left_out(harness_factory: HarnessFactory) -> None:
    """An "Ask a human" press (the forum desk raises it) and a refusal of the same question arriving together
    make one card; a signal from a server the review channel does not belong to makes none."""
    h = await harness_factory(setup=_review_desk)
    assert h.bot is not None
    guild, channel = h.discord.guild_id, h.discord.channel_id
    since = len(h.discord.calls)
    h.bot.dispatch(REVIEW_SIGNAL, ReviewSignal("human", guild, channel, None, BREAD, h.discord.user_id))
    h.bot.dispatch(REVIEW_SIGNAL, ReviewSignal("refused", guild, channel, 42, BREAD_AGAIN, h.discord.user_id))
    h.bot.dispatch(REVIEW_SIGNAL, ReviewSignal("refused", guild + 1, channel, 43, BREAD, h.discord.user_id))
    card = await _card_change(h, since)
    edited = await _card_change(h, since, "PATCH")
    assert edited["id"] == card["id"] and len(h.discord.messages_in(_review_channel(h))) == 1
    assert _fields(edited)["Signals"] == "🤷 refused ×1 · 🙋 asked for a human ×1"
    queue = ReviewQueue(h.db, FaqMatcher(None, 0.75))
    assert (await queue.open_count(guild), await queue.open_count(guild + 1)) == (1, 0)


def _card(**fields: Any) -> Card:
    when = datetime(2025, 1, 27, tzinfo=UTC)
    values: dict[str, Any] = {
        "id": 7,
        "guild_id": 1,
        "question": "Why?",
        "counts": {"refused": 1, "downvote": 0, "human": 0},
        "places": (Place("refused", 2, 3, 4),),
        "closest": (),
        "status": "open",
        "opened_at": when,
        "last_seen_at": when,
    }
    return Card(**(values | fields))


def test_a_card_stays_within_discords_embed_limits() -> None:
    places = tuple(Place("downvote", 2, 100 + i, 4) for i in range(MAX_PLACES))
    card = _card(
        question="*" * 1000,
        counts={"refused": 30, "downvote": 25, "human": 2},
        places=places,
        closest=tuple(f"[{'t' * 300}](<https://e.org/{i}>)" for i in range(5)),
    )
    embed = render_card(card)
    assert len(embed) <= 6000 and len(embed.description or "") <= 4096
    assert all(len(f.value or "") <= 1024 for f in embed.fields)
    fields = {f.name: f.value for f in embed.fields}
    assert fields["Signals"] == "🤷 refused ×30 · 👎 voted down ×25 · 🙋 asked for a human ×2"
    assert (fields["Asked"] or "").endswith("[5](https://discord.com/channels/1/2/104) and 52 more")
    assert (fields["Closest sources"] or "").endswith("…")
    assert (embed.description or "").startswith("> \\*\\*")  # the question's Markdown is shown as typed


def test_a_closed_card_says_who_closed_it_and_how() -> None:
    resolved = render_card(_card(status="resolved", resolved_by=99, resolution="wrote FAQ entry #3"))
    dismissed = render_card(_card(status="dismissed", resolved_by=99, resolution="dismissed"))
    status = [{f.name: f.value for f in e.fields}["Status"] for e in (resolved, dismissed)]
    assert status == ["✅ **Resolved** by <@99>: wrote FAQ entry #3.", "🗑️ **Dismissed** by <@99>."]
    assert render_card(_card(closest=())).fields[2].value == "*none: the corpus has nothing near this question*"
