"""Moderators curating answers end to end: Pin as FAQ, /faq add, list, show, edit, remove."""

from __future__ import annotations

from typing import Any

import pytest
from fakes.discord_message_payloads import walk_components
from fakes.discord_protocol import MANAGE_MESSAGES
from fakes.discord_server import Call, FakeDiscord, InteractionOutcome, SentInteraction
from harness import Harness, HarnessFactory

from bot.admin_rendering import NO_FAQS
from bot.cogs.faq import NOT_AN_ANSWER, PINNED
from bot.permissions import NOT_MODERATOR
from bot.rendering import FAQ_LABEL
from curation.faq import FAQ_ANSWER_MAX_CHARS

FOUNDER = "Who founded DeepSeek?"
PARAPHRASE = "who set up deepseek?"
ANSWER = "DeepSeek was founded by Liang Wenfeng [1]."
TITLE = "Will China’s New AI Model DeepSeek Threaten U.S. Dominance?"


def _is_final_answer(call: Call, ix: SentInteraction) -> bool:
    # Every finished answer, refusals included, carries the vote buttons; drafts never do.
    return call.method == "PATCH" and ix.token in call.path and bool((call.json or {}).get("components"))


async def _ask(h: Harness, question: str, *, channel_id: int | None = None) -> InteractionOutcome:
    ix = await h.discord.slash_command("ask", {"question": question}, channel_id=channel_id)
    await h.discord.wait_for_call(lambda c: _is_final_answer(c, ix), 15)
    return h.discord.interaction_outcome(ix)


