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


# Short questions the way members type them: one question word and a name is all there is to go on.
SHORT_OTHER = [
    ("pt", "Quem fundou a DeepSeek?"),
    ("pt", "O que é MoE?"),
    ("pt", "Quanto custou o V3?"),
    ("pt", "Qual chip a DeepSeek usou?"),
    ("es", "Quien fundo DeepSeek?"),  # typed without accents on a phone
    ("es", "Qué es MoE?"),
    ("es", "Cuánto costó V3?"),
    ("fr", "C'est quoi MoE ?"),
    ("fr", "Combien coûte V3 ?"),
    ("fr", "Qu'est-ce que le MoE ?"),
    ("de", "Was ist MoE?"),
    ("de", "Was kostet V3?"),
    ("de", "Wie teuer war V3?"),
    ("it", "Chi ha fondato DeepSeek?"),
    ("it", "Cos'è MoE?"),
    ("nl", "Wat is MoE?"),
    ("pl", "Kto założył DeepSeek?"),
    ("tr", "DeepSeek'i kim kurdu?"),
    ("id", "Siapa pendiri DeepSeek?"),
    ("vi", "Ai sáng lập DeepSeek?"),
    ("zh", "谁创立了DeepSeek？"),
    ("zh", "DeepSeek-V3的价格?"),
    ("ru", "DeepSeek это что?"),
    ("ko", "딥시크 창업자는?"),
]
SHORT_ENGLISH = [
    "Who founded DeepSeek?",
    "H20 export rules?",
    "What is MoE?",
    "o1 vs o3?",  # "o" is Portuguese for "the", but here it is part of a model name
    "a100 vs h100",
    "Le Chat pricing?",  # Mistral's assistant: one French word is not a French question
    "Los Alamos AI lab?",
    "von der Leyen AI Act?",
    "Die Zeit report on DeepSeek?",
    "Was R1 open source?",
    "War in Ukraine chips?",
    "Is MoE open?",
    "Guo et al. 2025?",
    "Pro and con of R1?",
    "what's GRPO?",
    "Nestlé and Zürich AI rules?",
    "What did the Commission nationale de l'informatique et des libertés say?",
]


@pytest.mark.parametrize(("language", "question"), SHORT_OTHER)
def test_short_questions_in_other_languages_are_recognised(language: str, question: str) -> None:
    assert not is_english(question), language


@pytest.mark.parametrize("question", SHORT_ENGLISH)
def test_short_english_questions_with_names_and_acronyms_stay_english(question: str) -> None:
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
