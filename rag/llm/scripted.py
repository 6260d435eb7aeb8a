"""A deterministic local chat model: answers from the prompt's numbered sources the way a careful model would.

It needs no network and no weights, so `ragbot eval` and the tests can measure the whole pipeline (retrieval,
prompting, citation checking, refusals) with a model whose behaviour is known: for each of the best-matching
sources it quotes the one sentence that shares the most content words with the question, cited as [n]. Replies
queued with `enqueue` are served first, verbatim (like simonw/llm's MockModel), to script a misbehaving model.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import deque
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from rag.citations import terms
from rag.llm import ChatEvent, Delta, Message, UsageReport
from rag.prompting import NOT_COVERED
from rag.text import split_sentences
from rag.tokens import count_tokens
from rag.types import Usage

log = logging.getLogger(__name__)

_SOURCE = re.compile(r'<source n="(\d+)"[^>]*>\n(.*?)\n</source>', re.S)
_QUESTION = "Question: "
_CONVERSATION = "Conversation so far:\n"
_USER = "User: "
# Words every question has: sharing "what" or "does" with a sentence says nothing about its topic.
_QUESTION_WORDS_TEXT = """what who whom whose which when where why how did do doe does can could should shall may might
must i me my you your we our us anyone anybody someone like actually really just so ok okay any some tell know say
said get got thing stuff kind sort way much many"""
_QUESTION_WORDS = frozenset(_QUESTION_WORDS_TEXT.split())
_MIN_SENTENCE_CHARS = 20  # shorter lines are list labels and headings, not statements
_MAX_SOURCES = 3
_PIECE_CHARS = 16


@dataclass(frozen=True, slots=True)
class _Pick:
    n: int
    sentence: str
    score: int


def content_words(text: str) -> set[str]:
    """The words that carry a text's topic: stop words and question words removed, light stemming."""
    return terms(text) - _QUESTION_WORDS


def parse_prompt(messages: Sequence[Message]) -> tuple[list[tuple[int, str]], str, str]:
    """The numbered sources, the question and the last earlier user turn of the last user message, as
    `build_prompt` renders them."""
    user = next((m["content"] for m in reversed(messages) if m.get("role") == "user"), "")
    sources = [(int(n), body) for n, body in _SOURCE.findall(user)]
    before, found, question = user.rpartition(_QUESTION)
    _, _, conversation = before.rpartition(_CONVERSATION)
    return sources, (question if found else user).strip(), _last_user_turn(conversation)


def _last_user_turn(conversation: str) -> str:
    turns = [line.removeprefix(_USER) for line in conversation.splitlines() if line.startswith(_USER)]
    return turns[-1] if turns else ""


def _weights(question: str, earlier: str) -> dict[str, int]:
    # A follow-up ("is it still blocked there?") names its topic in the turn before; the question's own
    # words still count double, so the answer is about what was asked now.
    weights = dict.fromkeys(content_words(earlier), 1)
    weights.update(dict.fromkeys(content_words(question), 2))
    return weights


def _best_sentence(n: int, text: str, weights: dict[str, int]) -> _Pick | None:
    best: _Pick | None = None
    for sentence in split_sentences(text):
        if len(sentence) < _MIN_SENTENCE_CHARS:
            continue
        score = sum(weights.get(w, 0) for w in content_words(sentence))
        # Strictly greater: on a tie the earlier sentence wins, which keeps the reply deterministic.
        if score > 0 and (best is None or score > best.score):
            best = _Pick(n, sentence, score)
    return best


def careful_reply(messages: Sequence[Message]) -> str:
    """Up to three cited sentences, best-matching source first; the refusal line when nothing matches."""
    sources, question, earlier = parse_prompt(messages)
    weights = _weights(question, earlier)
    picks = [p for n, text in sources if (p := _best_sentence(n, text, weights)) is not None]
    picks.sort(key=lambda p: (-p.score, p.n))
    parts: list[str] = []
    seen: set[str] = set()
    for pick in picks:
        # A source whose best sentence matches half as well as the top one adds noise, not support;
        # overlapping chunks repeat sentences, and a careful model says each once.
        if 2 * pick.score < picks[0].score or pick.sentence in seen:
            continue
        seen.add(pick.sentence)
        parts.append(f"{pick.sentence} [{pick.n}]")
        if len(parts) == _MAX_SOURCES:
            break
    return " ".join(parts) if parts else NOT_COVERED


def rewrite_reply(messages: Sequence[Message]) -> str:
    """A follow-up as a standalone query: the previous user question followed by the new message."""
    content = messages[-1]["content"] if messages else ""
    conversation, _, last = content.rpartition("Last message: ")
    earlier = _last_user_turn(conversation)
    return f"{earlier} {last.strip()}" if earlier else last.strip()


class ScriptedChatModel:
    """A real `ChatModel`: deterministic, offline, instant. Queued replies first, then careful ones."""

    def __init__(self, *, piece_chars: int = _PIECE_CHARS) -> None:
        self._queue: deque[str] = deque()
        self._piece_chars = max(1, piece_chars)

    @property
    def name(self) -> str:
        return "scripted"

    def enqueue(self, *replies: str) -> None:
        """Serve these replies verbatim to the next `stream` calls, in order."""
        self._queue.extend(replies)

    async def stream(self, messages: Sequence[Message], *, max_tokens: int | None = None) -> AsyncIterator[ChatEvent]:
        reply = self._queue.popleft() if self._queue else careful_reply(messages)
        for start in range(0, len(reply), self._piece_chars):
            yield Delta(reply[start : start + self._piece_chars])
            await asyncio.sleep(0)  # a stream yields to the loop between pieces, like a network one
        prompt = sum(count_tokens(m.get("content", "")) for m in messages)
        yield UsageReport(Usage(prompt_tokens=prompt, completion_tokens=count_tokens(reply)))

    async def complete(self, messages: Sequence[Message], *, max_tokens: int) -> str:
        return rewrite_reply(messages)

    async def list_models(self) -> list[str]:
        return ["scripted"]

    async def aclose(self) -> None:
        return None
