"""Other forms of a question searched beside it as written: its keywords only (chatty filler and question
words weaken a short embedding) and its acronyms spelled out, or spelled-out names abbreviated, as the
corpus itself defines them ("Bureau of Industry and Security (BIS)")."""

from __future__ import annotations

import re
from collections.abc import Iterable

# Words that carry the asking, not the topic. English stopwords are dropped too, but only these are safe to
# drop for an embedding model: "not", "before", "after" change what is asked and stay.
_FILLER_WORDS = """
a an the of to in on at for by with from about into as and or but so if then than that this these those it its
is are was were be been being do does did done have has had having can could would should will shall may might
must i me my we our you your he him his she her they them their there here what which who whom whose when
where why how whats what's wheres how's hey hi hello ok okay like just really actually basically anyway
please thanks thank sorry um uh hmm lol btw tbh imo guys all folks someone anyone people say said says
tell know think thought wondering question quick long one remind again right yeah yes no pls u ur wat wen n w/o
"""
_FILLER = frozenset(re.split(r"\s+", _FILLER_WORDS.strip()))
_WORD = re.compile(r"[\w$%][\w.,$%/'-]*[\w%]|[\w$%]")
# "Long Capitalised Name (ABBR)" and "ABBR (Long Capitalised Name)": how the sources define acronyms.
_NAME = r"(?:[A-Z][\w'-]*\s+(?:(?:of|and|for|on|the|in)\s+)*){1,7}[A-Z][\w'-]*"
_LONG_THEN_SHORT = re.compile(rf"({_NAME})\s+\(([A-Z]{{2,6}})\)")
_SHORT_THEN_LONG = re.compile(rf"\b([A-Z]{{2,6}})\s+\(({_NAME})\)")


def keyword_form(query: str) -> str:
    """The query's content words in order ("ok so what did the agency that writes export rules change?" ->
    "agency writes export rules change"); empty when nothing would be dropped."""
    words = _WORD.findall(query)
    kept = [w for w in words if w.casefold() not in _FILLER]
    if not kept or len(kept) == len(words):
        return ""
    return " ".join(kept)


def _initials_match(name: str, short: str) -> bool:
    """ "Bureau of Industry and Security" spells BIS: the acronym's letters are the capitalised words' initials."""
    initials = "".join(w[0] for w in name.split() if w[0].isupper())
    return initials.casefold() == short.casefold()


def _trim_to_initials(name: str, short: str) -> str | None:
    """The shortest tail of `name` whose initials spell `short` (a sentence may run into the name)."""
    words = name.split()
    for start in range(len(words)):
        tail = " ".join(words[start:])
        if _initials_match(tail, short):
            return tail
    return None


def find_acronyms(texts: Iterable[str]) -> dict[str, str]:
    """{acronym (casefolded): the name it stands for}, from definitions in the sources."""
    found: dict[str, str] = {}
    for text in texts:
        pairs = [(m.group(1), m.group(2)) for m in _LONG_THEN_SHORT.finditer(text)]
        pairs += [(m.group(2), m.group(1)) for m in _SHORT_THEN_LONG.finditer(text)]
        for long, short in pairs:
            name = _trim_to_initials(long, short)
            if name is not None:
                found.setdefault(short.casefold(), name)
    return found


def expand_acronyms(query: str, acronyms: dict[str, str]) -> str:
    """The query with each defined acronym's name added, and each spelled-out name's acronym added; empty
    when the query names none of them."""
    folded = query.casefold()
    words = {w.casefold() for w in re.findall(r"[A-Za-z]+", query)}
    extra = [name for short, name in acronyms.items() if short in words and name.casefold() not in folded]
    extra += [short.upper() for short, name in acronyms.items() if name.casefold() in folded and short not in words]
    return f"{query} {' '.join(extra)}" if extra else ""
