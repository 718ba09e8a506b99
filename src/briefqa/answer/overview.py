"""Whole-brief and archive questions, answered from a brief's structure and the manifest.

"What is this brief about?", "What does it recommend for Poland?", "When was bulletin 116
published?" and "Which briefs do we have since 2023?" are the first questions staff ask,
and a passage search answers them badly: their answer is the lead paragraph, a named
section, or a field of the manifest, not the passage most similar to the question.

:func:`briefqa.answer.intents.classify` recognises such a question; :class:`Overview` finds the
brief it means (named by number, date or title, the only brief, the brief the filters
allow, or the one whose passages fit its topic best) and returns a :class:`Plan`: the
passages to cite and, for the extractive answerer, which of their sentences answer.
Metadata answers (title, date, the archive's list) are written here from the manifest,
each fact cited to the brief's "about" card: a passage made of its manifest fields.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ..index.manifest import Manifest
from ..index.store import VectorStore
from ..schema import BriefInfo, Chunk, Citation, Filters, Hit
from ..text import names, root, roots, sentence_spans, with_marker
from .intents import (
    FRAMING,
    NAMED_BRIEF,
    SECTION_WORDS,
    Intent,
    brief_numbers,
    date_range,
    long_date,
    question_dates,
    unnamed,
)

#: Most sentences a whole-brief answer quotes (a lead paragraph is three to five).
BRIEF_SENTENCES = 5
#: Most briefs an archive answer lists one by one.
LISTED_BRIEFS = 10
#: Section name of an about card's passage.
ABOUT = "About this brief"

_I = re.I
_CONCLUDING_HEADING = re.compile(
    r"conclu|outlook|way forward|final (?:remarks|thoughts)|takeaways|implications|summary", _I
)
_RECOMMENDING_HEADING = re.compile(r"recommend|policy (?:options|implications)|proposals", _I)
_LEAD_HEADING = re.compile(r"^(?:summary|executive summary|abstract|key points|in brief)$", _I)
# A sentence that recommends: "should", "it is advisable", "it is in Poland's interest to".
_RECOMMENDING = re.compile(
    r"\bshould\b|\bought to\b|\bmust\b|\bneeds? to\b|\bit is (?:advisable|recommended|"
    r"necessary|essential|important|worth|crucial|vital|desirable)\b|"
    r"\bin (?:the )?[\w’'. -]{0,40}?\binterests? (?:to|that)\b|\brecommend\w*\b|"
    r"\bcalls? (?:for|on)\b|\burges?\b|\brequires? [\w’' ]{1,30}? to\b|\bis advisable\b",
    _I,
)


def _listing(items: list[str], last: str = " and ") -> str:
    """ "A, B and C" (``last`` joins the final two)."""
    return ", ".join(items[:-1]) + last + items[-1] if len(items) > 1 else items[0]


def _plain(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.casefold()))


def _people(info: BriefInfo) -> list[str]:
    """Each author, with the role the byline gives ("Maria Lopez, analyst in the …")."""
    roles = info.author_roles if len(info.author_roles) == len(info.authors) else ()
    return [
        f"{name}, {role}" if role else name
        for name, role in zip(info.authors, roles or [""] * len(info.authors), strict=True)
    ]


def about_card(info: BriefInfo) -> Hit:
    """The brief's manifest fields as a citable passage (section :data:`ABOUT`; its
    offsets are into this text, not the brief's)."""
    lines = [f"Title: {info.title}"]
    if info.number:
        lines.append(f"Number: {info.number}")
    if info.date:
        lines.append(f"Published: {long_date(info.date)}")
    if info.authors:
        lines.append("Authors: " + "; ".join(_people(info)))
    if info.sections:
        lines.append("Sections: " + "; ".join(info.sections))
    text = "\n".join(lines)
    return Hit(f"{info.doc_id}#about", info.doc_id, info.title, text, 1.0, 0, len(text), ABOUT)


def _line(card: Hit, prefix: str) -> tuple[str, int, int]:
    """The card line starting with ``prefix``, with its offsets."""
    start = card.text.find(prefix)
    if start < 0:
        return card.text.split("\n", 1)[0], 0, card.text.find("\n") % (len(card.text) + 1)
    end = card.text.find("\n", start)
    end = len(card.text) if end < 0 else end
    return card.text[start:end], start, end


@dataclass(frozen=True)
class Sentence:
    """A sentence of a brief, located in one of its chunks."""

    hit: Hit
    text: str
    start: int  # brief offsets
    end: int
    section: str | None
    opens_paragraph: bool


