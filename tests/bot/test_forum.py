"""The forum help desk, end to end: the real bot against the loopback Discord (forum channels, posts, tags, role
mentions) and the loopback model server. What is asserted is what members see in the post."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

import pytest
from fakes.discord_protocol import MANAGE_THREADS
from fakes.discord_server import Call, FakeDiscord
from harness import Harness, HarnessFactory

from bot.events import ReviewSignal
from bot.forum_rendering import ONLY_POSTER_HUMAN, ONLY_POSTER_SOLVED, SOLVED_THANKS, cap_note

TITLE = "Who founded DeepSeek?"
ANSWER = "DeepSeek was founded by Liang Wenfeng [1]."


@dataclass
class Desk:
    """The forum world a test runs in: ids the setup made before the bot connected."""

    tags: tuple[str, ...] = ("Solved", "Needs human")
    settings: dict[str, Any] = field(default_factory=dict)
    forum: int = 0
    helper_role: int = 0
    other_role: int = 0
    helper: int = 0
    bystander: int = 0

    def setup(self, fake: FakeDiscord) -> dict[str, Any]:
        self.forum = fake.add_forum_channel(fake.guild_id, "help", self.tags)
        self.helper_role = fake.add_role(fake.guild_id, "helpers", 0, mentionable=True)
        self.other_role = fake.add_role(fake.guild_id, "announcements", 0, mentionable=True)
        fake.pingable_roles.add(self.helper_role)  # the one role the bot may name in allowed_mentions
        self.helper = fake.add_user("helen")
        fake.add_member(fake.guild_id, self.helper, roles=[self.helper_role])
        self.bystander = fake.add_user("bob")
        fake.add_member(fake.guild_id, self.bystander)
        return {"forum_channels": [self.forum], "helper_role": self.helper_role, "forum_delay": 0.6} | self.settings


def _final_in(post_id: int) -> Any:
    # The final form is the edit that adds the buttons (every answer has them, cited or not).
    where = f"/channels/{post_id}/messages/"
    return lambda c: c.method == "PATCH" and where in c.path and bool((c.json or {}).get("components"))


async def _answered(h: Harness, post_id: int, since: int = 0) -> dict[str, Any]:
    """The bot's answer in a post once it is final, as Discord stores it."""
    call: Call = await h.discord.wait_for_call(_final_in(post_id), 20, since=since)
    message = h.discord.message(int(call.response["id"]))
    assert message is not None
    return message


def _buttons(message: dict[str, Any]) -> dict[str, str]:
    """Button label (or emoji) -> custom id."""
    found = {}
    for row in message["components"]:
        for button in row["components"]:
            found[button.get("label") or button["emoji"]["name"]] = button["custom_id"]
    return found


async def _quiet(h: Harness, post_id: int, seconds: float = 1.5) -> list[dict[str, Any]]:
    """The bot's messages in a post after giving it time to (wrongly) answer."""
    await asyncio.sleep(seconds)
    return h.discord.messages_in(post_id)


async def _post_and_answer(h: Harness, desk: Desk) -> tuple[int, dict[str, Any]]:
    h.model.enqueue_reply(ANSWER)
    post = await h.discord.post_in_forum(desk.forum, TITLE, "I read about their model.")
    return int(post["id"]), await _answered(h, int(post["id"]))


async def test_a_new_post_is_answered_in_the_post_with_its_quick_additions_and_the_desk_buttons(
    harness_factory: HarnessFactory,
) -> None:
    desk = Desk()
    h = await harness_factory(setup=desk.setup)
    h.model.enqueue_reply(ANSWER)
    # The opening mentions the bot: the forum desk answers it, once; the mention handler stays out of posts.
    post = await h.discord.post_in_forum(desk.forum, TITLE, f"<@{h.discord.bot_user_id}> I read about their model.")
    post_id = int(post["id"])
    await asyncio.sleep(0.3)  # the poster adds a line a moment later, within the delay
    addition = await h.discord.reply_in_post(post_id, "Also, which hedge fund was behind it?")
    answer = await _answered(h, post_id)

    assert answer["content"] == ANSWER and answer["mentions"] == [] and answer["mention_roles"] == []
    assert answer["message_reference"]["message_id"] == addition["id"]  # the reply closes the question it read
    buttons = _buttons(answer)
    assert buttons["Solved"].startswith("ragbot:forum:solved:")
    assert buttons["Ask a human"].startswith("ragbot:forum:human:")
    assert {"👍", "👎", "Sources"} <= set(buttons)
    [request] = h.model.chat_requests
    question = request.json["messages"][-1]["content"].rsplit("Question: ", 1)[1]  # type: ignore[index]
    assert question == f"{TITLE} I read about their model. Also, which hedge fund was behind it?"
    assert [m["id"] for m in await _quiet(h, post_id, 1.0)] == [answer["id"]]
    assert h.discord.mention_violations == []


