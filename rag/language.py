"""Is a question written in English? A cheap, deterministic guess: no model, no download. Pure.

Two signals. Letters of a non-Latin script (Chinese, Cyrillic, Arabic, ...) that weigh at least half as much as
the Latin ones (a question's names are often Latin: "DeepSeek") mean another language, unless English function
words frame them ("what does 深度求索 mean?"). Latin-script text is weighed one language at a time against
English: that language's question words and verbs ("quem", "wer", "qui", "ist", "é") count double, its other
function words once, accented words once. A short question has one or two such words ("Quem fundou a DeepSeek?"),
so one question word is enough; names and acronyms carry none ("H20 export rules?"), and a capitalised word inside
a sentence is a name, not a function word ("Le Chat", "Die Zeit")."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Per language: (question words and common verbs: one makes a short question, function words: two do). Words
# that are also English ("a", "in", "was", "die", "come") count half for the language and nothing for English.
_LEXICON_TEXT: dict[str, tuple[str, str]] = {
    "fr": (
        "qui quoi pourquoi comment quel quelle quels quelles combien quand où est sont était étaient ont",
        "le la les de des du au aux et un une que qu' l' d' c' n' s' j' dans pour avec sur pas ce cette ces été leur"
        " leurs entre ou il elle nous vous ils elles se sa ses son par plus moins fait a en y",
    ),
    "es": (
        "qué que cuál cual cuáles cuales cuándo cuando cómo como dónde donde quién quien quiénes quienes cuánto"
        " cuanto cuántos cuantos cuánta cuántas es son está están fue fueron hay tiene",
        "el los las de del y una un en por para con su sus lo al la le les se sobre entre según desde muy pero ya",
    ),
    "pt": (
        "quem qual quais quando quanto quantos quanta quantas onde como porque que é são foi foram está estão tem há",
        "o os a as um uma uns umas de do da dos das no na nos nas em para com pelo pela por não também e ou seu sua"
        " ao aos à às mais se",
    ),
    "de": (
        "wer wie wann warum wo wieso weshalb welche welcher welches welchen wieviel wieviele ist sind hat hatte"
        " wurde wurden gibt kostet kostete",
        "der die das den dem des und ein eine einen einem einer für zu auf nicht im vom zum zur sich auch oder noch"
        " mit von bei aus nach über viel viele was es",
    ),
    "it": (
        "chi cosa che quando quanto quanti quanta quante quale quali perché dove come è sono ha hanno fu era",
        "il lo la gli le di del della delle degli dei nel nella un una per con su tra fra e o da al alla non anche"
        " l' dell' nell' un' c' cos' com' dov'",
    ),
    "nl": (
        "wie wat wanneer waarom hoe welke welk hoeveel waar is zijn heeft hebben werd was",
        "de het een van en op voor met niet te aan ook door bij uit dat die er",
    ),
    "pl": ("kto co kiedy ile jak dlaczego gdzie jest czy który która", "i w z na do się nie to o od za"),
    "tr": ("kim ne nedir kaç nasıl neden hangi mi mı mu mü", "ve bir bu için ile da de"),
    "id": (
        "siapa apa kapan berapa bagaimana mengapa kenapa dimana apakah adalah",
        "yang dan di ke dari untuk dengan ini itu tidak pada oleh sudah",
    ),
}
_ENGLISH_TEXT = """the a an is are was were be been of to in on at for with by from and or not what who whom whose which
    when where why how did do does don doesn didn isn can could should would will has have had it its this that these
    those there their they he she his her i you we my your our about after before much many any so no as me us say
    said mean means know think use used get make made like just really actually still than then but if all more most
    only other into over out up here now vs"""
_ENGLISH = frozenset(_ENGLISH_TEXT.split())
# Lexicon words that are also English words, beyond the function words above.
_ALSO_ENGLISH_TEXT = "die war hat come con per son um hoe mist ha ne ile"
_ALSO_ENGLISH = _ENGLISH | frozenset(_ALSO_ENGLISH_TEXT.split())
_ELISION = re.compile(r"^(l|d|qu|c|n|s|j|dell|nell|un|cos|com|dov)['’](.+)$", re.I)
# "Ursula von der Leyen", "Ley de IA": these before a capitalised word are part of a name.
_PARTICLES_TEXT = "von van der den de da di du del della dos das la le el"
_PARTICLES = frozenset(_PARTICLES_TEXT.split())
_TOKEN = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_SENTENCE_START = ".?!:;¿¡\"'«“(—-"
_NON_LATIN_WEIGHT = 3  # a Chinese or Japanese character carries about a word: it outweighs one Latin letter
_DENSE_SCRIPTS = ("CJK", "HIRAGANA", "KATAKANA", "HANGUL")
_ENGLISH_WEIGHT = 1.5  # an English word outweighs a foreign one: names ("Commission nationale de l'informatique")


@dataclass(frozen=True, slots=True)
class _Word:
    text: str  # casefolded
    name: bool  # capitalised inside a sentence: part of a name, whatever it spells


_LEXICONS = {
    lang: (frozenset(strong.split()), frozenset(common.split())) for lang, (strong, common) in _LEXICON_TEXT.items()
}


def _script_weights(text: str) -> tuple[int, int]:
    """(Latin letters, weighted letters of other scripts)."""
    latin = other = 0
    for char in text:
        if not char.isalpha():
            continue
        name = unicodedata.name(char, "")
        if name.startswith("LATIN"):
            latin += 1
        else:
            other += _NON_LATIN_WEIGHT if name.startswith(_DENSE_SCRIPTS) else 1
    return latin, other


def _words(text: str) -> list[_Word]:
    """The words of `text`, French and Italian elisions ("l'IA", "qu'est") split off; tokens holding a digit
    ("H800", "o1") are model names, not words."""
    words: list[_Word] = []
    for match in _TOKEN.finditer(text):
        token = match.group()
        if any(c.isdigit() for c in token):
            continue
        before = text[: match.start()].rstrip()
        name = token[0].isupper() and bool(before) and before[-1] not in _SENTENCE_START
        if elided := _ELISION.match(token):
            words.append(_Word(elided.group(1).casefold() + "'", False))
            token = elided.group(2)
        # English contractions keep their first part ("what's", "don't").
        words.append(_Word(re.split(r"['’]", token)[0].casefold(), name))
    return _with_particles(words)


def _with_particles(words: list[_Word]) -> list[_Word]:
    """Particles running into a name belong to it: "von der Leyen" is one name, not two German words."""
    out = list(words)
    for i in range(len(out) - 2, -1, -1):
        if out[i].text in _PARTICLES and out[i + 1].name:
            out[i] = _Word(out[i].text, True)
    return out


def _accented(word: str) -> bool:
    return any(not c.isascii() and unicodedata.name(c, "").startswith("LATIN") for c in word)


def _weigh(words: list[_Word], lang: str) -> tuple[float, float]:
    """(how much `words` read as `lang`, how much as English, counting no word for both)."""
    strong, common = _LEXICONS[lang]
    own = english = 0.0
    for word in words:
        if word.text in strong or word.text in common:
            weight = 0.0 if word.name else 2.0 if word.text in strong else 1.0
            own += weight / 2 if word.text in _ALSO_ENGLISH else weight
        elif word.text in _ENGLISH:
            english += _ENGLISH_WEIGHT
        elif _accented(word.text):  # "fondé", "Datenschutzbehörde"; a name's accent ("Société") counts half
            own += 0.5 if word.name else 1.0
    return own, english


def is_english(text: str) -> bool:
    """Whether `text` reads as English (or cannot be told apart from it: names, numbers, "v3 cost?")."""
    words = _words(text)
    latin, other = _script_weights(text)
    if other and 2 * other >= latin:  # "Что такое DeepSeek?": half the letters are enough, names are Latin
        return sum(w.text in _ENGLISH for w in words) >= 2
    inverted = 2.0 * sum(c in "¿¡" for c in text)  # Spanish opens its questions: "¿Quién ...?"
    for lang in _LEXICONS:
        own, english = _weigh(words, lang)
        own += inverted if lang == "es" else 0.0
        if own >= 2 and own > english:
            return False
    return True
