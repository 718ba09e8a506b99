"""The reading model: the shipped file, its place in the answer path, and its recipe."""

from __future__ import annotations

import json
import shutil
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from briefqa import BriefQA, ConfigError, EmbeddingError, Settings
from briefqa.answer.intents import question_parts
from briefqa.answer.reader import PACKAGED_READER, OnnxReader, reader_from_settings
from briefqa.answer.readings import Readings, rerank
from briefqa.index.embeddings import SentenceTransformerEmbedder
from briefqa.schema import Hit
from briefqa.testing import OverlapReader, check_reader, sample_chunk

ROOT = Path(__file__).resolve().parent.parent
PARITY = Path(__file__).with_name("data") / "reader_parity.json"

FENCE = """Poland's border fence

The government approved a fence along the border with Belarus in May. Construction is
planned to start in the autumn.

The fence will be 186 km long and will cost 1.6 billion zloty in all. Its yearly
maintenance will cost about 20 million zloty. A state company, Budimex, will build the
fence. Border guards patrol the area day and night.
"""


# ------------------------------------------------------------------ the model


def test_the_packaged_reader_keeps_the_reader_contract() -> None:
    check_reader(OnnxReader(PACKAGED_READER))


def test_the_overlap_fake_keeps_the_reader_contract() -> None:
    check_reader(OverlapReader())


def test_the_shipped_file_scores_as_the_trained_model_did() -> None:
    """50 held-out pairs scored by the training framework (torch, float32) before the
    export; the shipped file is int8, so its probabilities may move a little."""
    parity = json.loads(PARITY.read_text(encoding="utf-8"))
    pairs = parity["pairs"]
    assert len(pairs) == 50
    reader = OnnxReader(PACKAGED_READER)
    got = [reader.score(p["question"], [p["sentence"]], [p["context"]])[0] for p in pairs]
    differences = [abs(g - p["probability"]) for g, p in zip(got, pairs, strict=True)]
    # Measured at export: the largest difference on these pairs (stated in the file).
    assert max(differences) <= parity["max_difference_measured"] + 1e-4
    # int8 moves a probability near 0.5 most: 0.149 on these pairs for the shipped model.
    assert max(differences) <= 0.16
    # The verdict (answers or not) is the same on nearly every pair.
    same = sum((g >= 0.5) == (p["probability"] >= 0.5) for g, p in zip(got, pairs, strict=True))
    assert same >= 48


def test_the_reader_is_shipped_small_and_with_its_licence() -> None:
    assert (PACKAGED_READER / "model.onnx").stat().st_size <= 40 * 1024 * 1024
    licence = (PACKAGED_READER / "LICENSE").read_text(encoding="utf-8")
    assert "CC BY-SA 4.0" in licence


def test_a_question_longer_than_the_model_reads_is_cut_not_failed() -> None:
    reader = OnnxReader(PACKAGED_READER)
    long_question = "Why did the allies disagree about the office " * 40 + "?"
    scores = reader.score(long_question, ["France opposed the office.", "Trade grew."])
    assert len(scores) == 2 and all(0.0 <= p <= 1.0 for p in scores)


def test_pairs_read_side_by_side_score_as_read_one_by_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A question's pairs are read on several threads at once; each pair is still one
    pass, so its score cannot depend on the threads, and callers asking at the same time
    each get their own sentences' scores, in their order."""
    sentences = [s.strip() for s in FENCE.replace("\n", " ").split(". ") if s.strip()]
    question = "What will the fence cost?"
    alone = OnnxReader(PACKAGED_READER, threads=1)
    together = OnnxReader(PACKAGED_READER, threads=3)
    used: set[str] = set()
    forward = together._forward

    def on_a_reading_thread(encoded: object) -> float:
        used.add(threading.current_thread().name)
        return forward(encoded)

    monkeypatch.setattr(together, "_forward", on_a_reading_thread)
    expected = alone.score(question, sentences)
    assert together.score(question, sentences) == expected
    # Eight callers with questions of their own (so that none reads another's
    # remembered scores).
    asked = [
        (f"{q} ({n})", sentences)
        for n, q in enumerate(["What will the fence cost?", "Who will build the fence?"] * 4)
    ]
    expected_each = [alone.score(q, s) for q, s in asked]
    with ThreadPoolExecutor(len(asked)) as callers:
        got = list(callers.map(lambda qs: together.score(*qs), asked))
    assert got == expected_each
    assert len(used) > 1 and all(name.startswith("briefqa-reader") for name in used)