async def test_solved_applies_the_tag_thanks_the_poster_and_the_bot_stays_out_afterwards(
    harness_factory: HarnessFactory,
) -> None:
    desk = Desk()
    h = await harness_factory(setup=desk.setup)
    post_id, answer = await _post_and_answer(h, desk)
    ix = await h.discord.click_button(int(answer["id"]), _buttons(answer)["Solved"])
    outcome = await h.settled(ix)
    assert outcome.content == SOLVED_THANKS and not outcome.ephemeral
    await h.discord.wait_for_call(lambda c: c.method == "PATCH" and c.path == f"/channels/{post_id}")
    assert h.discord.applied_tag_names(post_id) == ["Solved"]

    asked = len(h.model.chat_requests)
    await h.discord.reply_in_post(post_id, "And when was it founded?")
    assert len(await _quiet(h, post_id)) == 2  # the answer and the thanks: no answer to the follow-up
    assert len(h.model.chat_requests) == asked


async def test_ask_a_human_pings_the_helper_role_and_nothing_else_anywhere(harness_factory: HarnessFactory) -> None:
    desk = Desk()
    h = await harness_factory(setup=desk.setup)
    signals: list[ReviewSignal] = []

    async def on_review_signal(signal: ReviewSignal) -> None:  # what the review queue listens to
        signals.append(signal)

    assert h.bot is not None
    h.bot.add_listener(on_review_signal)
    pings = f"@everyone <@{desk.bystander}> <@&{desk.other_role}>"
    h.model.enqueue_reply(f"{pings} {ANSWER}")  # a model repeating the mentions it was shown
    title = f"@everyone {TITLE}"
    post = await h.discord.post_in_forum(desk.forum, title, f"{pings} I read about their model.")
    post_id = int(post["id"])
    answer = await _answered(h, post_id)
    custom_id = _buttons(answer)["Ask a human"]
    ix = await h.discord.click_button(int(answer["id"]), custom_id)
    outcome = await h.settled(ix)

    assert outcome.content is not None and outcome.content.startswith(f"<@&{desk.helper_role}> 🙋")
    assert "@everyone" in outcome.content  # the title, quoted: shown, and still pinging no one
    [callback] = [c for c in h.discord.interaction_responses(ix) if "/callback" in c.path]
    assert callback.json["data"]["allowed_mentions"] == {"parse": [], "roles": [desk.helper_role]}
    bot_messages = h.discord.messages_in(post_id)
    assert [m["mention_roles"] for m in bot_messages] == [[], [str(desk.helper_role)]]
    assert all(m["mentions"] == [] and not m["mention_everyone"] for m in bot_messages)
    await h.discord.wait_for_call(lambda c: c.method == "PATCH" and c.path == f"/channels/{post_id}")
    assert h.discord.applied_tag_names(post_id) == ["Needs human"]
    assert h.discord.mention_violations == []

    await asyncio.sleep(0.2)
    [signal] = signals
    assert answer["content"] == f"{pings} {ANSWER}"  # the mentions are in the answer's text, and ping no one
    assert (signal.kind, signal.channel_id, signal.asker_id) == ("human", post_id, h.discord.user_id)
    assert signal.answer_id == custom_id.rsplit(":", 1)[1] and signal.message_id == int(answer["id"])
    assert signal.question == f"@everyone {TITLE}\n@everyone I read about their model."  # as searched: no ids
    assert signal.closest and "DeepSeek" in signal.closest[0]  # the source the answer cited, by title
    again = await h.discord.click_button(int(answer["id"]), custom_id)
    assert (await h.settled(again)).ephemeral  # asked once; the helpers are not called twice
    assert len(signals) == 1


