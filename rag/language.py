"""Is a question written in English? A cheap, deterministic guess: no model, no download. Pure.

Two signals. Letters of a non-Latin script (Chinese, Cyrillic, Arabic, ...) that weigh at least half as much as
the Latin ones (a question's names are often Latin: "DeepSeek") mean another language, unless English function
words frame them ("what does 深度求索 mean?"). Latin-script text is judged by its function words and accented
words: several French, Spanish, German, Italian or Portuguese ones and fewer English ones. Names carry neither,
so "Liang Wenfeng" or "Huawei Ascend" never tip a question over."""

from __future__ import annotations

import re
import unicodedata

# Function words of other languages that are not also English words ("die", "was", "in", "also", "per", "mit"
# (MIT licence), "von" (von der Leyen), "no", "um", "son", "come" are left out).
_FOREIGN_TEXT = """
le la les de en des du au aux est et une qui que quoi pourquoi comment quel quelle quels quelles combien dans pour
avec sur pas cette ont sont été où leur leurs entre ou il elle nous vous ils se sa ses ces
el los las es y una qué cuál cuáles cuándo cómo por para con del su sus fue quién quiénes cuánto cuántos cuánta
cuántas está están lo al sobre entre según hay desde
der das und ist wer wie wann warum welche welcher welches ein eine einen einem für zu auf den dem nicht hat
wurde wurden im vom zum zur sich auch oder noch kostet kostete gibt
il lo gli è chi che quando perché quanto quanti della delle degli di sono stato stata nel nella
o os uma não quem quando qual quais quanto foi são da das dos na nas também
"""
_FOREIGN = frozenset(_FOREIGN_TEXT.split())
_ENGLISH_TEXT = """the a an is are was were be been of to in on at for with by from and or not what who whom whose which
when where why how did do does can could should would will has have had it its this that these those there their
they he she his her i you we my your our about after before much many any"""
_ENGLISH = frozenset(_ENGLISH_TEXT.split())
_ACCENTED = re.compile(r"[àâäçéèêëîïôöùûüÿñßãõáíóú]")
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")
_NON_LATIN_WEIGHT = 3  # a Chinese or Japanese character carries about a word: it outweighs one Latin letter
_DENSE_SCRIPTS = ("CJK", "HIRAGANA", "KATAKANA", "HANGUL")


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


def is_english(text: str) -> bool:
    """Whether `text` reads as English (or cannot be told apart from it: names, numbers, "v3 cost?")."""
    words = [w.casefold() for w in _WORD.findall(text)]
    english = sum(w in _ENGLISH for w in words)
    latin, other = _script_weights(text)
    if other and 2 * other >= latin:  # "Что такое DeepSeek?": half the letters are enough, names are Latin
        return english >= 2
    # An accented word ("fondé", "Datenschutzbehörde") counts like a function word: English has almost none, and
    # the odd borrowed name ("Société Générale") comes with English words around it.
    foreign = sum(w in _FOREIGN or bool(_ACCENTED.search(w)) for w in words) + 2 * sum(c in "¿¡" for c in text)
    return not (foreign >= 2 and foreign > english)
