"""The embedding model run by ONNX Runtime, without torch.

A question is ~20 word pieces; loading torch, transformers and sentence-transformers
to encode it costs ~11 s and hundreds of MB at start-up, where ONNX Runtime and
``tokenizers`` load in 0.1 s and encode faster. The ONNX graph is exported once from
the same sentence-transformers model (fp32, so the vectors match the torch ones to
cosine 1.0000) and cached in the model cache (``model_cache_dir``); only that export needs torch.

The pooling and tokenisation repeat what sentence-transformers does for the model
directory (``modules.json``, ``1_Pooling/config.json``, ``sentence_bert_config.json``),
so an index built with either backend is queried with the other.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, EmbeddingError
from ..settings import PACKAGED_EMBEDDING_MODEL
from .encoding import Vectors, embed_passages, resolve_model

log = logging.getLogger(__name__)

_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
_POOLINGS = ("mean_tokens", "cls_token", "max_tokens")
#: Word pieces per ONNX Runtime call (rows x padded length), and at most this many rows.
#: Small calls are faster per text on CPU and keep ONNX Runtime's memory arena small,
#: which never shrinks: 16 rows of 256 pieces grew it to 450 MB and ran 19 texts/s;
#: 4 rows of 256 took 190 MB and ran 24/s; short sentences run fastest 16 to a call.
_FORWARD_TOKENS = 1024
_FORWARD_ROWS = 16


class OnnxEmbedder:
    """A sentence-transformers model run with ONNX Runtime and ``tokenizers``.

    Args:
        model: the packaged model's name or a local sentence-transformers directory.
        cache_dir: where the exported ``.onnx`` file is kept (the model cache).
        batch_size: texts per batch, which ingest sizes its writes by; each batch is
            encoded in calls of at most ``_FORWARD_ROWS`` texts.

    Raises:
        ConfigError: the model directory holds modules this backend does not run
            (use ``embedding_backend = "torch"``).
        EmbeddingError: the model could not be exported or loaded.
    """

    def __init__(
        self, model: str = PACKAGED_EMBEDDING_MODEL, *, cache_dir: Path, batch_size: int = 64
    ) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        path = resolve_model(model)
        self.name = model
        self.batch_size = batch_size
        self._pooling = _pooling_mode(path)
        limit = _max_seq_length(path)

        try:
            tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        except Exception as exc:  # a missing or unreadable tokenizer.json
            raise EmbeddingError(f"cannot load the tokenizer of {path}: {exc}") from exc
        padding = tokenizer.padding or {}
        pad_id = int(padding.get("pad_id", 0))
        # Counting reads the text as the model would, with nothing cut off; tokenizer.json
        # may carry a truncation and a fixed padding (all-MiniLM's: 128) that the
        # sentence-transformers config overrides, so both are reset here.
        tokenizer.no_truncation()
        tokenizer.no_padding()
        self._counter = tokenizer
        self.max_tokens = limit - len(tokenizer.encode("").ids)
        self._tokenizer = Tokenizer.from_str(tokenizer.to_str())
        self._tokenizer.enable_truncation(limit)
        self._pad_id = pad_id

        onnx_path = export_onnx(path, cache_dir, model)
        #: The exported model file this embedder runs.
        self.path = onnx_path
        options = ort.SessionOptions()
        options.log_severity_level = 3  # no warnings about unused initializers on every start
        try:
            self._session = ort.InferenceSession(
                str(onnx_path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own types for a bad file
            raise EmbeddingError(
                f"cannot load {onnx_path}: {exc}; delete {onnx_path.parent} to re-export"
            ) from exc
        self._inputs = [i.name for i in self._session.get_inputs()]
        self._dimension = int(self._session.get_outputs()[0].shape[-1])

    def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        try:
            encoded = self._tokenizer.encode_batch(list(texts))
            # Calls of texts of similar lengths, longest first, so little is padded.
            order = sorted(range(len(texts)), key=lambda i: -len(encoded[i].ids))
            start = 0
            while start < len(order):
                width = max(1, len(encoded[order[start]].ids))
                rows = order[start : start + max(1, min(_FORWARD_ROWS, _FORWARD_TOKENS // width))]
                out[rows] = self._encode([encoded[i] for i in rows], width)
                start += len(rows)
        except Exception as exc:
            raise EmbeddingError(f"embedding failed: {exc}") from exc
        return out

    def embed_with_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]
    ) -> tuple[Vectors, list[Vectors]]:
        """As :meth:`SentenceTransformerEmbedder.embed_with_spans`."""
        return embed_passages(self.embed, texts, spans, self.dimension)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        encoded = self._counter.encode_batch(list(texts), add_special_tokens=False)
        return [len(e.ids) for e in encoded]

    @property
    def dimension(self) -> int:
        return self._dimension

    def _encode(self, encoded: list[Any], width: int) -> Vectors:
        # Padded as sentence-transformers pads: to the longest text of the call, with the
        # pad token the tokenizer declares.
        arrays = {
            "input_ids": np.full((len(encoded), width), self._pad_id, dtype=np.int64),
            "attention_mask": np.zeros((len(encoded), width), dtype=np.int64),
            "token_type_ids": np.zeros((len(encoded), width), dtype=np.int64),
        }
        for row, e in enumerate(encoded):
            n = len(e.ids)
            arrays["input_ids"][row, :n] = e.ids
            arrays["attention_mask"][row, :n] = e.attention_mask
            arrays["token_type_ids"][row, :n] = e.type_ids
        tokens: Vectors = self._session.run(None, {k: arrays[k] for k in self._inputs})[0]
        mask = arrays["attention_mask"][..., None].astype(np.float32)
        if self._pooling == "cls_token":
            pooled = tokens[:, 0]
        elif self._pooling == "max_tokens":
            pooled = np.where(mask > 0, tokens, -1e9).max(axis=1)
        else:
            pooled = (tokens * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        unit: Vectors = (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)
        return unit


def export_onnx(model_dir: Path, cache_dir: Path, name: str) -> Path:
    """The cached ONNX export of ``model_dir``, exported now if missing.

    The export is a folder named by the model and a hash of its weights, so a changed
    model is exported afresh; it is written under a temporary name and renamed, so a
    process starting meanwhile never reads half of it. The weights sit in a file of
    their own beside the graph: ONNX Runtime then maps them from disk instead of copying
    them into memory, and a server keeps resident only the rows of the 47 MB word-piece
    table that its questions use (75 MB less than a one-file model).

    Returns:
        The path of the graph, ``model.onnx``.

    Raises:
        EmbeddingError: the export failed (torch, onnx missing, or an unusual model).
    """
    weights = next(
        (
            model_dir / f
            for f in ("model.safetensors", "pytorch_model.bin")
            if (model_dir / f).exists()
        ),
        None,
    )
    if weights is None:
        raise EmbeddingError(f"{model_dir} holds no model.safetensors or pytorch_model.bin")
    with open(weights, "rb") as f:
        digest = hashlib.file_digest(f, "sha256").hexdigest()[:16]
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(name).name or "model")
    target = Path(cache_dir).expanduser().resolve() / f"{slug}-{digest}"
    if (target / "model.onnx").exists():
        if _intact(target):
            return target / "model.onnx"
        # Derived from the weights: a damaged export (or one from before exports carried
        # their hashes) is made again rather than giving wrong vectors.
        log.warning("the ONNX export at %s does not match its hashes: exporting it again", target)
        shutil.rmtree(target, ignore_errors=True)
    log.info("exporting %s to ONNX at %s (imports torch, once)", name, target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{slug}-", suffix=".tmp"))
    try:
        _export(model_dir, tmp)
        hashes = {f.name: _sha256(f) for f in sorted(tmp.iterdir())}
        (tmp / _HASHES).write_text(json.dumps(hashes, indent=1))
        try:
            os.rename(tmp, target)
        except OSError:  # another process exported it meanwhile
            if not (target / "model.onnx").exists():
                raise
    except Exception as exc:
        if isinstance(exc, EmbeddingError):
            raise
        raise EmbeddingError(
            f"cannot export {name} to ONNX: {exc}; set BRIEFQA_EMBEDDING_BACKEND=torch "
            "to use the model through torch instead"
        ) from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    # The one-file export of earlier versions, now replaced.
    target.with_name(f"{target.name}.onnx").unlink(missing_ok=True)
    return target / "model.onnx"


_HASHES = "sha256.json"


def _sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _intact(folder: Path) -> bool:
    """Whether every file of an export still has the SHA-256 written with it (about
    0.1 s for all-MiniLM-L6's 90 MB)."""
    try:
        hashes = json.loads((folder / _HASHES).read_text())
        return bool(hashes) and all(_sha256(folder / n) == h for n, h in hashes.items())
    except (OSError, ValueError, AttributeError):
        return False


def _export(model_dir: Path, folder: Path) -> None:
    """Export into ``folder``: ``model.onnx`` and its weights, ``model.onnx.data``."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch
    from sentence_transformers import SentenceTransformer

    st: Any = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)
    first = st[0]
    encoder = getattr(first, "auto_model", None) or first.model
    names = [k for k in _INPUTS if k in st.tokenizer("x")]

    class TokenEmbeddings(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(self, *inputs: Any) -> Any:
            return self.encoder(**dict(zip(names, inputs, strict=True))).last_hidden_state

    # Two rows of different lengths, so the traced graph handles padding as it must.
    sample = st.tokenizer(["a short one", "a longer sample text to pad the other"],
                          padding=True, return_tensors="pt")  # fmt: skip
    args = tuple(sample[k] for k in names)
    module = TokenEmbeddings().eval()
    axes = {k: {0: "batch", 1: "sequence"} for k in [*names, "token_embeddings"]}
    with torch.no_grad(), warnings.catch_warnings():
        # The tracer warns about shape checks it freezes; the check below verifies them.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            args,
            str(folder / "graph.onnx"),
            input_names=names,
            output_names=["token_embeddings"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,  # the dynamo exporter needs onnxscript; this one only onnx
        )
        expected = module(*args).numpy()
    import onnx

    graph = onnx.load(str(folder / "graph.onnx"))
    onnx.save_model(
        graph,
        str(folder / "model.onnx"),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location="model.onnx.data",
        size_threshold=1024,
    )
    (folder / "graph.onnx").unlink()
    # Check the export where it is made, not in every answer later.
    import onnxruntime as ort

    session = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    got = session.run(None, {k: v.numpy() for k, v in zip(names, args, strict=True)})[0]
    mask = sample["attention_mask"].numpy().astype(bool)
    if not np.allclose(got[mask], expected[mask], atol=1e-4):
        raise EmbeddingError(f"the ONNX export of {model_dir} does not match the torch model")


def _pooling_mode(model_dir: Path) -> str:
    modules = _read_json(model_dir / "modules.json")
    if modules is None:  # a plain transformers directory: sentence-transformers mean-pools
        return "mean_tokens"
    kinds = [str(m.get("type", "")).rsplit(".", 1)[-1] for m in modules]
    if kinds[:2] != ["Transformer", "Pooling"] or set(kinds[2:]) - {"Normalize"}:
        raise ConfigError(
            f"{model_dir} has modules {kinds}; the onnx embedding backend runs only "
            "Transformer + Pooling (+ Normalize): set BRIEFQA_EMBEDDING_BACKEND=torch"
        )
    pooling = _read_json(model_dir / str(modules[1].get("path", "")) / "config.json") or {}
    modes = [m for m in _POOLINGS if pooling.get(f"pooling_mode_{m}")]
    if len(modes) != 1:
        raise ConfigError(
            f"{model_dir} pools by {modes or 'nothing known'}; the onnx embedding backend "
            "pools by one of mean, cls or max: set BRIEFQA_EMBEDDING_BACKEND=torch"
        )
    return modes[0]


def _max_seq_length(model_dir: Path) -> int:
    """Tokens the model reads, special ones included, as sentence-transformers sets it."""
    config = _read_json(model_dir / "sentence_bert_config.json") or {}
    if config.get("max_seq_length"):
        return int(config["max_seq_length"])
    limits = [
        int(v)
        for v in (
            (_read_json(model_dir / "config.json") or {}).get("max_position_embeddings"),
            (_read_json(model_dir / "tokenizer_config.json") or {}).get("model_max_length"),
        )
        if isinstance(v, int | float) and 0 < v < 1_000_000
    ]
    return min(limits) if limits else 512


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise EmbeddingError(f"cannot read {path}: {exc}") from exc
