from briefqa.text import normalize, sentence_spans


def test_normalize_spaces_soft_hyphens_and_ligatures() -> None:
    raw = "Co\u00adoperation\u00a0between   the\tAllies \ufb01nally\u200b agreed\n"
    assert normalize(raw) == "Cooperation between the Allies finally agreed"


def test_normalize_rejoins_words_hyphenated_across_lines() -> None:
    assert normalize("inter-\nnational secu-\r\n  rity") == "international security"
    # A hyphen before a capital is a real compound (Indo-Pacific), kept as is.
    assert normalize("Indo-\nPacific") == "Indo- Pacific"


def _sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in sentence_spans(text)]


def test_sentences_respect_abbreviations_initials_and_decimals() -> None:
    text = (
        "U.S. interests matter. The U.S. also counts on allies. J. Stoltenberg spoke "
        "on 24 Aug. It cost $5.5 billion (in total). Is it enough? Yes!"
    )
    assert _sentences(text) == [
        "U.S. interests matter.",
        "The U.S. also counts on allies.",
        "J. Stoltenberg spoke on 24 Aug. It cost $5.5 billion (in total).",
        "Is it enough?",
        "Yes!",
    ]


def test_sentence_spans_are_offsets_into_a_slice() -> None:
    text = "xx First one. Second one.  yy"
    spans = list(sentence_spans(text, 3, 25))
    assert [text[s:e] for s, e in spans] == ["First one.", "Second one."]
