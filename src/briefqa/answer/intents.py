"""What a question asks for: the whole-brief and archive intents, the brief it names,
the dates it gives.

"What is this brief about?", "What are the key takeaways of bulletin 116?", "When was
it published?", "Which briefs do we have since 2023?" ask for a brief's lead, its
conclusions, a field of the manifest or the archive's list: :func:`classify` recognises
them (and only them: "Which country opposed the office in Tokyo?" is a search), and
:mod:`briefqa.answer.overview` answers them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

from ..text import content_terms, names, root, roots

IntentKind = Literal[
    "summary",
    "takeaways",
    "conclusions",
    "recommendations",
    "section",
    "field",
    "archive",
    "which_brief",
]
FieldName = Literal["title", "number", "date", "authors", "sections"]

_DOC = r"(?:brief|bulletin|paper|report|document|publication|analysis|commentary)"
# The brief as a question refers to it: "this brief", "the bulletin's", "bulletin 116".
# "the NATO Indo-Pacific brief", "our latest bulletin": a few names or such words may
# stand between the article and the noun; a quoted title names a brief too.
_DESCRIBED = r"(?:(?-i:[A-Z][\w’'-]*)\s+|(?:latest|last|new|recent|newest|first)\s+){0,4}"
_THE_DOC = (
    rf"(?:(?:this|the|that|our)\s+{_DESCRIBED}{_DOC}(?:’s|'s)?|{_DOC}\s+(?:no\.?\s*|#)?\d+|"
    r"[\"“‘'][^\"”’']{8,}[\"”’'])"
)
_THIS = rf"(?:{_THE_DOC}|it|its)"
_I = re.I

# Field questions must be about the brief itself: "who wrote this brief?", not "who wrote
# Pride and Prejudice?".
_FIELD_PATTERNS: tuple[tuple[FieldName, re.Pattern[str]], ...] = (
    (
        "authors",
        re.compile(
            rf"\bwho (?:wrote|authored|is behind|prepared)\s+{_THIS}\b|"
            rf"\bauthors? of {_THE_DOC}|\b{_THE_DOC}\s+authors?\b|"
            rf"\bwho (?:is|are|was|were) (?:the )?authors? of {_THIS}\b|"
            rf"\bwho (?:is|are) {_THIS} (?:by|from)\b|\b{_THE_DOC}\b.*\bwritten by\b|"
            # The authors' roles: "Which programme is the author in?"
            r"\b(?:which|what) (?:programme|program|department|team|unit|centre|center)\b"
            r".*\bauthors?\b|\bauthors?(?:’s|'s|s’|s')? (?:roles?|positions?|affiliations?|"
            r"programmes?|programs?|job titles?)\b",
            _I,
        ),
    ),
    (
        "date",
        re.compile(
            rf"\bwhen\b.*{_THE_DOC}.*\b(?:publish|release|issu|writt|wrote|dated|came out|"
            rf"appear|come out|put out)\w*|^\s*when (?:was|is) it (?:published|released|issued|"
            rf"written|dated|out)\b|\bpublication date\b|\bdate of {_THE_DOC}|"
            rf"\b(?:what|which) (?:date|day|year|month)\b.*\b{_THE_DOC}\b.*\b(?:publish|releas|"
            rf"issu|writt|dated)\w*|\bhow (?:old|recent) is {_THE_DOC}|"
            rf"\bwhen (?:is|was) {_THE_DOC} (?:from|dated)\b|\b{_THE_DOC}\s+date\b|"
            rf"\b(?:what|which) (?:date|day) (?:is|was) {_THE_DOC}",
            _I,
        ),
    ),
    (
        "number",
        re.compile(
            rf"\b(?:what|which) (?:is the )?(?:number|issue number|no\.?) (?:of|is) {_THIS}|"
            rf"\bnumber of {_THE_DOC}|\b{_THE_DOC}\s+number\b|\bwhat number is {_THIS}\b|"
            rf"\b{_DOC} number\b",
            _I,
        ),
    ),
    (
        "title",
        re.compile(
            rf"\btitle of {_THE_DOC}|\b{_THE_DOC}\s+title\b|^\s*what(?:’s|'s| is) it called\b|"
            rf"\bwhat(?:’s|'s| is| was) {_THE_DOC} "
            rf"(?:called|named|entitled|titled)\b|\bname of {_THE_DOC}|\b{_THE_DOC}\s+name\b|"
            rf"\bhow is {_THIS} (?:called|titled)\b|\bwhat (?:is|'s) the title\b",
            _I,
        ),
    ),
    (
        "sections",
        re.compile(
            rf"\b(?:what|which|how many) (?:sections|headings|parts|chapters)\b.*\b{_THIS}\b|"
            rf"\b(?:sections|headings|structure|outline|table of contents|chapters) of {_THIS}\b|"
            rf"\bhow is {_THIS} (?:structured|organi[sz]ed|divided|laid out)\b|"
            rf"\b{_THE_DOC}\s+(?:sections|headings|structure|outline)\b",
            _I,
        ),
    ),
)
_ARCHIVE = re.compile(
    rf"\b(?:which|what) {_DOC}s (?:do|does|did) (?:we|you|i|the institute|the archive)\b|"
    rf"\b(?:which|what) {_DOC}s (?:are|were|exist|have been|are there|can i)\b|"
    rf"\b(?:list|show|name|give)\b.{{0,20}}\b{_DOC}s\b|\bhow many {_DOC}s\b|"
    rf"\b(?:in|of) the (?:archive|collection|library)\b|"
    rf"\bwhat (?:do|does) (?:we|you|the institute) have\b|\bwhat is (?:available|archived)\b|"
    rf"\b(?:any|all|our) {_DOC}s\b|\b{_DOC}s (?:published |written )?(?:since|after|before|"
    rf"from|in) (?:19|20)\d\d\b|\b{_DOC}s (?:on|about) [\w -]+\??$",
    _I,
)
_WHICH_BRIEF = re.compile(
    rf"\b(?:which|what) {_DOC}s? (?:discuss|cover|deal|address|mention|talk|is about|"
    rf"are about|analy|examin|focus|look|write|explain|describe|concern|treat)\w*\b|"
    rf"\b(?:is there|do (?:we|you) have) an? {_DOC} (?:on|about|that|which|discussing|"
    rf"covering)\b|\bwhere (?:can i|do i|to) find\b.*\b(?:on|about)\b|"
    rf"\bin which {_DOC}\b",
    _I,
)
_TAKEAWAYS = re.compile(r"\btake-?aways?\b|\bbottom line\b|\blessons?\b|\bkey messages?\b", _I)
_SUMMARY = re.compile(
    rf"\bwhat(?:’s|'s| is| are)\s+{_THIS}\s+(?:mainly |mostly |really |all )?about\b|"
    r"\bsummar(?:y|ies|ise|ize|ised|ized|ising|izing)\b|"
    r"\b(?:main|central|key|core|overall|principal|major)\s+(?:point|points|argument|"
    r"arguments|idea|ideas|message|thesis|claim|claims|finding|findings|theme|themes|topic|"
    r"topics|issue|issues|insight|insights|focus)\b|"
    r"\b(?:gist|overview|abstract|tl;?dr|synopsis|in a nutshell)\b|"
    rf"\bwhat (?:does|do) {_THIS} (?:argue|cover|discuss|deal with|address|examine|"
    rf"analy[sz]e|say|tell us|focus on)\s*\??$|\bwhat (?:is|was) {_THIS}\s*(?:about)?\s*\??$|"
    rf"\bwhat (?:is|are) {_THIS} (?:topic|subject|purpose|aim|focus)\b",
    _I,
)
_CONCLUSIONS = re.compile(r"\bconclu(?:sion|sions|de|des|ded|ding)\b|\bfindings\b|\boutlook\b", _I)
_RECOMMENDATIONS = re.compile(
    rf"\brecommend\w*\b|\badvi[sc]\w*\b|\bwhat (?:should|must|ought)\b|"
    rf"\bpolicy (?:options|proposals|implications|advice)\b|\bwhat (?:does|do) {_THIS} "
    rf"(?:propose|suggest|urge|call for)\b|\bwhat (?:is|are) (?:the )?(?:proposals?|"
    rf"suggestions?)\b",
    _I,
)
_SAY_ABOUT = re.compile(
    rf"\bwhat (?:does|do) {_THIS} (?:say|write|state|tell us|argue|report|note)\s+"
    rf"(?:about|on|regarding|concerning|of|is|are)\s+(?P<topic>.+?)\??$",
    _I,
)
# "…of the brief about the AP4", "…of bulletin 116": how a question names its brief,
# which says nothing about what it asks.
_NAMING = re.compile(
    rf"\b(?:of|in|from|for)?\s*{_THE_DOC}(?:\s+(?:about|on|regarding|concerning|of|from|"
    rf"dated|titled|called|published)\s+.*)?$|\b{_THE_DOC}\b",
    _I,
)
# Words that only say what kind of whole-brief answer is wanted.
_INTENT_WORDS = frozenset(
    """summary summaries summarise summarize summarised summarized summarising
    summarizing about main central key core overall principal major point argument
    idea message thesis claim finding theme topic issue insight focus gist overview
    abstract synopsis nutshell takeaway take-away take-aways takeaways bottom line lesson
    conclusion conclude concluded concluding outlook recommend recommendation recommends
    advise advice advisable should must ought propose proposal suggest suggestion policy
    option implication urge call brief bulletin paper report document publication analysis
    commentary say says tell us argue cover discuss deal address examine analyse analyze
    purpose aim subject give me please short quick briefly overall whole entire make
    member members country countries government state states policymaker policymakers
    ally allies actor actors do tl dr tldr section sections part chapter heading""".split()
)
# Words of a section heading and the words a question uses for it.
SECTION_WORDS: dict[str, tuple[str, ...]] = {
    "limitation": (
        "limitation",
        "challenge",
        "constraint",
        "obstacle",
        "barrier",
        "difficulty",
        "weakness",
        "drawback",
    ),
    "opportunit": ("opportunity", "prospect", "benefit", "advantage"),
    "conclu": ("conclusion", "takeaway", "outlook"),
    "recommend": ("recommendation", "proposal"),
    "basis": ("basis", "foundation", "rationale"),
    "background": ("background",),
}
# Question words that frame the request rather than say what it is about.
FRAMING = frozenset(
    """brief briefs bulletin bulletins paper papers report reports document documents
    publication publications analysis text commentary note notes archive collection
    library index corpus list show name have available discuss discusses discussed cover
    covers covered mention mentions mentioned deal deals talk talks address addresses
    concern concerns concerning write writes written publish published say says tell
    regarding related relate relating topic subject many much one ones any all our institute
    since after before from year years month latest recent newest oldest do does""".split()
)
# Words that ask for a section without narrowing it: "What opportunities does the brief
# identify?", "List the main limitations it mentions."
_ASKING = frozenset(
    root(w)
    for w in """identify identified mention mentioned describe described discuss discussed
    see sees list outline give main key major biggest principal say says point points highlight
    highlighted note noted raise raised present presented explain explained name named
    what which does do are is brief bulletin paper report document it its""".split()
)
_MONTHS = (
    "january february march april may june july august september october november december"
).split()
_YEAR = r"(?:19|20)\d\d"
_DATE_WORDS = re.compile(
    rf"\b(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?\s+(?P<m1>{'|'.join(_MONTHS)})\s+(?P<y1>{_YEAR})\b|"
    rf"\b(?P<m2>{'|'.join(_MONTHS)})\s+(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<y2>{_YEAR})\b|"
    rf"\b(?P<y3>{_YEAR})-(?P<m3>\d\d)-(?P<d3>\d\d)\b|"
    rf"\b(?P<d4>\d{{1,2}})[./](?P<m4>\d{{1,2}})[./](?P<y4>{_YEAR})\b",
    _I,
)
_NUMBER = re.compile(
    r"(?:\b(?:no|nr|number|issue|bulletin|brief|paper|report)\.?\s*|#)(?P<n>\d{1,5})\b", _I
)
# A brief named by number or date: "bulletin 116", "the brief of 24 August 2023".
_NAMED_BY = re.compile(
    rf"\b(?:the |this |that )?(?:{_DOC}\s+(?:no\.?\s*|number\s+|#)?\d{{1,5}}|"
    rf"(?:no|nr|number|issue)\.?\s*\d{{1,5}})\b|\b(?:the |this )?{_DOC}\s+(?:of|from|dated)\s+"
    rf"(?:\d{{1,2}}(?:st|nd|rd|th)?\s+)?(?:{'|'.join(_MONTHS)})\s+(?:\d{{1,2}},?\s+)?{_YEAR}\b",
    _I,
)
_RANGE = re.compile(
    rf"\b(?P<op>since|after|from|before|until|till|in|during|of)\s+"
    rf"(?:(?P<month>{'|'.join(_MONTHS)})\s+)?(?P<year>{_YEAR})\b|"
    r"\b(?P<rel>this|last|past) (?P<unit>year|month)\b",
    _I,
)


@dataclass(frozen=True)
class Intent:
    """What a whole-brief or archive question asks for."""

    kind: IntentKind
    field: FieldName | None = None
    topic: str = ""  # what the question is about, framing words removed
    #: Roots of what the question asks beyond the kind of answer (see :func:`_specific`).
    specific: frozenset[str] = frozenset()


#: An :class:`Intent` topic: the question must name its brief (by title, number or
#: date) for the whole-brief answer; otherwise it is searched.
NAMED_BRIEF = "<named brief>"
_WHO_WROTE = re.compile(
    r"^\s*who (?:wrote|authored|is behind|prepared|is the author of|are the authors of)\s+"
    r"\S.{6,}",
    _I,
)


def classify(question: str) -> Intent | None:
    """The whole-brief or archive intent of ``question``, or None for a question that a
    passage search should answer ("Which country opposed the office in Tokyo?").

    Whole-brief intents fire only when the question asks for nothing more specific than
    the kind of answer ("What are the conclusions of bulletin 116?"): "What will NATO
    remain, according to the conclusions?" is searched for inside the conclusions, and
    "What should Polish policymakers understand about Asia?" is a search.
    """
    q = question.strip()
    for name, pattern in _FIELD_PATTERNS:
        if pattern.search(q):
            return Intent("field", field=name)
    if _WHO_WROTE.search(q):
        # "Who wrote Europe's Chip Ambitions?": the authors of a brief named by its
        # title, if the overview finds one by that title (else a search).
        return Intent("field", field="authors", topic=NAMED_BRIEF)
    if _ARCHIVE.search(q):
        return Intent("archive", topic=_topic(q))
    if _WHICH_BRIEF.search(q):
        return Intent("which_brief", topic=_topic(q))
    extra = _specific(q)
    if _RECOMMENDATIONS.search(q):
        # Whom the recommendations are for may be named: "What does it recommend for Poland?"
        return Intent("recommendations") if not extra - roots(" ".join(names(q))) else None
    if _TAKEAWAYS.search(q) and not extra:
        return Intent("takeaways")
    if _CONCLUSIONS.search(q) and not _asks_fact(q):
        return Intent("conclusions", topic=q if extra else "")
    if _SUMMARY.search(q) and not extra:
        return Intent("summary")
    named = {root(w) for words in SECTION_WORDS.values() for w in words}
    said = _SAY_ABOUT.search(q)
    if said:
        return Intent("section", topic=said.group("topic"), specific=frozenset(extra - named))
    if roots(q) & named and not _asks_fact(q):
        # Whether it asks for the section or for something in it is known only once
        # the brief is: see Overview.plan.
        return Intent("section", topic=q, specific=frozenset(extra - named))
    return None


def _specific(question: str) -> set[str]:
    """What ``question`` asks about beyond the kind of whole-brief answer it wants and
    the brief it names: empty for "What are the key takeaways of bulletin 116?"."""
    text = _NAMING.sub(" ", question)
    text = _NUMBER.sub(" ", _RANGE.sub(" ", _DATE_WORDS.sub(" ", text)))
    generic = {root(w) for w in _INTENT_WORDS} | _ASKING
    return {r for r in roots(text) if r not in generic and not r.isdigit()}


def _asks_fact(question: str) -> bool:
    """A who/when/where/how-many question wants a fact, even if it says "conclusion"."""
    return re.match(r"\s*(?:who|whom|when|where|how (?:many|much))\b", question, _I) is not None


def _topic(question: str) -> str:
    """The question's subject: its content words less the framing ("Which briefs do we
    have on China since 2023?" → "china")."""
    text = _RANGE.sub(" ", _DATE_WORDS.sub(" ", question))
    words = [w for w in content_terms(text) if w not in FRAMING and not w.isdigit()]
    return " ".join(words)


