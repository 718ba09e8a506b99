"""Vector stores behind one small interface, and the Chroma implementation.

A store holds chunks with their embeddings and answers nearest-neighbour queries. It
knows nothing of files or manifests: :mod:`briefqa.index.ingest` keeps those consistent.
A store that can record which index it belongs to is also an :class:`OwnedStore`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any, Protocol, TypeVar, runtime_checkable
from urllib.parse import urlparse

import numpy as np

from ..errors import ConfigError, StoreError, full_disk, redact
from ..schema import Chunk
from ..settings import Settings
from .embeddings import Vectors

Where = Mapping[str, Any]


@runtime_checkable
class VectorStore(Protocol):
    """Chunks with embeddings, addressable by chunk id.

    Every method raises :class:`~briefqa.errors.StoreError` when the backend fails.
    """

    def upsert(self, chunks: Sequence[Chunk], embeddings: Vectors) -> None:
        """Insert or replace chunks (matched by ``chunk_id``) with their vectors."""
        ...

    def delete(self, chunk_ids: Sequence[str]) -> None:
        """Remove chunks; ids that are not stored are ignored."""
        ...

    def search(
        self, embedding: Vectors, k: int, where: Where | None = None
    ) -> list[tuple[Chunk, float]]:
        """The ``k`` nearest chunks to a unit vector, best first, with cosine similarity."""
        ...

    def get(self, chunk_ids: Sequence[str]) -> list[Chunk]:
        """Stored chunks by id, in the order asked; missing ids are skipped."""
        ...

    def ids(self) -> set[str]:
        """Every stored chunk id."""
        ...

    def scan(self) -> Iterator[Chunk]:
        """Every stored chunk, in no particular order (for building lexical indexes)."""
        ...

    def count(self) -> int:
        """Number of stored chunks."""
        ...


@runtime_checkable
class OwnedStore(Protocol):
    """A store that records which briefqa index (manifest) fills it.

    Several workers may share one store only when they share one manifest: the stamp
    lets a worker with another manifest notice before it reads or writes, instead of
    corrupting both. A store without this capability (a test's, a custom one) is
    trusted to belong to whoever opens it.
    """

    def owner(self) -> str | None:
        """The id of the index this store belongs to, or None if it is unclaimed."""
        ...

    def claim(self, owner: str) -> str:
        """Stamp the store as belonging to ``owner`` unless it already belongs to an
        index; returns the owner it has now."""
        ...


_OWNER = "briefqa_index"
T = TypeVar("T")


class ChromaStore:
    """A Chroma collection with cosine distance: embedded on disk, or on a server.

    It is an :class:`OwnedStore`: the collection's metadata carries its index's id.
    """

    def __init__(self, client: Any, collection: str) -> None:
        self._client = client
        self.name = collection
        try:
            self._collection = self._open()
            self._max_batch = int(client.get_max_batch_size())
        except Exception as exc:
            raise StoreError(f"cannot open Chroma collection {collection!r}: {exc}") from exc

    def _open(self) -> Any:
        # embedding_function=None: vectors always come from our own embedder, so Chroma
        # never loads (or downloads) its default ONNX model.
        return self._client.get_or_create_collection(
            self.name, embedding_function=None, metadata={"hnsw:space": "cosine"}
        )

    def _call(self, operation: Callable[[Any], T]) -> T:
        """``operation`` on the collection; once more on the collection opened afresh if
        it was dropped meanwhile (a rebuild through another worker makes it again under
        a new id, which the handle kept here does not know)."""
        try:
            return operation(self._collection)
        except Exception as exc:
            if "does not exist" not in str(exc):
                raise
            self._collection = self._open()
            return operation(self._collection)

    def owner(self) -> str | None:
        """The id of the briefqa index (manifest) this collection belongs to, if any.

        Several workers may share one collection only when they share one manifest; the
        stamp lets a worker with another manifest notice instead of corrupting both.
        """
        try:
            metadata = self._client.get_collection(self.name).metadata or {}
        except Exception as exc:
            raise StoreError(f"cannot read Chroma collection {self.name!r}: {exc}") from exc
        value = metadata.get(_OWNER)
        return None if value is None else str(value)

    def claim(self, owner: str) -> str:
        """Stamp the collection as belonging to the index ``owner``, unless it already
        belongs to one; returns the owner it has now.

        Chroma has no compare-and-set, so the stamp is read again after writing: of two
        indexes claiming one new collection at the same moment, the one that reads the
        other's stamp backs off. (Both can pass if one reads before the other writes;
        the one whose stamp was overwritten is refused as soon as it builds its answerer,
        which a server does before it serves.)
        """
        try:
            current = self._client.get_collection(self.name).metadata or {}
            if current.get(_OWNER) is None:
                # modify() replaces the whole metadata, and refuses "hnsw:*" keys (the
                # distance lives in the collection's configuration): keep the rest.
                kept = {k: v for k, v in current.items() if not k.startswith("hnsw:")}
                self._collection.modify(metadata={**kept, _OWNER: owner})
        except Exception as exc:
            raise StoreError(f"cannot stamp Chroma collection {self.name!r}: {exc}") from exc
        return self.owner() or owner

    def drop(self) -> None:
        """Delete the whole collection (for a rebuild of its index)."""
        try:
            self._client.delete_collection(self.name)
        except Exception as exc:
            raise StoreError(f"cannot drop Chroma collection {self.name!r}: {exc}") from exc

    @classmethod
    def persistent(cls, path: Path, collection: str) -> ChromaStore:
        import chromadb

        path.mkdir(parents=True, exist_ok=True)
        try:
            client = chromadb.PersistentClient(path=str(path), settings=_chroma_settings())
        except Exception as exc:
            raise StoreError(f"cannot open the Chroma index at {path}: {exc}") from exc
        return cls(client, collection)

    @classmethod
    def server(cls, url: str, collection: str) -> ChromaStore:
        import chromadb

        parsed = urlparse(url)
        ssl = parsed.scheme == "https"
        try:
            client = chromadb.HttpClient(
                host=parsed.hostname or "127.0.0.1",
                port=parsed.port or (443 if ssl else 8000),
                ssl=ssl,
                settings=_chroma_settings(),
            )
            client.heartbeat()
        except Exception as exc:
            raise StoreError(
                redact(f"cannot reach the Chroma server at {url} ({exc}); is `chroma run` running?")
            ) from exc
        return cls(client, collection)

    def upsert(self, chunks: Sequence[Chunk], embeddings: Vectors) -> None:
        if len(chunks) != len(embeddings):
            raise ValueError("one embedding per chunk is needed")
        for lo in range(0, len(chunks), self._max_batch):
            part = chunks[lo : lo + self._max_batch]
            try:
                rows = {
                    "ids": [c.chunk_id for c in part],
                    "embeddings": np.asarray(embeddings[lo : lo + self._max_batch]),
                    "documents": [c.text for c in part],
                    "metadatas": [_metadata(c) for c in part],
                }
                self._call(partial(_upsert, rows=rows))
            except Exception as exc:
                raise _write_failed(f"writing {len(part)} chunks to Chroma", exc) from exc

    def delete(self, chunk_ids: Sequence[str]) -> None:
        ids = list(chunk_ids)
        for lo in range(0, len(ids), self._max_batch):
            try:
                batch = ids[lo : lo + self._max_batch]
                self._call(partial(_delete, ids=batch))
            except Exception as exc:
                raise _write_failed("deleting chunks from Chroma", exc) from exc

    def search(
        self, embedding: Vectors, k: int, where: Where | None = None
    ) -> list[tuple[Chunk, float]]:
        if k <= 0:
            return []
        try:
            vector = np.asarray(embedding, dtype=np.float32).reshape(1, -1)
            result = self._call(
                lambda c: c.query(
                    query_embeddings=vector,
                    n_results=k,
                    where=dict(where) if where else None,
                    include=["documents", "metadatas", "distances"],
                )
            )
        except Exception as exc:
            raise StoreError(f"Chroma query failed: {exc}") from exc
        rows = zip(
            result["ids"][0],
            result["documents"][0],
            result["metadatas"][0],
            result["distances"][0],
            strict=True,
        )
        return [(_chunk(i, d, m), 1.0 - float(dist)) for i, d, m, dist in rows]

    def get(self, chunk_ids: Sequence[str]) -> list[Chunk]:
        if not chunk_ids:
            return []
        try:
            result = self._call(
                lambda c: c.get(ids=list(chunk_ids), include=["documents", "metadatas"])
            )
        except Exception as exc:
            raise StoreError(f"reading chunks from Chroma failed: {exc}") from exc
        found = {
            i: _chunk(i, d, m)
            for i, d, m in zip(
                result["ids"],
                result["documents"],
                result["metadatas"],
                strict=True,
            )
        }
        return [found[i] for i in chunk_ids if i in found]

    def ids(self) -> set[str]:
        return {chunk_id for chunk_id, _, _ in self._pages(include=[])}

    def scan(self) -> Iterator[Chunk]:
        for chunk_id, text, meta in self._pages(include=["documents", "metadatas"]):
            yield _chunk(chunk_id, text, meta)

    def _pages(
        self, include: list[str], page: int = 5_000
    ) -> Iterator[tuple[str, str | None, Mapping[str, Any] | None]]:
        offset = 0
        while True:
            try:
                result = self._call(partial(_page, include=include, limit=page, offset=offset))
            except Exception as exc:
                raise StoreError(f"reading chunks from Chroma failed: {exc}") from exc
            ids = result["ids"]
            texts = result.get("documents") or [None] * len(ids)
            metas = result.get("metadatas") or [None] * len(ids)
            yield from zip(ids, texts, metas, strict=True)
            if len(ids) < page:
                return
            offset += page

    def count(self) -> int:
        try:
            return int(self._call(lambda c: c.count()))
        except Exception as exc:
            raise StoreError(f"counting Chroma chunks failed: {exc}") from exc


def _upsert(collection: Any, rows: dict[str, Any]) -> None:
    collection.upsert(**rows)


def _delete(collection: Any, ids: list[str]) -> None:
    collection.delete(ids=ids)


def _page(collection: Any, include: list[str], limit: int, offset: int) -> Any:
    return collection.get(include=include, limit=limit, offset=offset)


def _chroma_settings() -> Any:
    from chromadb.config import Settings as ChromaSettings

    return ChromaSettings(anonymized_telemetry=False, allow_reset=False)


def _metadata(chunk: Chunk) -> dict[str, Any]:
    # Chroma metadata values cannot be None: absent fields are simply left out.
    data: dict[str, Any] = {
        "doc_id": chunk.doc_id,
        "index": chunk.index,
        "start": chunk.start,
        "end": chunk.end,
        "title": chunk.title,
    }
    if chunk.section is not None:
        data["section"] = chunk.section
    if chunk.page is not None:
        data["page"] = chunk.page
    return data


def _chunk(chunk_id: str, text: str | None, meta: Mapping[str, Any] | None) -> Chunk:
    meta = meta or {}
    return Chunk(
        chunk_id=chunk_id,
        doc_id=str(meta.get("doc_id", "")),
        index=int(meta.get("index", 0)),
        text=text or "",
        start=int(meta.get("start", 0)),
        end=int(meta.get("end", 0)),
        title=str(meta.get("title", "")),
        section=meta.get("section"),
        page=meta.get("page"),
    )


def store_from_settings(settings: Settings, data_dir: Path) -> VectorStore:
    """The store the settings ask for: a Chroma server if ``chroma_url`` is set."""
    if settings.chroma_url:
        return ChromaStore.server(settings.chroma_url, settings.collection)
    if data_dir.exists() and not data_dir.is_dir():
        raise ConfigError(f"data_dir {data_dir} exists and is not a directory")
    return ChromaStore.persistent(data_dir / "chroma", settings.collection)


def _write_failed(what: str, exc: Exception) -> StoreError:
    """A failed write to Chroma, as :class:`DiskFull` when its disk is full."""
    return full_disk("the Chroma index", exc) or StoreError(f"{what} failed: {exc}")