@dataclass
class Plan:
    """How a whole-brief or archive question is answered.

    ``passages`` are what the answer cites ([n] = position + 1). ``quotes`` are the
    sentences an extractive answer quotes, best first, as (passage index, sentence);
    ``text``/``citations`` are set instead for answers written from the manifest. With
    neither, the answerer chooses among ``passages`` as it does for a search.
    ``doc_id`` is the brief the question was resolved to, if one.
    """

    intent: Intent
    passages: list[Hit]
    quotes: list[tuple[int, str]] = field(default_factory=list)
    text: str = ""
    citations: list[Citation] = field(default_factory=list)
    doc_id: str | None = None
    #: ``text`` says the brief lacks what was asked (no authors named): a refusal.
    lacking: bool = False
    #: Said before the answer when the question named no brief and several could be
    #: meant: which brief answers, and how to ask about another.
    preface: str = ""

    @property
    def written(self) -> bool:
        return bool(self.text)

    @property
    def kind(self) -> str:
        """:attr:`Answer.kind` of its answer: ``"archive"`` or ``"brief"``."""
        return "archive" if self.intent.kind in ("archive", "which_brief") else "brief"


Search = Callable[[str, int, Filters | None], list[Hit]]


@dataclass(frozen=True)
class _Catalog:
    """The archive's briefs, indexed by their titles' roots, numbers and dates."""

    briefs: list[BriefInfo]
    titles: dict[str, frozenset[str]]  # doc_id -> roots of its title
    by_root: dict[str, list[str]]  # root -> doc_ids whose title holds it
    by_number: dict[str, list[str]]
    by_date: dict[str, list[str]]

    @classmethod
    def of(cls, briefs: list[BriefInfo]) -> _Catalog:
        titles = {b.doc_id: roots(b.title) for b in briefs}
        by_root: dict[str, list[str]] = {}
        for doc_id, words in titles.items():
            for word in words:
                by_root.setdefault(word, []).append(doc_id)
        by_number: dict[str, list[str]] = {}
        by_date: dict[str, list[str]] = {}
        for b in briefs:
            if b.number:
                by_number.setdefault(b.number, []).append(b.doc_id)
            if b.date:
                by_date.setdefault(b.date, []).append(b.doc_id)
        return cls(briefs, titles, by_root, by_number, by_date)