def long_date(iso: str | None) -> str:
    """2023-08-24 → "24 August 2023" (as a reader writes it); other text is kept."""
    try:
        day = date.fromisoformat(iso or "")
    except ValueError:
        return iso or ""
    return f"{day.day} {_MONTHS[day.month - 1].capitalize()} {day.year}"


def question_dates(question: str) -> set[str]:
    """ISO dates written in ``question`` in any of the usual ways."""
    found = set()
    for m in _DATE_WORDS.finditer(question):
        g = m.groupdict()
        try:
            if g["y1"]:
                day = date(int(g["y1"]), _MONTHS.index(g["m1"].lower()) + 1, int(g["d1"]))
            elif g["y2"]:
                day = date(int(g["y2"]), _MONTHS.index(g["m2"].lower()) + 1, int(g["d2"]))
            elif g["y3"]:
                day = date(int(g["y3"]), int(g["m3"]), int(g["d3"]))
            else:
                day = date(int(g["y4"]), int(g["m4"]), int(g["d4"]))
        except ValueError:
            continue
        found.add(day.isoformat())
    return found


def date_range(question: str, today: date | None = None) -> tuple[str | None, str | None]:
    """The publication dates an archive question allows: "since 2023" → (2023-01-01,
    None), "before March 2024" → (None, 2024-02-29), "last year" → that year."""
    today = today or date.today()
    start: str | None = None
    end: str | None = None
    for m in _RANGE.finditer(question):
        if m.group("rel"):
            if m.group("unit") == "year":
                year = today.year - (m.group("rel").lower() in ("last",))
                lo, hi = date(year, 1, 1), date(year, 12, 31)
                if m.group("rel").lower() == "past":
                    lo, hi = today.replace(year=today.year - 1), today
            else:
                month = today.month - (m.group("rel").lower() != "this")
                year = today.year - (month < 1)
                month = month % 12 or 12
                lo, hi = date(year, month, 1), _month_end(year, month)
                if m.group("rel").lower() == "past":
                    lo = today.replace(day=1)
                    hi = today
            start, end = lo.isoformat(), hi.isoformat()
            continue
        year = int(m.group("year"))
        named = m.group("month")
        first = date(year, _MONTHS.index(named.lower()) + 1 if named else 1, 1)
        last = _month_end(year, first.month) if named else date(year, 12, 31)
        op = m.group("op").lower()
        if op in ("since", "from"):
            start = first.isoformat()
        elif op == "after":
            start = date.fromordinal(last.toordinal() + 1).isoformat()
        elif op in ("before",):
            end = date.fromordinal(first.toordinal() - 1).isoformat()
        elif op in ("until", "till"):
            end = last.isoformat()
        else:  # "in 2023", "of 2023"
            start, end = first.isoformat(), last.isoformat()
    return start, end