def _inputs(modal: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    assert modal is not None, "no form was shown"
    return {c["custom_id"]: c for c in walk_components(modal["components"]) if c.get("type") == 4}


async def _pin(
    h: Harness, message_id: int, user_id: int, **values: str
) -> tuple[InteractionOutcome, InteractionOutcome]:
    """Pin as FAQ on a message, then submit the form (prefilled values unless given)."""
    menu = await h.discord.context_menu("Pin as FAQ", message_id, user_id=user_id)
    shown = await h.settled(menu)
    assert shown.modal is not None, shown.content
    submit = await h.discord.submit_modal(values=values, from_interaction=menu, user_id=user_id)
    return shown, await h.settled(submit)


async def _faq_form(
    h: Harness, command: str, options: dict[str, Any] | None, user_id: int, **values: str
) -> tuple[InteractionOutcome, InteractionOutcome]:
    """/faq add or /faq edit, then submit its form."""
    ix = await h.discord.slash_command("faq", {command: options or {}}, user_id=user_id)
    shown = await h.settled(ix)
    assert shown.modal is not None, shown.content
    submit = await h.discord.submit_modal(values=values, from_interaction=ix, user_id=user_id)
    return shown, await h.settled(submit)


async def _faq(h: Harness, command: str, options: dict[str, Any] | None, user_id: int) -> InteractionOutcome:
    return await h.settled(await h.discord.slash_command("faq", {command: options or {}}, user_id=user_id))


async def test_a_pinned_answer_answers_a_paraphrase_without_the_model(harness_factory: HarnessFactory) -> None:
    h = await harness_factory()
    mod = h.add_moderator()
    h.model.enqueue_reply(ANSWER)
    answer = (await _ask(h, FOUNDER)).message
    assert answer is not None

    shown, saved = await _pin(h, int(answer["id"]), mod)
    assert _inputs(shown.modal)["question"]["value"] == FOUNDER
    assert _inputs(shown.modal)["answer"]["value"] == ANSWER
    assert saved.content is not None
    assert saved.ephemeral and "Saved FAQ entry **#1**" in saved.content and PINNED in saved.content
    pinned = h.discord.message(int(answer["id"]))
    assert pinned is not None and pinned["pinned"]
    [entry] = await h.db.faqs_for_guild(h.discord.guild_id)
    assert (entry.question, entry.answer, entry.pinned_message_id) == (FOUNDER, ANSWER, int(answer["id"]))
    assert [c.title for c in entry.citations] == [TITLE]

    asked = len(h.model.chat_requests)
    faq = await _ask(h, PARAPHRASE)
    assert faq.content == f"{FAQ_LABEL}\n\n{ANSWER}"
    assert f"**[1]** [{TITLE}]" in faq.embeds[0]["description"]
    assert len(h.model.chat_requests) == asked  # the model never saw the paraphrase
    assert h.discord.mention_violations == []


async def test_pin_as_faq_can_edit_the_text_and_refuses_other_messages(harness_factory: HarnessFactory) -> None:
    h = await harness_factory()
    mod = h.add_moderator()
    h.model.enqueue_reply(ANSWER)
    answer = (await _ask(h, FOUNDER)).message
    assert answer is not None
    _, saved = await _pin(h, int(answer["id"]), mod, answer="Liang Wenfeng founded it in 2023 [1].")
    assert saved.content is not None and "Saved" in saved.content
    [entry] = await h.db.faqs_for_guild(h.discord.guild_id)
    assert entry.answer == "Liang Wenfeng founded it in 2023 [1]."

    again = await h.settled(await h.discord.context_menu("Pin as FAQ", int(answer["id"]), user_id=mod))
    assert again.modal is None and again.content is not None and "already is FAQ entry #1" in again.content

    own = await h.discord.send_message(h.discord.channel_id, "a member's own message")
    refused = await h.settled(await h.discord.context_menu("Pin as FAQ", int(own["id"]), user_id=mod))
    assert refused.ephemeral and refused.content == NOT_AN_ANSWER and refused.modal is None


async def test_non_moderators_are_refused_and_nothing_is_stored(harness_factory: HarnessFactory) -> None:
    h = await harness_factory()
    h.model.enqueue_reply(ANSWER)
    answer = (await _ask(h, FOUNDER)).message
    assert answer is not None
    member = h.discord.user_id  # @everyone's permissions only

    for ix in (
        await h.discord.context_menu("Pin as FAQ", int(answer["id"]), user_id=member),
        await h.discord.slash_command("faq", {"add": {}}, user_id=member),
        await h.discord.slash_command("faq", {"list": {}}, user_id=member),
        await h.discord.slash_command("faq", {"remove": {"id": 1}}, user_id=member),
    ):
        outcome = await h.settled(ix)
        assert outcome.ephemeral and outcome.content == NOT_MODERATOR and outcome.modal is None
    assert await h.db.list_faqs(h.discord.guild_id) == ([], 0)
    unpinned = h.discord.message(int(answer["id"]))
    assert unpinned is not None and not unpinned["pinned"]

    # Discord hides the commands from non-moderators too, though the handlers never rely on it.
    synced = {c["name"]: c for c in h.discord.commands(h.discord.guild_id)}
    for name in ("faq", "Pin as FAQ", "stats"):
        assert int(synced[name]["default_member_permissions"]) == MANAGE_MESSAGES
        assert synced[name]["contexts"] == [0]  # guild only


async def test_a_configured_moderator_role_may_curate(harness_factory: HarnessFactory) -> None:
    made: dict[str, int] = {}

    def faq_team(fake: FakeDiscord) -> dict[str, Any]:
        made["role"] = fake.add_role(fake.guild_id, "FAQ team", 0)  # no permissions of its own
        made["user"] = fake.add_user("curator")
        fake.add_member(fake.guild_id, made["user"], roles=[made["role"]])
        return {"moderator_role_ids": [made["role"]]}

    h = await harness_factory(setup=faq_team)
    _, saved = await _faq_form(h, "add", None, made["user"], question=FOUNDER, answer="Liang Wenfeng.")
    assert saved.content is not None and "Saved FAQ entry **#1**" in saved.content


async def test_an_faq_of_one_guild_never_answers_in_another(harness_factory: HarnessFactory) -> None:
    other: dict[str, int] = {}

    def second_guild(fake: FakeDiscord) -> dict[str, Any]:
        other["guild"] = fake.add_guild("Other Guild")
        other["channel"] = fake.add_text_channel(other["guild"], "general")
        fake.add_member(other["guild"], fake.user_id)
        return {"guild_ids": [fake.guild_id, other["guild"]]}

    h = await harness_factory(setup=second_guild)
    mod = h.add_moderator()
    _, saved = await _faq_form(h, "add", None, mod, question=FOUNDER, answer="Liang Wenfeng founded DeepSeek.")
    assert saved.content is not None and "Saved" in saved.content

    h.model.enqueue_reply(ANSWER)
    there = await _ask(h, PARAPHRASE, channel_id=other["channel"])
    assert there.content == ANSWER and len(h.model.chat_requests) == 1  # guild B's question reached the model
    here = await _ask(h, PARAPHRASE)
    assert here.content == f"{FAQ_LABEL}\n\nLiang Wenfeng founded DeepSeek." and len(h.model.chat_requests) == 1

    other_mod = h.add_moderator(other["guild"])
    ix = await h.discord.slash_command("faq", {"list": {}}, user_id=other_mod, channel_id=other["channel"])
    assert (await h.settled(ix)).content == NO_FAQS
    ix = await h.discord.slash_command("faq", {"remove": {"id": 1}}, user_id=other_mod, channel_id=other["channel"])
    not_here = (await h.settled(ix)).content
    assert not_here is not None and "no FAQ entry #1" in not_here
    assert len(await h.db.faqs_for_guild(h.discord.guild_id)) == 1


async def test_faq_list_pages(harness_factory: HarnessFactory) -> None:
    h = await harness_factory()
    mod = h.add_moderator()
    for i in range(1, 24):
        await h.db.add_faq(h.discord.guild_id, f"Question number {i}?", f"Answer {i}.", author_id=mod)

    first = await _faq(h, "list", None, mod)
    assert first.message is not None and first.content is not None
    assert first.ephemeral and "23 in all · page 1/3" in first.content
    assert "**#10** Question number 10?" in first.content and "#11" not in first.content
    previous, following = [c for c in walk_components(first.components) if c.get("type") == 2]
    assert previous.get("disabled") and not following.get("disabled")

    click = await h.discord.click_button(int(first.message["id"]), following["custom_id"], user_id=mod)
    await h.settled(click)
    second = h.discord.message(int(first.message["id"]))
    assert second is not None
    assert "page 2/3" in second["content"] and "**#11**" in second["content"] and "**#21**" not in second["content"]

    last = await _faq(h, "list", {"page": 9}, mod)  # past the end: the last page
    assert last.content is not None
    assert "page 3/3" in last.content and "**#23** Question number 23?" in last.content
    assert [bool(c.get("disabled")) for c in walk_components(last.components) if c.get("type") == 2] == [False, True]


async def test_faq_show_edit_and_remove(harness_factory: HarnessFactory) -> None:
    h = await harness_factory()
    mod = h.add_moderator()
    entry = await h.db.add_faq(h.discord.guild_id, FOUNDER, "Liang Wenfeng.", author_id=mod)
    chunk_id = next(iter(sorted(h.service.index.catalog.all_chunk_ids())))

    shown, edited = await _faq_form(
        h, "edit", {"id": entry.id}, mod, answer="Liang Wenfeng, a hedge fund manager [1].", sources=chunk_id
    )
    form = _inputs(shown.modal)
    assert form["question"]["value"] == FOUNDER and not form["sources"].get("value")  # no sources yet
    assert edited.content is not None and f"Updated FAQ entry **#{entry.id}**" in edited.content
    stored = await h.db.get_faq(entry.id, h.discord.guild_id)
    assert stored is not None
    assert stored.answer == "Liang Wenfeng, a hedge fund manager [1]."
    assert [(c.n, c.chunk_id, c.title) for c in stored.citations] == [(1, chunk_id, TITLE)]
    assert stored.citations[0].quote

    _, unknown = await _faq_form(h, "edit", {"id": entry.id}, mod, answer="Changed.", sources="nope-123")
    assert unknown.content is not None and "not in the index: `nope-123`" in unknown.content
    unchanged = await h.db.get_faq(entry.id, h.discord.guild_id)
    assert unchanged is not None and unchanged.answer == stored.answer  # nothing saved

    show = await _faq(h, "show", {"id": entry.id}, mod)
    assert show.content is not None
    assert show.ephemeral and f"**Q:** {FOUNDER}\n\n**A:** {stored.answer}" in show.content
    assert TITLE in show.embeds[0]["description"]

    removed = await _faq(h, "remove", {"id": entry.id}, mod)
    assert removed.content == f"🗑️ Removed FAQ entry **#{entry.id}**."
    assert await h.db.get_faq(entry.id, h.discord.guild_id) is None
    gone = await _faq(h, "edit", {"id": entry.id}, mod)
    assert gone.modal is None and gone.content is not None and f"no FAQ entry #{entry.id}" in gone.content
    h.model.enqueue_reply(ANSWER)
    assert (await _ask(h, FOUNDER)).content == ANSWER  # the model answers again


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"question": FOUNDER, "answer": "   "}, "⚠️ The answer is empty."),
        ({"question": FOUNDER, "answer": "x" * 4000}, "⚠️ The answer is too long (4,000 characters; at most 1,800)."),
        ({"question": "@everyone who founded DeepSeek?", "answer": "Liang Wenfeng."}, "mentions @everyone"),
    ],
)
async def test_invalid_entries_get_a_clear_reply(
    harness_factory: HarnessFactory, values: dict[str, str], message: str
) -> None:
    h = await harness_factory()
    mod = h.add_moderator()
    shown, outcome = await _faq_form(h, "add", None, mod, **values)
    assert outcome.content is not None
    assert outcome.ephemeral and message in outcome.content
    assert int(_inputs(shown.modal)["answer"]["max_length"]) == 4000  # Discord's cap on a text input
    assert await h.db.list_faqs(h.discord.guild_id) == ([], 0)


