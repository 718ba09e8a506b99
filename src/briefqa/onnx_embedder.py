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
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .embeddings import Vectors, embed_passages, resolve_model
from .errors import ConfigError, EmbeddingError
from .settings import PACKAGED_EMBEDDING_MODEL

log = logging.getLogger(__name__)

_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
_POOLINGS = ("mean_tokens", "cls_token", "max_tokens")
#: Rows per ONNX Runtime call. On CPU small calls are faster per chunk (ClapNQ chunks,
#: 2 cores: 39 chunks/s at 8 rows, 37 at 16, 30 at 64), so a batch is split this fine.
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
        # Padding as sentence-transformers pads: to the longest text of the batch, with
        # the pad token the tokenizer declares.
        padding = tokenizer.padding or {}
        pad_id, pad_token = int(padding.get("pad_id", 0)), str(padding.get("pad_token", "[PAD]"))
        # Counting reads the text as the model would, with nothing cut off; tokenizer.json
        # may carry a truncation and a fixed padding (all-MiniLM's: 128) that the
        # sentence-transformers config overrides, so both are reset here.
        tokenizer.no_truncation()
        tokenizer.no_padding()
        self._counter = tokenizer
        self.max_tokens = limit - len(tokenizer.encode("").ids)
        self._tokenizer = Tokenizer.from_str(tokenizer.to_str())
        self._tokenizer.enable_truncation(limit)
        self._tokenizer.enable_padding(pad_id=pad_id, pad_token=pad_token)

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
            raise EmbeddingError(f"cannot load {onnx_path}: {exc}; delete it to re-export") from exc
        self._inputs = [i.name for i in self._session.get_inputs()]
        self._dimension = int(self._session.get_outputs()[0].shape[-1])

    def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        # Like sentence-transformers: batches of similar lengths, so little is padded.
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        try:
            for start in range(0, len(texts), _FORWARD_ROWS):
                rows = order[start : start + _FORWARD_ROWS]
                out[rows] = self._encode([texts[i] for i in rows])
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

    def _encode(self, texts: list[str]) -> Vectors:
        encoded = self._tokenizer.encode_batch(texts)
        arrays = {
            "input_ids": np.array([e.ids for e in encoded], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encoded], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encoded], dtype=np.int64),
        }
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

    The file is named by the model and a hash of its weights, so a changed model is
    exported afresh, and is written to a temporary file first and renamed, so a
    process starting meanwhile never reads half a file.

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
    target = Path(cache_dir).expanduser().resolve() / f"{slug}-{digest}.onnx"
    if target.exists():
        return target
    log.info("exporting %s to ONNX at %s (imports torch, once)", name, target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{slug}-", suffix=".onnx.tmp")
    os.close(fd)
    try:
        _export(model_dir, Path(tmp))
        os.replace(tmp, target)
    except Exception as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, EmbeddingError):
            raise
        raise EmbeddingError(
            f"cannot export {name} to ONNX: {exc}; set BRIEFQA_EMBEDDING_BACKEND=torch "
            "to use the model through torch instead"
        ) from exc
    return target


def _export(model_dir: Path, target: Path) -> None:
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
            str(target),
            input_names=names,
            output_names=["token_embeddings"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,  # the dynamo exporter needs onnxscript; this one only onnx
        )
        expected = module(*args).numpy()
    # Check the export where it is made, not in every answer later.
    import onnxruntime as ort

    session = ort.InferenceSession(str(target), providers=["CPUExecutionProvider"])
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