class Overview:
    """Answers whole-brief and archive questions from the manifest and a brief's chunks."""

    def __init__(self, manifest: Manifest, store: VectorStore, search: Search) -> None:
        self.manifest = manifest
        self.store = store
        self.search = search  # hybrid retrieval: (question, k, filters) -> hits
        # The manifest's briefs, and which of them each title root, number and date
        # names, read once per index generation: every search question is checked for a
        # brief it names, and a large archive must not be scanned title by title.
        self._cache: tuple[int, _Catalog] | None = None

    # ------------------------------------------------------------------ briefs

    def briefs(self, filters: Filters | None = None) -> list[BriefInfo]:
        """The briefs ``filters`` allow, newest first (cached per index generation)."""
        infos = self._catalog().briefs
        return list(infos) if filters is None else [b for b in infos if filters.admits(b)]

    def _catalog(self) -> _Catalog:
        generation = self.manifest.generation()
        if self._cache is None or self._cache[0] != generation:
            self._cache = (generation, _Catalog.of(self.manifest.briefs()))
        return self._cache[1]

    def named(self, question: str, briefs: Sequence[BriefInfo]) -> BriefInfo | None:
        """The brief ``question`` names by number ("bulletin 116"), date ("of 24 August
        2023") or title (most of its words, or quoted), if exactly one matches."""
        catalog = self._catalog()
        numbers = brief_numbers(question)
        dates = question_dates(question)
        asked = roots(question)
        quoted = {q.lower() for q in re.findall(r"[\"“‘']([^\"”’']{8,})[\"”’']", question)}
        shared = Counter(doc for r in asked for doc in catalog.by_root.get(r, ()))
        candidates = {doc for doc, n in shared.items() if n >= 3}
        candidates.update(doc for n in numbers for doc in catalog.by_number.get(n, ()))
        candidates.update(doc for d in dates for doc in catalog.by_date.get(d, ()))
        matches = []
        for info in briefs:
            if info.doc_id not in candidates and not quoted:
                continue
            title_roots = catalog.titles.get(info.doc_id) or roots(info.title)
            by_title = bool(title_roots) and (
                shared[info.doc_id] >= max(3, 0.8 * len(title_roots))
                or any(q in info.title.lower() for q in quoted)
            )
            if (info.number and info.number in numbers) or (info.date in dates) or by_title:
                matches.append(info)
        if len(matches) > 1:
            # "Ransomware in Hospitals: Closing the Security Gap…" also holds most words
            # of "Ransomware in Hospitals: Closing the Resilience Gap": the title written
            # out in full wins.
            said = _plain(question)
            matches = [m for m in matches if _plain(m.title) in said] or matches
        return matches[0] if len(matches) == 1 else None

    def resolve(self, question: str, filters: Filters | None) -> BriefInfo | None:
        """The brief a whole-brief question is about: the one it names, the only one
        allowed, or the one whose passages fit the question best."""
        briefs = self.briefs(filters)
        if not briefs:
            return None
        named = self.named(question, briefs)
        if named is not None:
            return named
        if len(briefs) == 1:
            return briefs[0]
        hits = self.search(question, 5, filters)
        if not hits:
            return briefs[0]
        by_id = {b.doc_id: b for b in briefs}
        return by_id.get(hits[0].doc_id, briefs[0])

    def scope(self, question: str, filters: Filters | None) -> tuple[str, Filters | None]:
        """A search question about a brief it names ("What does bulletin 117 say about
        Poland?"): the question with the name replaced by "the brief", which the search
        need not look for, and ``filters`` narrowed to that brief, so that the answer
        stays inside it."""
        briefs = self.briefs(filters)
        named = self.named(question, briefs)
        if named is None:
            return question, filters
        plain = unnamed(question)
        base = filters or Filters()
        return plain, Filters((named.doc_id,), base.date_from, base.date_to)

    def sentences(self, info: BriefInfo) -> list[Sentence]:
        """The brief's sentences in reading order, each once (chunks overlap)."""
        chunks = sorted(self.store.get(self.manifest.chunk_ids(info.doc_id)), key=lambda c: c.start)
        found: dict[int, tuple[Hit, int, int]] = {}  # brief start -> (hit, start, end)
        for chunk in chunks:
            hit = Hit.of(chunk, 1.0)
            for a, b in sentence_spans(chunk.text):
                found.setdefault(chunk.start + a, (hit, chunk.start + a, chunk.start + b))
        out: list[Sentence] = []
        last: tuple[Hit, int, int] | None = None
        for _, (hit, start, end) in sorted(found.items()):
            # A paragraph opens after a line break or a new section. The gap between two
            # sentences may fall between chunks: paragraphs are joined by a blank line,
            # so a gap of two characters or more that no chunk shows is one too.
            opens = last is None or last[0].section != hit.section
            if not opens and last is not None:
                gap = _between(chunks, last[2], start)
                opens = "\n" in gap if gap is not None else start - last[2] >= 2
            out.append(
                Sentence(
                    hit,
                    hit.text[start - hit.start : end - hit.start],
                    start,
                    end,
                    hit.section,
                    opens,
                )
            )
            last = (hit, start, end)
        return out

    # ------------------------------------------------------------------ plans

    def plan(self, question: str, intent: Intent, filters: Filters | None) -> Plan | None:
        """How to answer ``question``; None when it is not a whole-brief question after
        all (a section the brief does not have: search for it instead)."""
        if intent.kind == "archive":
            return self._archive(question, intent, filters)
        if intent.kind == "which_brief":
            return self._which(question, intent, filters)
        if intent.topic == NAMED_BRIEF:
            info = self.named(question, self.briefs(filters))
        else:
            info = self.resolve(question, filters)
        if info is None:
            return None
        plan = self._plan_for(question, intent, info)
        allowed = self.briefs(filters)
        if plan is not None and len(allowed) > 1 and self.named(question, allowed) is None:
            # "What is this brief about?" over an archive: say which brief answers.
            plan.preface = (
                f"From {_label(info)}, the closest of the {len(allowed)} briefs to the "
                "question (name a brief, or limit the chat to it, to ask about another):"
            )
        return plan

    def _plan_for(self, question: str, intent: Intent, info: BriefInfo) -> Plan | None:
        """The plan of a whole-brief question about ``info``."""
        if intent.kind == "field":
            return self._field(intent, info)
        sentences = self.sentences(info)
        if not sentences:
            return None
        chosen: list[Sentence]
        if intent.kind == "summary":
            chosen = _lead(sentences)
        elif intent.kind == "takeaways":
            # The conclusions' gist, then the lead's first sentence for what they are about.
            ending = _topic_sentences(_concluding(sentences))[: BRIEF_SENTENCES - 1]
            chosen = ending + [s for s in _lead(sentences)[:1] if s not in ending]
        elif intent.kind == "conclusions" and intent.topic:
            # "What will NATO remain, according to the conclusions?": the answerer picks
            # the concluding section's sentences that fit the question.
            concluding = _concluding(sentences)
            hits = list(dict.fromkeys(s.hit for s in concluding))
            return Plan(intent, hits, doc_id=info.doc_id)
        elif intent.kind == "conclusions":
            chosen = _topic_sentences(_concluding(sentences))
        elif intent.kind == "recommendations":
            chosen = _recommending(sentences, question, info)
        else:
            part = _section(sentences, intent.topic or question, info)
            if part is None:
                return None
            # "What are the limitations of NATO's cooperation with the AP4?" asks for the
            # section, qualified by the brief's own subject (its title and first
            # sentence); "…a challenge to NATO's collaboration…" asks for a fact: search.
            own = roots(info.title) | roots(_lead(sentences)[0].text) | roots(part[0].section or "")
            if intent.specific - own:
                return None
            chosen = _topic_sentences(part)
        if not chosen:
            return None
        return _quoting(intent, chosen[:BRIEF_SENTENCES], info.doc_id)

    def digest(self, info: BriefInfo) -> Plan | None:
        """A brief's summary for its reader: the lead, then the first sentence of each
        paragraph of its conclusions."""
        sentences = self.sentences(info)
        if not sentences:
            return None
        lead = _lead(sentences)
        ending = [s for s in _topic_sentences(_concluding(sentences)) if s not in lead]
        return _quoting(Intent("summary"), lead[:BRIEF_SENTENCES] + ending[:4], info.doc_id)

    def _field(self, intent: Intent, info: BriefInfo) -> Plan:
        card = about_card(info)
        title = f"“{info.title}”" + (f" (No. {info.number})" if info.number else "")
        lacking = False
        match intent.field:
            case "date" if info.date:
                fact, line = f"{title} was published on {long_date(info.date)}.", "Published:"
            case "number" if info.number:
                fact, line = f"“{info.title}” is No. {info.number}.", "Number:"
            case "authors" if info.authors:
                # With roles the names carry commas: "A, analyst in X, and B, head of Y".
                listed = _listing(_people(info), ", and " if any(info.author_roles) else " and ")
                fact, line = f"{title} was written by {listed}.", "Authors:"
            case "sections" if info.sections:
                parts = list(info.sections)
                listed = _listing(parts)
                fact, line = f"{title} has {len(parts)} sections: {listed}.", "Sections:"
            case "sections":
                fact, line = f"{title} has no section headings.", "Title:"
            case "date" | "number" | "authors":
                # The brief does not say: a refusal that names what is missing.
                missing = {"date": "a publication date", "number": "a number"}
                what = missing.get(intent.field or "", "the names of its authors")
                fact, line, lacking = f"{title} does not give {what}.", "Title:", True
            case _:
                extra = f", published on {long_date(info.date)}" if info.date else ""
                fact, line = f"The brief is titled “{info.title}”{extra}.", "Title:"
        if lacking:  # nothing to cite: the card is shown as the nearest passage
            return Plan(intent, [card], text=fact, doc_id=info.doc_id, lacking=True)
        return _written(intent, [card], [(fact, card, line)], info.doc_id)

    def _archive(self, question: str, intent: Intent, filters: Filters | None) -> Plan:
        lo, hi = date_range(question)
        base = filters or Filters()
        narrowed = Filters(
            base.doc_ids,
            max(filter(None, (lo, base.date_from)), default=None),
            min(filter(None, (hi, base.date_to)), default=None),
        )
        briefs = self.briefs(narrowed)
        if intent.topic and briefs:
            briefs = self._on_topic(intent.topic, briefs, narrowed)
        when = _when(narrowed)
        about = f" on {intent.topic}" if intent.topic else ""
        if not briefs:
            text = f"The archive holds no briefs{about}{when}."
            return Plan(intent, [], text=text)
        count = f"{len(briefs)} brief" + ("s" if len(briefs) != 1 else "")
        facts: list[tuple[str, Hit, str]] = []
        cards = [about_card(b) for b in briefs[:LISTED_BRIEFS]]
        for info, card in zip(briefs, cards, strict=False):
            facts.append((_label(info) + ".", card, "Title:"))
        intro = f"The archive holds {count}{about}{when}"
        intro += ":" if len(briefs) <= LISTED_BRIEFS else f"; the {LISTED_BRIEFS} newest:"
        plan = _written(intent, cards, facts, None, intro=intro)
        if len(briefs) > LISTED_BRIEFS:
            plan.text += f" …and {len(briefs) - LISTED_BRIEFS} more (see the Briefs tab)."
        return plan

    def _on_topic(self, topic: str, briefs: list[BriefInfo], filters: Filters) -> list[BriefInfo]:
        """The briefs whose title or passages hold the topic's words, best first."""
        wanted = roots(topic)
        if not wanted:
            return briefs
        allowed = {b.doc_id: b for b in briefs}
        hits = self.search(topic, max(10, 3 * len(briefs)), filters)
        ranked: list[BriefInfo] = []
        for hit in hits:
            info = allowed.get(hit.doc_id)
            if info is None or info in ranked:
                continue
            found = roots(f"{hit.title} {hit.section or ''} {hit.text}")
            if len(wanted & found) >= max(1, (len(wanted) + 1) // 2):
                ranked.append(info)
        return ranked

    def _which(self, question: str, intent: Intent, filters: Filters | None) -> Plan | None:
        topic = intent.topic or question
        briefs = self._on_topic(topic, self.briefs(filters), filters or Filters())
        if not briefs:
            return None  # let the search (and its refusal gate) answer
        hits = self.search(topic, 5, Filters((briefs[0].doc_id,)))
        first = briefs[0]
        card = about_card(first)
        facts = [(f"{_label(first)} discusses it.", card, "Title:")]
        others = [about_card(b) for b in briefs[1:3]]
        for info, other in zip(briefs[1:3], others, strict=True):
            facts.append((f"So does {_label(info)}.", other, "Title:"))
        plan = _written(intent, [card, *others], facts, first.doc_id)
        if hits:  # the passage that shows it, quoted
            best = hits[0]
            spans = list(sentence_spans(best.text))
            want = roots(topic)
            a, b = max(spans, key=lambda s: len(want & roots(best.text[s[0] : s[1]])))
            quote = best.text[a:b]
            plan.passages.append(best)
            n = len(plan.passages)
            plan.citations.append(
                Citation(
                    n,
                    best.doc_id,
                    best.title,
                    best.chunk_id,
                    quote,
                    best.start + a,
                    best.start + b,
                    1.0,
                    best.score,
                )
            )
            plan.text += " " + _cite(quote, n)
        return plan


def _between(chunks: Sequence[Chunk], start: int, end: int) -> str | None:
    """The brief's text from ``start`` to ``end``, if a chunk holds all of it."""
    for chunk in chunks:
        if chunk.start <= start and end <= chunk.end:
            return chunk.text[start - chunk.start : end - chunk.start]
    return None


def _label(info: BriefInfo) -> str:
    bits = [f"No. {info.number}"] if info.number else []
    if info.date:
        bits.append(long_date(info.date))
    return f"“{info.title}”" + (f" ({', '.join(bits)})" if bits else "")


def _when(filters: Filters) -> str:
    if filters.date_from and filters.date_to:
        return f" published {long_date(filters.date_from)}–{long_date(filters.date_to)}"
    if filters.date_from:
        return f" published since {long_date(filters.date_from)}"
    if filters.date_to:
        return f" published until {long_date(filters.date_to)}"
    return ""


def _cite(sentence: str, n: int) -> str:
    return with_marker(sentence, f"[{n}]")


def _written(
    intent: Intent,
    cards: list[Hit],
    facts: list[tuple[str, Hit, str]],
    doc_id: str | None,
    *,
    intro: str = "",
) -> Plan:
    """A plan whose answer is written from manifest fields, each fact cited to the line
    of its brief's card that states it."""
    position = {card.chunk_id: i + 1 for i, card in enumerate(cards)}
    pieces = [intro] if intro else []
    citations = []
    for fact, card, prefix in facts:
        n = position[card.chunk_id]
        quote, start, end = _line(card, prefix)
        citations.append(
            Citation(n, card.doc_id, card.title, card.chunk_id, quote, start, end, 1.0, 1.0)
        )
        pieces.append(_cite(fact, n))
    return Plan(intent, cards, text=" ".join(pieces), citations=citations, doc_id=doc_id)


def _quoting(intent: Intent, chosen: list[Sentence], doc_id: str) -> Plan:
    """A plan that quotes ``chosen`` sentences, citing the chunks that hold them."""
    passages: list[Hit] = []
    quotes: list[tuple[int, str]] = []
    for s in chosen:
        if s.hit not in passages:
            passages.append(s.hit)
        quotes.append((passages.index(s.hit), s.text))
    return Plan(intent, passages, quotes=quotes, doc_id=doc_id)


def _lead(sentences: list[Sentence]) -> list[Sentence]:
    """The lead (abstract): the first paragraph before any heading, or the section named
    Summary/Abstract, or else the first paragraph of the brief."""
    named = [s for s in sentences if s.section and _LEAD_HEADING.match(s.section.strip())]
    if named:
        return _paragraph(named)
    unheaded = [s for s in sentences if s.section is None]
    return _paragraph(unheaded or sentences)


def _paragraph(sentences: list[Sentence]) -> list[Sentence]:
    out = sentences[:1]
    for s in sentences[1:]:
        if s.opens_paragraph:
            break
        out.append(s)
    return out


def _concluding(sentences: list[Sentence]) -> list[Sentence]:
    """The sentences of the concluding section (Conclusions, Outlook, …), or of the last
    section when none is named so."""
    headed = [s.section for s in sentences if s.section]
    concluding = [h for h in dict.fromkeys(headed) if _CONCLUDING_HEADING.search(h)]
    wanted = concluding[-1] if concluding else (headed[-1] if headed else None)
    return [s for s in sentences if s.section == wanted] if wanted else _lead(sentences)


def _topic_sentences(sentences: list[Sentence]) -> list[Sentence]:
    """The first sentence of each paragraph: what a reader skims for."""
    return [s for s in sentences if s.opens_paragraph] or sentences[:1]


def _recommending(sentences: list[Sentence], question: str, info: BriefInfo) -> list[Sentence]:
    """The sentences that recommend, for whom the question asks if it names anyone
    ("for Poland"): from a recommendations section first, then the conclusions, the
    lead and the rest, each in reading order."""
    candidates = [s for s in sentences if _RECOMMENDING.search(s.text)]
    target = _targets(question, info)
    if target:
        aimed = [s for s in candidates if _mentions(s.text, target)]
        candidates = aimed or candidates

    def rank(s: Sentence) -> tuple[int, int]:
        section = s.section or ""
        if _RECOMMENDING_HEADING.search(section):
            order = 0
        elif _CONCLUDING_HEADING.search(section):
            order = 1
        elif s.section is None:
            order = 2
        else:
            order = 3
        return order, s.start

    return sorted(candidates, key=rank)


def _targets(question: str, info: BriefInfo) -> set[str]:
    """Who the recommendations are asked for: the question's names that are not the
    brief's own ("What does bulletin 116 recommend for Poland?" → {"poland"})."""
    found = names(question) - {w.lower() for w in re.findall(r"\w+", info.title)}
    return {n for n in found if n not in FRAMING and not n.isdigit()}


def _mentions(text: str, wanted: set[str]) -> bool:
    """Whether ``text`` names one of ``wanted``, in any of its forms: "Poland" is also
    "Polish", "Germany" also "German" (same first letters; demonyms rarely keep more)."""
    present = names(text)
    for name in wanted:
        for word in present:
            if word == name or root(word) == root(name):
                return True
            if len(name) >= 5 and len(word) >= 5 and word[:3] == name[:3]:
                return True
    return False


def _section(sentences: list[Sentence], topic: str, info: BriefInfo) -> list[Sentence] | None:
    """The sentences of the section ``topic`` names ("the limitations", "the basis for
    cooperation"), by its heading's words or their usual synonyms."""
    asked = roots(topic)
    if not asked:
        return None
    best: tuple[float, str] | None = None
    for heading in dict.fromkeys(s.section for s in sentences if s.section):
        words = roots(heading)
        if not words:
            continue
        share = len(words & asked) / len(words)
        for key, synonyms in SECTION_WORDS.items():
            if key in heading.lower() and asked & {root(s) for s in synonyms}:
                share = 1.0
        if share >= 0.5 and (best is None or share > best[0]):
            best = (share, heading)
    if best is None:
        return None
    return [s for s in sentences if s.section == best[1]]
