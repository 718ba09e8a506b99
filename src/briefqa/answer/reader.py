"""The reading model: how likely a sentence answers a question.

An embedding compares topics; it cannot tell "the fence will cost 1.6 billion" from "the
fence's upkeep will cost 20 million a year" when the question asks what the fence will
cost. A :class:`Reader` reads the question and the sentence together (a cross-encoder)
and gives the probability that the sentence answers it. The answer path uses it to
order passages and sentences and as a signal of the refusal gate
(:mod:`briefqa.answer.readings`).

The packaged reader (:class:`OnnxReader`) is briefqa's own: all-MiniLM-L6-v2 fine-tuned
as a cross-encoder on SelQA and SQuAD 2.0 sentences by ``training/train_reader.py``,
weights quantised to int8 and run by ONNX Runtime (no torch). Its model card is
``docs/reader.md``; its weights are CC BY-SA 4.0 (``models/reader/LICENSE``). Another
reader exported the same way is chosen with ``BRIEFQA_READER=/path/to/folder``;
``BRIEFQA_READER=off`` answers without one.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..errors import ConfigError, EmbeddingError
from ..settings import Settings

__all__ = ["PACKAGED_READER", "OnnxReader", "Reader", "reader_from_settings"]

#: The folder of the reader that ships inside the package.
PACKAGED_READER = Path(__file__).parents[1] / "models" / "reader"
_FILES = ("model.onnx", "tokenizer.json", "reader.json")
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
_CACHE = 4096  # (question, sentence) scores remembered: a question is read once per stage
#: Most pairs read at once by default: beyond a few cores a question's dozen pairs gain
#: little, and each reading thread keeps its own scratch memory.
MAX_THREADS = 4


@runtime_checkable
class Reader(Protocol):
    """Scores (question, sentence) pairs: the probability that the sentence answers."""

    #: Name shown in reports and the model card.
    name: str

    def score(
        self, question: str, sentences: Sequence[str], contexts: Sequence[str] | None = None
    ) -> list[float]:
        """Probability (0–1) that each sentence answers ``question``.

        ``contexts`` (the brief's title and the section a sentence sits under, one per
        sentence) help a sentence whose subject is in its heading ("It will cost…").

        Raises:
            EmbeddingError: the model failed.
        """
        ...


class OnnxReader:
    """A cross-encoder exported by ``training/export_reader.py``, run by ONNX Runtime.

    The folder holds ``model.onnx`` (a logit per pair), ``tokenizer.json`` and
    ``reader.json`` (input length, whether sentences carry their context, the model's
    checksum, its development metrics).
    """

    def __init__(self, folder: Path = PACKAGED_READER, *, threads: int | None = None) -> None:
        """``threads``: pairs read at once, each on one core (default: the machine's
        cores, at most :data:`MAX_THREADS`).

        Raises:
            ConfigError: a file is missing, damaged or not a reader's.
        """
        missing = [name for name in _FILES if not (folder / name).is_file()]
        if missing:
            raise ConfigError(
                f"{folder} is not a briefqa reader: {', '.join(missing)} missing "
                "(export one with training/export_reader.py, or set BRIEFQA_READER=off)"
            )
        try:
            config = json.loads((folder / "reader.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read {folder / 'reader.json'}: {exc}") from exc
        if config.get("format") != "briefqa-reader/1":
            raise ConfigError(f"{folder / 'reader.json'} is not a briefqa-reader/1 file")
        data = (folder / "model.onnx").read_bytes()
        # A damaged model file would still load and score nonsense: check it first.
        if config.get("sha256") and hashlib.sha256(data).hexdigest() != config["sha256"]:
            raise ConfigError(
                f"{folder / 'model.onnx'} does not match the checksum in reader.json: the "
                "file is damaged; reinstall briefqa (or export the reader again)"
            )
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.folder = folder
        self.name = str(config.get("name") or folder.name)
        self.max_length = int(config.get("max_length", 128))
        self.context = bool(config.get("context", False))
        self.config: dict[str, Any] = config
        #: A refusal model calibrated with this reader, if its folder carries one
        #: (``refusal.json``); otherwise the gate uses the one calibrated with the
        #: packaged reader.
        self.refusal_model: Path | None = (
            folder / "refusal.json" if (folder / "refusal.json").is_file() else None
        )
        options = ort.SessionOptions()
        # Each pass on one core: a pair is short (a question and a sentence, 55 word
        # pieces on average), and splitting one pass over cores gains far less than
        # reading a question's pairs side by side, one per core (16 pairs: 68 ms on one
        # core, 35 ms on two).
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        # Passes are small: a preallocated arena would hold tens of MB for little gain.
        options.enable_cpu_mem_arena = False
        try:
            self._session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
            self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        except Exception as exc:
            raise ConfigError(f"cannot load the reader in {folder}: {exc}") from exc
        self._tokenizer.no_padding()
        # The longer of the two is cut: the sentence, as in training, unless a question
        # (a long follow-up) would leave it no room, which "only_second" refuses.
        self._tokenizer.enable_truncation(self.max_length, strategy="longest_first")
        self._inputs = [i.name for i in self._session.get_inputs()]
        self._cache: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._lock = threading.Lock()
        # Every forward pass runs on these few threads. Called from the server's many
        # request threads, ONNX Runtime's scratch tensors came from as many malloc
        # arenas, and RSS grew by 100 MB in 20 s of load without ever settling; on a
        # fixed pool of threads it stays flat.
        self.threads = threads or min(MAX_THREADS, _cores())
        self._workers = ThreadPoolExecutor(self.threads, thread_name_prefix="briefqa-reader")

    def score(
        self, question: str, sentences: Sequence[str], contexts: Sequence[str] | None = None
    ) -> list[float]:
        texts = [
            f"{c}: {s}" if self.context and c else s
            for s, c in zip(sentences, contexts or [""] * len(sentences), strict=True)
        ]
        out: list[float | None] = []
        with self._lock:
            for text in texts:
                cached = self._cache.get((question, text))
                if cached is not None:
                    self._cache.move_to_end((question, text))
                out.append(cached)
        todo = sorted({t for t, s in zip(texts, out, strict=True) if s is None})
        if todo:
            try:
                logits = self._logits(question, todo)
            except Exception as exc:
                raise EmbeddingError(f"the reader failed: {exc}") from exc
            fresh = {t: _sigmoid(float(x)) for t, x in zip(todo, logits, strict=True)}
            with self._lock:
                for text, p in fresh.items():
                    self._cache[(question, text)] = p
                while len(self._cache) > _CACHE:
                    self._cache.popitem(last=False)
            out = [fresh[t] if s is None else s for t, s in zip(texts, out, strict=True)]
        assert all(s is not None for s in out), "every sentence was scored"
        return [float(s) for s in out if s is not None]

    def _logits(self, question: str, texts: Sequence[str]) -> np.ndarray[Any, Any]:
        # One pair per pass. Batched pairs are padded to the longest (a brief's sentences
        # run from a dozen word pieces to a hundred), and int8 activations are scaled over
        # the whole batch, so a pair's score moved with what it ran beside; alone, nothing
        # is padded and a pair always scores the same (16 pairs: 59 ms alone, 67 ms in
        # fours, 126 ms in one batch, one core).
        encoded = self._tokenizer.encode_batch([(question, t) for t in texts])
        passes = [self._workers.submit(self._forward, e) for e in encoded]
        try:
            return np.array([p.result() for p in passes], dtype=np.float32)
        finally:
            for p in passes:
                p.cancel()  # after a failed pass, the question's others need not run

    def _forward(self, encoded: Any) -> float:
        # Runs on a reading thread: it must never wait on the reader itself, or it would
        # wait on work queued behind it.
        arrays = pair_inputs([encoded])
        result = self._session.run(None, {k: arrays[k] for k in self._inputs})[0]
        return float(np.asarray(result).reshape(-1)[0])


def pair_inputs(encoded: Sequence[Any]) -> dict[str, Any]:
    """The model's inputs for tokenised (question, sentence) pairs, padded to the
    longest: what the answer path and the export's checks both feed it."""
    width = max(len(e.ids) for e in encoded)
    arrays = {k: np.zeros((len(encoded), width), dtype=np.int64) for k in _INPUTS}
    for row, e in enumerate(encoded):
        n = len(e.ids)
        arrays["input_ids"][row, :n] = e.ids
        arrays["attention_mask"][row, :n] = 1
        arrays["token_type_ids"][row, :n] = e.type_ids
    return arrays


