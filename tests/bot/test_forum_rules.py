"""The forum desk's pure decisions: the question a post asks, tags by name, and the daily cap."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest
from pydantic import ValidationError

from bot.forum_rendering import cap_note, human_request
from bot.forum_rules import DailyCap, closes_post, find_tag, post_question, without_mentions
from rag.config import DiscordSettings, Settings


@dataclass(frozen=True)
class Tag:
    name: str


def test_a_posts_question_is_its_title_then_its_messages() -> None:
    question = post_question("Export rules for chips", ["Which  chips\nare covered?", "", "Since when?"], 1000)
    assert question == "Export rules for chips.\nWhich chips are covered?\nSince when?"


def test_a_title_repeated_as_the_first_line_is_read_once() -> None:
    assert post_question("What is the AI Act?", ["what is the AI Act? And who enforces it?"], 1000) == (
        "what is the AI Act? And who enforces it?"
    )


def test_a_long_post_is_cut_to_the_limit_keeping_its_start() -> None:
    question = post_question("Title?", ["word " * 500], 100)
    assert len(question) == 100 and question.startswith("Title?\nword word") and question.endswith("…")


def test_mention_tokens_are_not_part_of_the_question() -> None:
    assert without_mentions("<@123> ask <@!45> and <@&678> in <#9> @everyone") == "ask and in @everyone"
    assert post_question("<@&1> Help", ["<@2>"], 1000) == "Help."


def test_tags_are_found_by_name_whatever_their_case() -> None:
    tags = [Tag("Open"), Tag(" solved "), Tag("Needs human")]
    assert find_tag(tags, "Solved") is tags[1]
    assert find_tag(tags, "Answered") is None
    assert closes_post([Tag("Open"), Tag("NEEDS HUMAN")], ["Solved", "Needs human"])
    assert not closes_post([Tag("Open")], ["Solved", "Needs human"])


def test_the_daily_cap_counts_per_member_explains_once_and_starts_again_each_day() -> None:
    day = [date(2026, 12, 1)]
    cap = DailyCap(2, today=lambda: day[0])
    assert [cap.take(1), cap.take(1), cap.take(1), cap.take(2)] == [True, True, False, True]
    assert [cap.first_refusal(1), cap.first_refusal(1)] == [True, False]
    day[0] = date(2026, 12, 2)
    assert cap.take(1) and cap.first_refusal(1)


def test_the_human_request_names_the_role_only_when_one_is_configured() -> None:
    assert human_request(42, "Is **this** covered?").startswith("<@&42> 🙋")
    assert "\\*\\*this\\*\\*" in human_request(42, "Is **this** covered?")  # the title cannot restyle the message
    assert "<@&" not in human_request(None, "Title")
    assert "3 answers" in cap_note(3)


def test_forum_settings_come_from_the_environment_and_bad_ones_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RAGBOT_DISCORD__FORUM_CHANNELS", "[11, 12]")
    monkeypatch.setenv("RAGBOT_DISCORD__HELPER_ROLE", "13")
    discord = Settings(_env_file=None).discord
    assert (discord.forum_channels, discord.helper_role, discord.forum_delay) == ([11, 12], 13, 5.0)
    with pytest.raises(ValidationError, match="solved_tag"):
        DiscordSettings(solved_tag="a tag name longer than twenty")