async def test_only_the_poster_can_use_the_buttons(harness_factory: HarnessFactory) -> None:
    desk = Desk()
    h = await harness_factory(setup=desk.setup)
    post_id, answer = await _post_and_answer(h, desk)
    buttons = _buttons(answer)
    for label, refusal in (("Solved", ONLY_POSTER_SOLVED), ("Ask a human", ONLY_POSTER_HUMAN)):
        ix = await h.discord.click_button(int(answer["id"]), buttons[label], user_id=desk.bystander)
        outcome = await h.settled(ix)
        assert outcome.ephemeral and outcome.content == refusal
    assert h.discord.applied_tag_names(post_id) == []
    assert [m["id"] for m in h.discord.messages_in(post_id)] == [answer["id"]]


async def test_the_posters_follow_up_is_answered_with_the_post_as_context_until_a_helper_replies(
    harness_factory: HarnessFactory,
) -> None:
    desk = Desk()
    h = await harness_factory(setup=desk.setup)
    post_id, _ = await _post_and_answer(h, desk)
    h.model.enqueue_reply("Which hedge fund did Liang Wenfeng run?")  # the follow-up's standalone rewrite
    h.model.enqueue_reply("High-Flyer [1].")
    mark = h.discord.mark()
    await h.discord.reply_in_post(post_id, "and which hedge fund did he run?")
    follow_up = await _answered(h, post_id, since=mark)
    assert follow_up["content"] == "High-Flyer [1]." and "Solved" in _buttons(follow_up)
    rewrite = h.model.chat_requests[-2].json["messages"][1]["content"]  # type: ignore[index]
    assert rewrite.startswith(f"Conversation:\nUser: {TITLE}\nI read about their model.\nAssistant: {ANSWER}")

    await h.discord.reply_in_post(post_id, "He ran High-Flyer, a quant fund.", author_id=desk.helper)
    asked = len(h.model.chat_requests)
    await h.discord.reply_in_post(post_id, "thanks, and when was it founded?")
    assert len(await _quiet(h, post_id)) == 2  # the two answers; the helper has the conversation now
    assert len(h.model.chat_requests) == asked


async def test_a_post_tagged_by_a_moderator_is_left_to_the_people(harness_factory: HarnessFactory) -> None:
    desk = Desk()
    h = await harness_factory(setup=desk.setup)
    moderator = h.add_member_with("mod", MANAGE_THREADS)
    post_id, _ = await _post_and_answer(h, desk)
    await h.discord.tag_post(post_id, ["Needs human"], user_id=moderator)
    await asyncio.sleep(0.2)  # THREAD_UPDATE reaches the bot's cache
    await h.discord.reply_in_post(post_id, "and when was it founded?")
    assert len(await _quiet(h, post_id)) == 1


async def test_past_the_daily_cap_a_member_gets_one_short_note_instead_of_answers(
    harness_factory: HarnessFactory,
) -> None:
    desk = Desk(settings={"forum_daily_cap": 1})
    h = await harness_factory(setup=desk.setup)
    await _post_and_answer(h, desk)
    second = int((await h.discord.post_in_forum(desk.forum, "When was DeepSeek founded?", "Curious."))["id"])
    [note] = [m for m in await _quiet(h, second, 1.5)]
    assert note["content"] == cap_note(1) and note["mentions"] == []
    third = int((await h.discord.post_in_forum(desk.forum, "Where is DeepSeek based?", "Curious."))["id"])
    assert await _quiet(h, third, 1.5) == []  # told once a day, not under every post
    assert len(h.model.chat_requests) == 1
    others = await h.discord.post_in_forum(desk.forum, TITLE, "Me too.", author_id=desk.bystander)
    h.model.enqueue_reply(ANSWER)
    assert (await _answered(h, int(others["id"])))["content"] == ANSWER  # the cap is per member