def test_a_failed_pass_fails_the_reading_with_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reader = OnnxReader(PACKAGED_READER, threads=2)

    class Broken:
        def run(self, *args: object) -> None:
            raise RuntimeError("out of memory")

    monkeypatch.setattr(reader, "_session", Broken())
    with pytest.raises(EmbeddingError, match="the reader failed: out of memory"):
        reader.score("What will the fence cost?", ["It costs 1.6 billion.", "Trade grew."])


def test_the_gate_with_the_reader_weighs_the_readers_verdict() -> None:
    from briefqa.answer.refusal import READER_MODEL_FILE, RefusalModel

    model = RefusalModel.load(READER_MODEL_FILE)
    assert "reader" in model.features
    weight = model.weights[model.features.index("reader")]
    assert weight > 0, "the likelier a sentence answers, the likelier the question is answered"


def test_a_damaged_model_file_is_refused_not_used(tmp_path: Path) -> None:
    folder = tmp_path / "reader"
    shutil.copytree(PACKAGED_READER, folder)
    data = bytearray((folder / "model.onnx").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (folder / "model.onnx").write_bytes(bytes(data))
    with pytest.raises(ConfigError, match="damaged"):
        OnnxReader(folder)


def test_a_folder_without_a_model_names_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"model\.onnx"):
        OnnxReader(tmp_path)
    with pytest.raises(ConfigError, match="neither"):
        reader_from_settings(Settings(reader=str(tmp_path / "nowhere")))


def test_reader_settings() -> None:
    assert reader_from_settings(Settings(reader="off")) is None
    packaged = reader_from_settings(Settings())
    assert isinstance(packaged, OnnxReader)
    assert reader_from_settings(Settings()) is packaged, "one loaded reader per process"


@pytest.mark.parametrize(
    ("question", "parts"),
    [
        ("How long is the fence and what will it cost?", 2),
        ("When was it signed? What does it say about Japan?", 2),
        ("What are the costs and benefits of the fence?", 1),
        ("Which country opposed the office and when", 1),
    ],
)
def test_question_parts(question: str, parts: int) -> None:
    assert len(question_parts(question)) == parts


# ------------------------------------------------------------ the answer path


@pytest.fixture
def fence(tmp_path: Path) -> Path:
    folder = tmp_path / "briefs"
    folder.mkdir()
    (folder / "fence.txt").write_text(FENCE, encoding="utf-8")
    return folder


@pytest.fixture
def fence_qa(
    tmp_path: Path, fence: Path, embedder: SentenceTransformerEmbedder
) -> Iterator[tuple[BriefQA, OverlapReader]]:
    reader = OverlapReader()
    with BriefQA(tmp_path / "data", settings=Settings(), embedder=embedder, reader=reader) as qa:
        qa.ingest([fence])
        yield qa, reader


def test_a_two_part_question_gets_the_sentence_that_answers_both(
    fence_qa: tuple[BriefQA, OverlapReader],
) -> None:
    qa, reader = fence_qa
    answer = qa.ask("How long is the fence and what will it cost?")
    assert answer.text.startswith("The fence will be 186 km long and will cost 1.6 billion")
    # It answers both parts: the upkeep sentence (one part, less well) is not added.
    assert "maintenance" not in answer.text
    # Read whole and part by part.
    asked = {q for q, _ in reader.calls}
    assert {"How long is the fence?", "what will it cost?"} <= asked
    # The source card's score is the reader's, not a support of 1.00.
    assert answer.citations[0].answer_score == 1.0


