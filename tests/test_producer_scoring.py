"""The reading-order benchmark's scoring (benchmarks/producers/scoring.py) on hand-made
truths and texts: no PDFs, no readers."""

from __future__ import annotations

import pytest
from benchmarks.producers.scoring import meta_score, normalise, score, sentences
from benchmarks.producers.truth import Float, Person, Truth

LEAD = (
    "National budgets cover the rest of the bill for the new frigates. "
    "The programme is the largest in the navy’s history."
)
FIRST = (
    "The government plans to buy four nuclear-powered submarines by 2040. "
    "Each will cost about 3.5 billion euros, e.g. more than the U.S. estimate. "
    "Critics say the candidate yards lack skilled workers."
)
SECOND = (
    "Parliament will vote on the plan in spring. "
    "Until then, the ministry is negotiating with three suppliers from abroad."
)
CAPTION = "Photo: A submarine leaving the port of Gdynia in heavy fog"


def make_truth(**changes: object) -> Truth:
    fields: dict[str, object] = {
        "file": "test.pdf",
        "producer": "fpdf2",
        "features": ["two-columns", "caption"],
        "title": "Poland’s Navy Goes Nuclear",
        "number": "117",
        "date": "2023-08-31",
        "authors": [Person("Anna Kowalska", "analyst in the Energy Programme")],
        "body": [LEAD, FIRST, SECOND],
        "headings": ["Conclusions"],
        "floats": [Float("caption", CAPTION), Float("footer", "Page 1 of 2")],
    }
    fields.update(changes)
    return Truth(**fields)  # type: ignore[arg-type]


def correct_text() -> str:
    return (
        f"Poland's Navy Goes Nuclear\n\n{LEAD}\n\n{FIRST}\n\nConclusions\n\n{SECOND}\n\n{CAPTION}"
    )


def test_sentences_do_not_split_at_abbreviations_or_decimals() -> None:
    assert sentences(FIRST) == [
        "The government plans to buy four nuclear-powered submarines by 2040.",
        "Each will cost about 3.5 billion euros, e.g. more than the U.S. estimate.",
        "Critics say the candidate yards lack skilled workers.",
    ]
    assert sentences("Dr. J. Smith wrote No. 5 in 2023. Then he left.") == [
        "Dr. J. Smith wrote No. 5 in 2023.",
        "Then he left.",
    ]


def test_normalise_folds_quotes_soft_hyphens_and_space_but_keeps_dashes() -> None:
    assert normalise("“Co\u00adoperation”  –\n the ‘navy’s’ ﬁrst") == (
        "\"Cooperation\" – the 'navy's' first"
    )
    assert normalise("nuclear‐powered") == "nuclear‐powered"  # U+2010 is not folded


def test_a_correct_text_scores_full_marks() -> None:
    result = score(make_truth(), correct_text())
    assert result.sentences == 7
    assert (result.intact, result.order, result.spliced, result.broken_words) == (1, 1, 0, 0)
    assert result.torn == 0
    assert result.examples == []


def test_curly_and_straight_quotes_score_the_same() -> None:
    assert score(make_truth(), correct_text().replace("’", "'")).intact == 1


def test_swapped_columns_lower_order_but_not_intactness() -> None:
    swapped = f"{LEAD}\n\n{SECOND}\n\n{FIRST}"
    result = score(make_truth(), swapped)
    assert result.intact == 1
    # Of the six pairs only FIRST's last sentence → SECOND's first is out of order.
    assert result.order == pytest.approx(5 / 6)


def test_a_missing_sentence_counts_against_both_pairs_it_is_in() -> None:
    result = score(
        make_truth(), correct_text().replace("Parliament will vote on the plan in spring. ", "")
    )
    assert result.intact == pytest.approx(6 / 7)
    assert result.order == pytest.approx(4 / 6)
    assert result.spliced == 0
    assert result.examples == ['missing: "Parliament will vote on the plan in spring."']


def test_a_caption_inserted_mid_sentence_is_spliced() -> None:
    text = correct_text().replace(
        "Critics say the candidate yards", f"Critics say the {CAPTION} candidate yards"
    )
    result = score(make_truth(), text)
    assert result.intact == pytest.approx(6 / 7)
    assert result.spliced == 1
    assert "submarine leaving the port" in result.examples[0]
    assert result.examples[0].startswith("spliced")