def _month_end(year: int, month: int) -> date:
    following = date(year + (month == 12), month % 12 + 1, 1)
    return date.fromordinal(following.toordinal() - 1)


def brief_numbers(question: str) -> set[str]:
    """Numbers ``question`` gives a brief by: "bulletin 116", "No. 116", "#116"."""
    return {m.group("n") for m in _NUMBER.finditer(question)}


def unnamed(question: str) -> str:
    """``question`` with the brief it names by number or date replaced by "the brief":
    "What does bulletin 117 say about Poland?" → "What does the brief say about Poland?"."""
    return _NAMED_BY.sub("the brief", question)


# Words that make a question lean on the conversation before it.
_FOLLOW_UP = frozenset(
    "it its they them their this that these those he she his her there such".split()
)
# A question asking for the reason or the way: "Why?", "How so?", "For what reason?"
_WHY = re.compile(r"^\s*(?:why|how(?: come| so)?|for what reason|what for|on what grounds)\b", re.I)


def asks_why(question: str) -> bool:
    """Whether ``question`` asks why or how."""
    return _WHY.search(question) is not None


def leans_on_history(question: str) -> bool:
    """Whether ``question`` needs the one before it to be understood ("and what about
    Germany?", "why did it?"): it points back, or says almost nothing of its own."""
    words = set(re.findall(r"\w+", question.lower()))
    return bool(words & _FOLLOW_UP) or len(content_terms(question)) <= 2


