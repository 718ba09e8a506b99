"""The line-end hyphen decision (`briefqa.readers.pdf._Vocabulary.compound`) on splits from the
evaluation text of training/build_wordlist.py (SQuAD, SelQA, ClapNQ): none of these words
is in the producer benchmark."""

from __future__ import annotations

import pytest

from briefqa.readers.pdf import _english_words, _Vocabulary


@pytest.mark.parametrize(
    ("head", "tail"),
    [
        ("long", "term"),  # "longterm" is typed on the web, far less than its halves
        ("so", "called"),
        ("well", "known"),
        ("self", "governing"),
        ("man", "made"),
        ("same", "sex"),
        ("field", "effect"),
        ("Indo", "European"),  # a capital after the hyphen
    ],
)
def test_a_compound_broken_at_its_hyphen_keeps_it(head: str, tail: str) -> None:
    assert _Vocabulary([]).compound(head, tail)


@pytest.mark.parametrize(
    ("head", "tail"),
    [
        ("photo", "electric"),  # two words, but "photoelectric" is in the dictionary
        ("sub", "atomic"),
        ("inter", "stellar"),
        ("snow", "board"),
        ("mocking", "bird"),
        ("bid", "der"),
        ("sit", "ter"),
        ("be", "tween"),
        ("govern", "ment"),
    ],
)
def test_a_typesetters_hyphenation_is_joined(head: str, tail: str) -> None:
    assert not _Vocabulary([]).compound(head, tail)


def test_the_documents_own_words_come_first() -> None:
    written_joined = _Vocabulary([["a longterm plan"]])
    assert not written_joined.compound("long", "term")
    written_hyphenated = _Vocabulary([["the photo-electric effect"]])
    assert written_hyphenated.compound("photo", "electric")


def test_the_word_list_ships_with_the_package() -> None:
    english = _english_words()
    assert len(english.dictionary) > 50_000 and len(english.frequency) > 100_000
    assert english.spelled("governments")  # a stem with a plain inflection
    assert english.zipf("the") > 7 > english.zipf("longterm") > 0
