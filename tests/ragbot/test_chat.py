"""`ragbot chat` through a pseudo-terminal, as a person types into it: with the loopback model server (streamed
answers, a follow-up rewritten with the conversation) and without a model (extractive answers)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pexpect
import pytest
from fakes.openai_server import FakeOpenAI
from helpers import ragbot_command

from ragbot.chat import PROMPT


def _spawn(env: dict[str, str], cwd: Path) -> pexpect.spawn:
    full = {k: v for k, v in os.environ.items() if not k.startswith("RAGBOT_")} | env | {"COLUMNS": "200"}
    return pexpect.spawn(ragbot_command(), ["chat"], env=full, cwd=str(cwd), encoding="utf-8", timeout=240)


@pytest.mark.usefixtures("indexed_article")  # the article is indexed already: the chat starts at once
def test_chat_without_a_model_answers_shows_sources_and_ends_on_eof(env: dict[str, str], tmp_path: Path) -> None:
    child = _spawn(env, tmp_path)
    child.expect_exact(PROMPT)
    child.sendline("Who founded DeepSeek?")
    child.expect_exact("Extractive answer")
    child.expect_exact("Liang Wenfeng")
    child.expect_exact(PROMPT)
    child.sendline("/sources")
    child.expect_exact('"DeepSeek was founded by Liang Wenfeng')  # the full quote, not only the title
    child.expect_exact(PROMPT)
    child.sendline("/nonsense")
    child.expect_exact("unknown command /nonsense")
    child.expect_exact(PROMPT)
    child.sendeof()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0 and "Traceback" not in (child.before or "")


@pytest.mark.usefixtures("indexed_article")
async def test_chat_follow_up_uses_the_conversation(env: dict[str, str], tmp_path: Path) -> None:
    async with FakeOpenAI() as fake:
        llm = {
            "RAGBOT_LLM__PROVIDER": "custom",
            "RAGBOT_LLM__BASE_URL": fake.base_url,
            "RAGBOT_LLM__MODEL": "fake-chat",
        }
        fake.enqueue_reply("Liang Wenfeng founded DeepSeek [1].", chunk_size=4, chunk_delay=0.05)
        fake.enqueue_reply("When was DeepSeek founded by Liang Wenfeng?")  # the follow-up, rewritten
        fake.enqueue_reply("The article says Liang Wenfeng started it in 2023 [1].")
        child = _spawn(env | llm, tmp_path)

        async def expect(text: str) -> None:
            await asyncio.to_thread(child.expect_exact, text)  # the fake server keeps serving meanwhile

        await expect(PROMPT)
        child.sendline("Who founded DeepSeek?")
        await expect("Liang Wenfeng founded DeepSeek [1].")
        await expect("Sources")
        await expect(PROMPT)
        child.sendline("When was it founded?")
        await expect("started it in 2023 [1].")
        await expect(PROMPT)
        child.sendintr()  # Ctrl-C at the prompt ends the session cleanly
        await asyncio.to_thread(child.expect, pexpect.EOF)
        child.close()
        assert child.exitstatus == 0 and "Traceback" not in (child.before or "")

    first, rewrite, follow_up = fake.chat_requests
    assert first.json is not None and rewrite.json is not None and follow_up.json is not None
    assert "When was it founded?" in str(rewrite.json["messages"]) and "Liang Wenfeng founded" in str(
        rewrite.json["messages"]
    )
    asked = follow_up.json["messages"][-1]
    assert asked["role"] == "user"  # the earlier turn travels with the follow-up, as in a Discord thread
    assert "User: Who founded DeepSeek?\nAssistant: Liang Wenfeng founded DeepSeek [1]." in asked["content"]
    assert asked["content"].endswith("Question: When was it founded?")
