"""Telling English questions from others, without a model: a pure function, checked on real questions."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from rag.language import is_english

EVAL = Path(__file__).resolve().parents[2] / "eval"


@pytest.mark.parametrize(
    "question",
    [
        "Combien de GPU H800 DeepSeek a-t-il utilisés pour entraîner V3 ?",
        "Qui a fondé DeepSeek ?",
        "¿Cuándo entró en vigor la Ley de IA de la Unión Europea?",
        "¿Quién fundó DeepSeek?",
        "Wann hat die italienische Datenschutzbehörde die DeepSeek-App gesperrt?",
        "Wer hat DeepSeek gegründet?",
        "Quanto è costato addestrare DeepSeek-V3?",
        "DeepSeek-R1 是什么时候发布的？",
        "Что такое DeepSeek?",
        "ディープシークとは何ですか",
        "딥시크는 누가 만들었나요?",
        "ما هي ديب سيك؟",
    ],
)
def test_questions_in_other_languages_are_recognised(question: str) -> None:
    assert not is_english(question)


@pytest.mark.parametrize(
    "question",
    [
        "Who is Liang Wenfeng?",
        "Liang Wenfeng",
        "Huawei Ascend",
        "How do Huawei Ascend 910B chips compare to the H800?",
        "v3 cost?",
        "What does 深度求索 mean?",  # a Chinese name inside an English question
        "Who is 梁文锋?",
        "What did Ursula von der Leyen say about the AI Act?",
        "What did Société Générale say about Nvidia?",
        "is the MIT licence per GPU-hour or per run?",
        "um so what did Guo et al. find about R1?",
        "Zhipu, Moonshot, Baichuan: who are they?",
        "DeepSeek R1 Zero RL",
        "",
    ],
)
def test_english_questions_with_names_are_not_flagged(question: str) -> None:
    assert is_english(question)


def test_every_evaluation_question_is_classified_as_its_file_says() -> None:
    """The curated questions (written the way members ask: typos, chatty, very short) are English except the
    ones filed as `other_language`."""
    wrong = []
    for path in sorted(EVAL.glob("*.yaml")):
        for entry in yaml.safe_load(path.read_text(encoding="utf-8"))["questions"]:
            if is_english(entry["q"]) != (entry["kind"] != "other_language"):
                wrong.append(f"{path.name}:{entry['id']}: {entry['q']}")
    assert wrong == []