@pytest.mark.parametrize("problem", ["no tags", "no permission"])
async def test_without_tags_or_the_permission_to_apply_them_answers_still_come_and_it_is_logged_once(
    harness_factory: HarnessFactory, caplog: pytest.LogCaptureFixture, problem: str
) -> None:
    desk = Desk(tags=() if problem == "no tags" else ("Solved", "Needs human"))

    def setup(fake: FakeDiscord) -> dict[str, Any]:
        settings = desk.setup(fake)
        if problem == "no permission":
            fake.set_permission_overwrite(desk.forum, fake.bot_user_id, deny=MANAGE_THREADS, member=True)
        return settings

    h = await harness_factory(setup=setup)
    caplog.set_level(logging.WARNING, logger="bot.cogs.forum")
    for _ in range(2):
        post_id, answer = await _post_and_answer(h, desk)
        assert answer["content"] == ANSWER
        outcome = await h.settled(await h.discord.click_button(int(answer["id"]), _buttons(answer)["Solved"]))
        assert outcome.content == SOLVED_THANKS
        await asyncio.sleep(0.3)
        assert h.discord.applied_tag_names(post_id) == []
    expected = "has no tag named 'Solved'" if problem == "no tags" else "give it the Manage Threads permission"
    reports = [r.getMessage() for r in caplog.records if r.name == "bot.cogs.forum"]
    assert len([r for r in reports if expected in r]) == 1, reports
    if problem == "no permission":
        assert [c.status for c in h.discord.calls_to("PATCH", "/channels/") if c.path.count("/") == 2] == [403, 403]


async def test_the_desk_buttons_keep_working_after_a_restart(harness_factory: HarnessFactory) -> None:
    desk = Desk()
    h = await harness_factory(setup=desk.setup)
    post_id, answer = await _post_and_answer(h, desk)
    await h.stop()
    await h.start()  # a new process: the post's buttons are found again by their custom ids
    outcome = await h.settled(await h.discord.click_button(int(answer["id"]), _buttons(answer)["Solved"]))
    assert outcome.content == SOLVED_THANKS
    await h.discord.wait_for_call(lambda c: c.method == "PATCH" and c.path == f"/channels/{post_id}")
    assert h.discord.applied_tag_names(post_id) == ["Solved"]


async def test_a_helper_reply_still_counts_after_a_restart(harness_factory: HarnessFactory) -> None:
    """A helper took the post over while the bot was down: the restarted bot reads that back and stays out."""
    desk = Desk()
    h = await harness_factory(setup=desk.setup)
    post_id, _ = await _post_and_answer(h, desk)
    await h.stop()
    h.discord.seed_message(post_id, "He ran High-Flyer, a quant fund.", author_id=desk.helper)  # while it was down
    await h.start()
    asked = len(h.model.chat_requests)
    await h.discord.reply_in_post(post_id, "thanks, and when was it founded?")
    assert len(await _quiet(h, post_id)) == 1  # the first answer only; the helper has the conversation now
    assert len(h.model.chat_requests) == asked


async def test_ask_a_human_files_a_card_in_the_review_queue(harness_factory: HarnessFactory) -> None:
    """The hand-off reaches the moderators as work to do: a review card naming the post, through the real queue."""
    desk = Desk()

    def setup(fake: FakeDiscord) -> dict[str, Any]:
        return desk.setup(fake) | {"review_channel": fake.add_text_channel(fake.guild_id, "review")}

    h = await harness_factory(setup=setup)
    review = h.settings.discord.review_channel
    post_id, answer = await _post_and_answer(h, desk)
    mark = h.discord.mark()
    ix = await h.discord.click_button(int(answer["id"]), _buttons(answer)["Ask a human"])
    await h.settled(ix)

    posted = await h.discord.wait_for_call(
        lambda c: c.method == "POST" and c.path == f"/channels/{review}/messages", since=mark
    )
    card = h.discord.message(int(posted.response["id"]))
    assert card is not None and card["mentions"] == [] and card["mention_roles"] == []
    text = str(card["embeds"][0])
    assert TITLE in text and "🙋 asked for a human" in text
    assert f"https://discord.com/channels/{h.discord.guild_id}/{post_id}/{answer['id']}" in text