def test_more_passages_asked_for_read_each_ones_likeliest_sentence_too(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    """The reading budget is set for the ``reader_pool`` passages an answer reorders; a
    search for more passages reads one more sentence for each extra passage, so the
    budget is not all spent on each passage's first sentence."""
    folder = tmp_path / "briefs"
    folder.mkdir()
    for n, place in enumerate(["Narva", "Tartu", "Riga", "Vilnius", "Gdansk", "Turku"]):
        (folder / f"fence-{n}.txt").write_text(
            f"The {place} fence\n\nA fence is planned near {place}. It will be long. "
            f"The fence near {place} will cost a great deal. Guards will patrol it.\n",
            encoding="utf-8",
        )
    reader = OverlapReader()
    settings = Settings(reader_pool=2, reader_candidates=3, top_k=2)
    with BriefQA(tmp_path / "data", settings=settings, embedder=embedder, reader=reader) as qa:
        qa.ingest([folder])
        question = "What will the fence cost?"
        qa.retrieve(question, k=2)
        assert len(reader.calls) == 3, "the pool's passages: its budget"
        reader.calls.clear()
        hits = qa.retrieve(question, k=5)
        assert len(hits) == 5
        assert len(reader.calls) == 3 + 3, "three passages beyond the pool, one sentence each"
        assert len({s for _, s in reader.calls}) == 6


def test_a_second_sentence_is_added_for_the_part_the_first_leaves_open(
    fence_qa: tuple[BriefQA, OverlapReader],
) -> None:
    qa, _ = fence_qa
    answer = qa.ask("How long is the fence and who will build it?")
    assert "186 km long" in answer.text
    assert "Budimex" in answer.text


def test_the_reader_feeds_the_gate_and_can_be_turned_off(
    tmp_path: Path, fence: Path, embedder: SentenceTransformerEmbedder
) -> None:
    with BriefQA(tmp_path / "on", settings=Settings(), embedder=embedder) as qa:
        qa.ingest([fence])
        on = qa.evidence("How long will the fence be?")
        read = qa.read("How long will the fence be?")
        assert 0.0 <= on.reader <= 1.0
        assert read and read[0].probability == max(r.probability for r in read)
        assert "186 km long" in read[0].sentence
    with BriefQA(tmp_path / "off", settings=Settings(reader="off"), embedder=embedder) as qa:
        qa.ingest([fence])
        assert qa.evidence("How long will the fence be?").reader == -1.0
        assert qa.read("How long will the fence be?") == []
        answer = qa.ask("How long will the fence be?")
        assert all(c.answer_score is None for c in answer.citations)


def test_rerank_orders_passages_by_their_best_read_sentence() -> None:
    first = Hit.of(sample_chunk(0, "a", "The weather was mild. Trade grew."), 0.9)
    second = Hit.of(sample_chunk(1, "b", "The fence will be 186 km long."), 0.5)
    unread = Hit.of(sample_chunk(2, "c", "Nothing here."), 0.8)
    readings = Readings(
        "How long is the fence?",
        {("a", first.start): 0.1, ("b", second.start): 0.9},
    )
    ordered = rerank([first, second, unread], readings)
    assert [h.doc_id for h in ordered] == ["b", "a", "c"]
    assert ordered[0].score == 0.9, "a reordered hit carries the reader's score"


# ------------------------------------------------------------------ the recipe


def _tiny_data(folder: Path) -> list[Path]:
    """A few SelQA and SQuAD rows in their own formats."""
    selqa = [
        {
            "question": f"Where is museum {i}?",
            "article": f"City {i % 3}",
            "section": "Museums",
            "candidates": [
                f"Museum {i} is in the old town of City {i % 3}.",
                "The weather is mild in spring.",
                "Trains leave every hour.",
            ],
            "answers": [0],
        }
        for i in range(12)
    ]
    context = "Chopin was born in 1810. He moved to Paris in 1831. He wrote many nocturnes."
    squad = {
        "data": [
            {
                "title": f"Article_{a}",
                "paragraphs": [
                    {
                        "context": context,
                        "qas": [
                            {
                                "id": f"q{a}-1",
                                "question": "When did Chopin move to Paris?",
                                "answers": [
                                    {"text": "1831", "answer_start": context.index("1831")}
                                ],
                                "is_impossible": False,
                            },
                            {
                                "id": f"q{a}-2",
                                "question": "When did Chopin visit Rome?",
                                "answers": [],
                                "is_impossible": True,
                            },
                        ],
                    },
                    # No questions of its own: near negatives for the other paragraph's.
                    {"context": "Chopin gave concerts in Paris. He taught there.", "qas": []},
                ],
            }
            for a in range(4)
        ]
    }
    paths = [folder / "selqa-tiny.json", folder / "squad-tiny.json"]
    paths[0].write_text(json.dumps(selqa), encoding="utf-8")
    paths[1].write_text(json.dumps(squad), encoding="utf-8")
    return paths


def _training_modules() -> tuple[ModuleType, ModuleType, ModuleType]:
    """The recipe's modules (``training/`` is not a package): export, train, data."""
    sys.path.insert(0, str(ROOT / "training"))
    try:
        import export_reader
        import reader_data
        import train_reader
    finally:
        sys.path.remove(str(ROOT / "training"))
    return export_reader, train_reader, reader_data


@pytest.mark.slow
def test_the_recipe_trains_resumes_and_exports(tmp_path: Path) -> None:
    export_reader, train_reader, reader_data = _training_modules()
    data = _tiny_data(tmp_path)
    out = tmp_path / "run"
    common = ["--data", *map(str, data), "--out", str(out), "--layers", "1"]
    common += ["--batch-size", "8", "--lr", "5e-4", "--log-every", "1", "--checkpoint-every", "4"]
    args = train_reader.parser().parse_args([*common, "--max-steps", "6"])
    train_reader.train(args)
    assert (out / "checkpoint.pt").exists()
    # Started again with more steps, it resumes where the checkpoint left off.
    args = train_reader.parser().parse_args([*common, "--max-steps", "24"])
    train_reader.train(args)
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    steps = [r["step"] for r in log]
    assert steps[:6] == [1, 2, 3, 4, 5, 6] and steps[6] == 7, "resumed, not restarted"
    losses = [r["loss"] for r in log]
    assert sum(losses[-4:]) / 4 < sum(losses[:4]) / 4, "the loss falls"
    assert (out / "dev.json").exists()

    report = export_reader.main(
        export_reader.parser().parse_args(
            ["--model", str(out / "model"), "--data", *map(str, data), "--out", str(out / "onnx")]
        )
    )
    assert report["fp32_max_probability_difference"] < 1e-4
    reader = OnnxReader(out / "onnx")
    scores = reader.score("When did Chopin move to Paris?", ["He moved to Paris in 1831."])
    assert len(scores) == 1 and 0.0 <= scores[0] <= 1.0

    # A smaller student starts from the trained reader's layers and learns its logits too;
    # like the second stage, it also trains on near negatives.
    student = tmp_path / "student"
    student_args = ["--data", *map(str, data), "--out", str(student), "--layers", "1"]
    student_args += ["--init", str(out / "model"), "--teacher", str(out / "model")]
    student_args += ["--distill", "0.5", "--max-steps", "3", "--batch-size", "8", "--near", "2"]
    args = train_reader.parser().parse_args(student_args)
    train_reader.train(args)
    # The near negatives join the training questions' pairs, never the development ones.
    import torch

    train, _ = reader_data.split(reader_data.load_pairs(data), seed=13)
    groups = {p.group for p in train}
    near = [p for p in reader_data.near_negatives(data[1], 2) if p.group in groups]
    assert near, "the second paragraph gives the training questions near negatives"
    recipe = torch.load(student / "checkpoint.pt", weights_only=False)["recipe"]
    assert recipe["near"] == 2 and recipe["pairs"] == len(train) + len(near)
    teacher = np.load(student / "teacher.npz")
    assert teacher["context"].shape == teacher["plain"].shape and teacher["context"].std() > 0
    config = json.loads((student / "model" / "config.json").read_text())
    assert config["num_hidden_layers"] == 1


@pytest.mark.slow
def test_the_shipped_reader_rebuilds_into_a_model_that_trains_further(tmp_path: Path) -> None:
    """A further training stage can start from the shipped int8 weights: read back as
    float32 they score the parity pairs as the trained model did, up to int8's error."""
    sys.path.insert(0, str(ROOT / "training"))
    try:
        import dequantize_reader
    finally:
        sys.path.remove(str(ROOT / "training"))
    _, train_reader, reader_data = _training_modules()
    from transformers import AutoTokenizer, BertForSequenceClassification

    folder = dequantize_reader.rebuild(PACKAGED_READER, tmp_path / "model")
    model = BertForSequenceClassification.from_pretrained(str(folder)).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    parity = json.loads(PARITY.read_text(encoding="utf-8"))["pairs"]
    pairs = [
        reader_data.Pair("g", p["question"], p["sentence"], p["context"], p["label"], "parity")
        for p in parity
    ]
    got = 1.0 / (1.0 + np.exp(-train_reader.score(model, tokenizer, pairs, True)))
    wanted = np.array([p["probability"] for p in parity])
    # Measured: mean difference 0.012, the same verdict on 49 of 50 pairs.
    assert float(np.abs(got - wanted).mean()) < 0.03
    assert int(((got >= 0.5) == (wanted >= 0.5)).sum()) >= 47


def test_a_student_keeps_the_layers_asked_for() -> None:
    _, train_reader, _ = _training_modules()
    assert train_reader.keep_layers("first", 3, 6) == [0, 1, 2]
    assert train_reader.keep_layers("spread", 3, 6) == [0, 2, 4]
    assert train_reader.keep_layers("1,5", 2, 6) == [1, 5]
    with pytest.raises(SystemExit, match="between 0 and 5"):
        train_reader.keep_layers("1,6", 2, 6)
    with pytest.raises(SystemExit, match="only 6"):
        train_reader.keep_layers("first", 8, 6)


def test_near_negatives_come_from_other_paragraphs_and_never_hold_the_answer(
    tmp_path: Path,
) -> None:
    _, _, reader_data = _training_modules()
    paragraphs = [
        "Chopin moved to Paris in 1831. He gave his first Paris concert in 1832.",
        "In Paris Chopin met Liszt. Chopin taught piano in Paris for years.",
        "Chopin settled in Paris in 1831, after Vienna. The weather was mild.",
    ]
    qas = {
        "id": "q",
        "question": "When did Chopin move to Paris?",
        "answers": [{"text": "1831", "answer_start": paragraphs[0].index("1831")}],
        "is_impossible": False,
    }
    unanswerable = {"id": "u", "question": "When did Chopin visit Paris?", "answers": [],
                    "is_impossible": True}  # fmt: skip
    data = {"data": [{"title": "Chopin", "paragraphs": [
        {"context": paragraphs[0], "qas": [qas]},
        {"context": paragraphs[1], "qas": [unanswerable]},
        {"context": paragraphs[2], "qas": []},
    ]}]}  # fmt: skip
    path = tmp_path / "squad-near.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    near = reader_data.near_negatives(path, per_question=4)
    assert {p.group for p in near} == {"squad:q"}, "none for an unanswerable question"
    assert all(p.label == 0 and p.source == "squad-near" for p in near)
    sentences = [p.sentence for p in near]
    # The paragraph's own sentences are negatives already; a sentence holding the answer
    # text elsewhere ("settled in Paris in 1831") may answer too and is left out.
    assert sentences == ["In Paris Chopin met Liszt.", "Chopin taught piano in Paris for years."]


def test_ranking_batches_keep_each_question_whole(tmp_path: Path) -> None:
    _, train_reader, reader_data = _training_modules()
    pairs = reader_data.load_pairs(_tiny_data(tmp_path))
    first = train_reader.question_batches(pairs, 6, seed=13, epoch=0)
    assert first == train_reader.question_batches(pairs, 6, seed=13, epoch=0), "a fixed draw"
    assert first != train_reader.question_batches(pairs, 6, seed=13, epoch=1), "reshuffled"
    assert all(len(rows) <= 6 for rows in first)
    # Every pair is trained on; a question's positives travel with each of its pieces.
    assert {i for rows in first for i in rows} == set(range(len(pairs)))
    for rows in first:
        for group in {pairs[i].group for i in rows}:
            positives = {i for i, p in enumerate(pairs) if p.group == group and p.label}
            assert positives <= set(rows)
    # The ranking loss is low when the answering sentence leads, high when it trails.
    import torch

    labels = [1.0, 0.0, 0.0]
    good = train_reader.ranking_loss(torch.tensor([4.0, 0.0, -1.0]), ["q"] * 3, labels)
    bad = train_reader.ranking_loss(torch.tensor([-1.0, 4.0, 0.0]), ["q"] * 3, labels)
    assert float(good) < 0.1 < 2.0 < float(bad)