async def test_pinning_a_10000_character_answer_asks_to_shorten_it(harness_factory: HarnessFactory) -> None:
    h = await harness_factory()
    mod = h.add_moderator()
    sentence = "Liang Wenfeng founded DeepSeek after years of quantitative trading work in China [1]."
    long_answer = "\n\n".join(" ".join([sentence] * 10) for _ in range(12))
    assert len(long_answer) > 10_000
    h.model.enqueue_reply(long_answer, chunk_size=2000)
    ix = await h.discord.slash_command("ask", {"question": FOUNDER})
    await h.discord.wait_for_call(lambda c: c.method == "POST" and bool((c.json or {}).get("components")), 20)
    first, *_, last = [h.discord.interaction_outcome(ix).message, *h.discord.interaction_outcome(ix).followups]
    assert first is not None and last is not None

    refused = await h.settled(await h.discord.context_menu("Pin as FAQ", int(first["id"]), user_id=mod))
    assert refused.content == NOT_AN_ANSWER  # only the last piece carries the answer's buttons
    shown, outcome = await _pin(h, int(last["id"]), mod)
    assert len(_inputs(shown.modal)["answer"]["value"]) == 4000  # as much as the form can hold
    assert outcome.content is not None
    assert f"too long (4,000 characters; at most {FAQ_ANSWER_MAX_CHARS:,})" in outcome.content
    assert await h.db.list_faqs(h.discord.guild_id) == ([], 0)