def reader_from_settings(settings: Settings) -> Reader | None:
    """The reader ``settings.reader`` names: the packaged one, a folder, or none.

    Engines of one process share a loaded reader (its session is thread-safe), so that
    several engines (a server's, a test's) load the file once.

    Raises:
        ConfigError: the setting names no reader folder, or its files are damaged.
    """
    choice = (settings.reader or "").strip()
    if choice.lower() in {"off", "none", "false", "0", ""}:
        return None
    if choice.lower() in {"packaged", "default", "on", "true", "1"}:
        folder = PACKAGED_READER
    else:
        folder = Path(choice).expanduser()
        if not folder.is_dir():
            raise ConfigError(
                f"BRIEFQA_READER={choice!r} is neither 'packaged', 'off' nor a folder; "
                "a reader folder holds model.onnx, tokenizer.json and reader.json"
            )
    key = (str(folder.resolve()), settings.reader_threads)
    with _LOADED_LOCK:
        reader = _LOADED.get(key)
        if reader is None:
            reader = _LOADED[key] = OnnxReader(folder, threads=settings.reader_threads)
        return reader


_LOADED: dict[tuple[str, int | None], OnnxReader] = {}
_LOADED_LOCK = threading.Lock()


def _cores() -> int:
    """The cores this process may run on (a container's share, not the host's)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def _sigmoid(x: float) -> float:
    # Written for both signs, so a confident logit never overflows math.exp.
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)