def is_reason_follow_up(question: str, history: Sequence[tuple[str, str]]) -> bool:
    """Whether ``question`` asks why or how about the previous answer ("Why?", "How so?",
    "Why did they?")."""
    if not history or not asks_why(question):
        return False
    own = [t for t in content_terms(question) if t not in ("why", "how", "come", "reason")]
    return len(own) <= 2 or bool(set(re.findall(r"\w+", question.lower())) & _FOLLOW_UP)


# "…, and what will it cost?", "…; who pays for it?", "…? When does it open?": a second
# question joined to the first. A bare "and" joins words of one question ("the costs and
# benefits of …") and is left alone.
_SECOND_QUESTION = re.compile(
    r"(?:\s*[,;]?\s+and\s+|\s*;\s*|\?\s+)(?=(?:what|how|when|where|who|whom|whose|which|why|"
    r"whether|is|are|was|were|does|do|did|can|could|will|would|should|has|have)\b)",
    re.I,
)


def question_parts(question: str) -> list[str]:
    """The questions a question asks: "How long is the fence and what will it cost?"
    gives ["How long is the fence?", "what will it cost?"]; one part for most questions.

    The answer path asks the reading model about each part, so that a sentence answering
    both comes first and a second sentence is added only for a part the first leaves
    open. Parts shorter than three words are not split off (they lean on the rest).
    """
    pieces = [p.strip(" ,;?") for p in _SECOND_QUESTION.split(question)]
    parts = [p for p in pieces if p]
    if len(parts) < 2 or any(len(p.split()) < 3 for p in parts):
        return [question]
    return [f"{p}?" for p in parts]