def test_a_sentence_split_across_a_float_and_a_page_is_spliced() -> None:
    # The column ends mid-sentence; the page footer and a heading come before the rest.
    text = correct_text().replace(
        "Until then, the ministry is negotiating",
        "Until then, the ministry\n\nPage 1 of 2\n\nis negotiating",
    )
    result = score(make_truth(), text)
    assert result.spliced == 1
    short = correct_text().replace("yards lack skilled", "yards\n\nConclusions\n\nlack skilled")
    assert score(make_truth(), short).spliced == 1


def test_a_sentence_merely_garbled_is_not_spliced() -> None:
    text = correct_text().replace("yards lack skilled", "yards lack very skilled")
    result = score(make_truth(), text)
    assert result.intact == pytest.approx(6 / 7)
    assert result.spliced == 0
    assert result.examples[0].startswith('breaks after "…the candidate yards lack"')


def test_own_paragraph_text_repeated_is_not_a_splice() -> None:
    text = correct_text().replace(
        "Critics say the candidate yards",
        "Critics say the plans to buy four nuclear candidate yards",
    )
    assert score(make_truth(), text).spliced == 0


def test_glued_words_count_each_word_glued() -> None:
    text = correct_text().replace(
        "National budgets cover the rest of the bill", "Nationalbudgetscovertherestofthebill"
    )
    result = score(make_truth(), text)
    assert result.broken_words == 8
    assert result.broken_examples == ["Nationalbudgetscovertherestofthebill"]
    glued_at_full_stop = correct_text().replace("frigates. The", "frigates.The")
    assert score(make_truth(), glued_at_full_stop).broken_words == 2


def test_split_words_and_lost_hyphens_count_once_each() -> None:
    for broken in ("can‐ didate", "can- didate", "can didate", "can‐didate"):
        text = correct_text().replace("candidate", broken)
        assert score(make_truth(), text).broken_words == 1, broken
    lost = correct_text().replace("nuclear-powered", "nuclearpowered")
    assert score(make_truth(), lost).broken_words == 1
    spaced = correct_text().replace("nuclear-powered", "nuclear- powered")
    assert score(make_truth(), spaced).broken_words == 1
    pieces = correct_text().replace("negotiating", "ne go ti at ing")
    result = score(make_truth(), pieces)
    assert (result.broken_words, result.broken_examples) == (1, ["ne go ti at ing"])


def test_real_neighbours_are_not_a_split_word() -> None:
    # "in spring" is two words of the truth, even if "inspring" were a word.
    truth = make_truth(body=[LEAD, FIRST, SECOND + " Then comes the inspring."])
    assert score(truth, correct_text()).broken_words == 0


def test_a_sentence_torn_by_a_block_break_is_intact_but_torn() -> None:
    text = correct_text().replace("plans to buy four", "plans to\n\nbuy four")
    result = score(make_truth(), text)
    assert result.intact == 1
    assert result.torn == 1


def test_meta_score() -> None:
    truth = make_truth()
    right = meta_score(truth, "POLAND'S NAVY GOES NUCLEAR", "117", "2023-08-31", ["Anna Kowalska"])
    assert right == {"title": True, "number": True, "date": True, "authors": True}
    wrong = meta_score(truth, "Poland’s Navy", None, "2023-08-30", ["Anna Kowalska", "Analyst"])
    assert wrong == {"title": False, "number": False, "date": False, "authors": False}
    issue = make_truth(number="117 (2236)")
    assert meta_score(issue, "x", "117", None, ())["number"]
    assert meta_score(issue, "x", "No. 117 (2236)", None, ())["number"]
    assert not meta_score(issue, "x", "2236", None, ())["number"]
    none = meta_score(make_truth(number=None, date=None, authors=[]), "x", None, None, ())
    assert (none["number"], none["date"], none["authors"]) == (True, True, True)


def test_the_baselines_clean_up_joins_lines_and_naive_hyphenation() -> None:
    from benchmarks.bench_producers import join_lines

    text = (
        "The nuclear-\npowered boats can‐\ndidate\n\n\fEU-\nNATO co\u00ad\noperation"
        " low\ufffecarbon Eco\ufffeNomic"
    )
    assert join_lines(text) == (
        "The nuclearpowered boats candidate EU- NATO cooperation lowcarbon Eco-Nomic"
    )