async def test_a_refused_pin_is_reported_and_the_entry_kept(harness_factory: HarnessFactory) -> None:
    h = await harness_factory()
    mod = h.add_moderator()
    h.model.enqueue_reply(ANSWER)
    answer = (await _ask(h, FOUNDER)).message
    assert answer is not None
    h.discord.set_permission_overwrite(h.discord.channel_id, h.discord.bot_user_id, deny=MANAGE_MESSAGES, member=True)

    _, saved = await _pin(h, int(answer["id"]), mod)
    assert saved.content is not None and "Saved FAQ entry **#1**" in saved.content
    assert "couldn't pin the message: I don't have the Pin Messages permission" in saved.content
    assert [c.status for c in h.discord.calls if c.method == "PUT" and "/pins/" in c.path] == [403]
    [entry] = await h.db.faqs_for_guild(h.discord.guild_id)
    message = h.discord.message(int(answer["id"]))
    assert entry.pinned_message_id is None and message is not None and not message["pinned"]


async def test_pinning_the_message_can_be_turned_off(harness_factory: HarnessFactory) -> None:
    h = await harness_factory(pin_faq_messages=False)
    mod = h.add_moderator()
    h.model.enqueue_reply(ANSWER)
    answer = (await _ask(h, FOUNDER)).message
    assert answer is not None
    _, saved = await _pin(h, int(answer["id"]), mod)
    assert saved.content is not None
    assert saved.content.startswith("📌 Saved FAQ entry **#1**") and PINNED not in saved.content
    assert not [c for c in h.discord.calls if "/pins/" in c.path]
