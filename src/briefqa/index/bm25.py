"""The lexical index: Okapi BM25 over the chunks' content terms, saved as flat arrays.

Scores follow Lucene's BM25 (Kamphuis et al. 2020): idf = ln(1 + (N - df + 0.5) /
(df + 0.5)) and a term frequency part tf / (tf + k1 (1 - b + b |d| / avgdl)), k1 1.5,
b 0.75. Every (term, chunk) score is computed when the index is built and stored by term
(compressed sparse columns), so a question only sums the columns of its terms.

Each entry also keeps the term's count in the chunk, and each chunk its length, so a new
brief or a removed one updates the index without reading the other chunks again: the
scores are recomputed from the counts (idf and the average length change with every
chunk) and come out exactly as a fresh build's.

A saved index is a folder of ``.npy`` arrays and a JSON list of its terms, with the
SHA-256 of each file in its ``meta.json``; engines load the arrays memory-mapped, so a
server keeps in memory only the columns its questions touch (at 96k chunks the arrays
take 65 MB on disk). Loading checks every file against its hash first (about 0.1 s at
96k chunks): a damaged byte in a score column would otherwise only show as a brief that
stops being found.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

K1 = 1.5
B = 0.75
#: Bumped when the saved layout or :func:`briefqa.text.content_terms` changes: an index
#: saved otherwise is rebuilt, never updated.
FORMAT = 3
_META = "meta.json"
_ARRAYS = ("indptr", "rows", "scores", "counts", "lengths", "chunk_ids", "doc_ids")


class LexicalIndex:
    """BM25 scores of every chunk for every term, with the chunk and brief of each row.

    Rows are chunks in chunk-id order; ``chunk_ids[i]`` and ``doc_ids[i]`` name row
    ``i``. Beside each score the index keeps the term's count in the chunk, and each
    chunk's length, so that :meth:`updated` can follow added and removed chunks
    without reading the others again.
    """

    def __init__(
        self,
        terms: list[str],
        indptr: np.ndarray[Any, Any],
        rows: np.ndarray[Any, Any],
        scores: np.ndarray[Any, Any],
        counts: np.ndarray[Any, Any],
        lengths: np.ndarray[Any, Any],
        chunk_ids: np.ndarray[Any, Any],
        doc_ids: np.ndarray[Any, Any],
    ) -> None:
        self._term_ids = {term: i for i, term in enumerate(terms)}
        self._terms = terms
        self._indptr = indptr  # column t holds rows[indptr[t]:indptr[t + 1]]
        self._rows = rows
        self._scores = scores
        self._counts = counts  # the term's count in the row, per entry
        self._lengths = lengths  # content terms per row
        self.chunk_ids = chunk_ids
        self.doc_ids = doc_ids

    @classmethod
    def build(
        cls, chunk_ids: Sequence[str], doc_ids: Sequence[str], documents: Sequence[Sequence[str]]
    ) -> LexicalIndex:
        """Index ``documents`` (each a chunk's content terms, in the order of the ids)."""
        vocabulary: dict[str, int] = {}
        column, row, count, lengths = _entries(documents, vocabulary, 0)
        return _assemble(list(vocabulary), column, row, count, lengths, chunk_ids, doc_ids)

    def updated(
        self, listed: set[str], added: Sequence[tuple[str, str, Sequence[str]]]
    ) -> LexicalIndex:
        """This index with only the chunks in ``listed``, plus ``added`` (chunk id, brief
        id, content terms): the same arrays as :meth:`build` over all of them, without
        reading the chunks kept. Added chunks already indexed are indexed once."""
        keep = np.fromiter((c in listed for c in self.ids), bool, len(self.ids))
        kept_ids = [c for c, kept in zip(self.ids, keep, strict=True) if kept]
        present = set(kept_ids)
        added = [a for a in added if a[0] not in present]
        # Every entry's column, and its row renumbered among the rows kept.
        column = np.repeat(np.arange(len(self._terms)), np.diff(self._indptr))
        entry_kept = keep[self._rows]
        renumber = np.cumsum(keep) - 1
        vocabulary = dict(self._term_ids)
        new_column, new_row, new_count, new_lengths = _entries(
            [a[2] for a in added], vocabulary, len(kept_ids)
        )
        return _assemble(
            list(vocabulary),
            np.concatenate([column[entry_kept], new_column]),
            np.concatenate([renumber[self._rows[entry_kept]], new_row]),
            np.concatenate([np.asarray(self._counts)[entry_kept], new_count]),
            np.concatenate([np.asarray(self._lengths)[keep], new_lengths]),
            kept_ids + [a[0] for a in added],
            [_id(d) for d in np.asarray(self.doc_ids)[keep]] + [a[1] for a in added],
        )

    def __len__(self) -> int:
        return len(self.chunk_ids)

    def __contains__(self, term: str) -> bool:
        return term in self._term_ids

    @functools.cached_property
    def ids(self) -> list[str]:
        """Every row's chunk id, decoded once (for updates; questions need a few rows,
        through :meth:`chunk_id`)."""
        return [_id(c) for c in self.chunk_ids]

    def chunk_id(self, row: int) -> str:
        """The id of the chunk in ``row``."""
        return _id(self.chunk_ids[row])

    def document_frequency(self, term: str) -> int:
        """How many chunks contain ``term``."""
        t = self._term_ids.get(term)
        return 0 if t is None else int(self._indptr[t + 1] - self._indptr[t])

    def scores(self, terms: Iterable[str], allowed: set[str] | None = None) -> np.ndarray[Any, Any]:
        """Each row's BM25 score for a query of ``terms`` (a repeated term counts again);
        rows of briefs outside ``allowed`` score 0."""
        total = np.zeros(len(self.chunk_ids), dtype=np.float32)
        for term in terms:
            t = self._term_ids.get(term)
            if t is None:
                continue
            start, end = int(self._indptr[t]), int(self._indptr[t + 1])
            total[self._rows[start:end]] += self._scores[start:end]  # rows are unique per term
        if allowed is not None:
            total[~np.isin(self.doc_ids, _id_array(sorted(allowed)))] = 0.0
        return total

    def save(self, folder: Path) -> None:
        """Write the index into ``folder`` (which must not exist yet)."""
        folder.mkdir(parents=True)
        for name, array in self._arrays().items():
            np.save(folder / f"{name}.npy", array, allow_pickle=False)
        (folder / "terms.json").write_text(json.dumps(self._terms, ensure_ascii=False))
        hashes = {f.name: _sha256(f) for f in sorted(folder.iterdir())}
        meta = {"format": FORMAT, "k1": K1, "b": B, "sha256": hashes}
        (folder / _META).write_text(json.dumps(meta))

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex:
        """The index saved in ``folder``, its arrays memory-mapped.

        Raises:
            OSError: a file is missing or unreadable.
            ValueError: the folder holds another layout or a damaged file.
        """
        meta = json.loads((folder / _META).read_text())
        layout = {k: meta.get(k) for k in ("format", "k1", "b")}
        if layout != {"format": FORMAT, "k1": K1, "b": B}:
            raise ValueError(f"{folder} holds a lexical index of another layout: {layout}")
        damaged = LexicalIndex.damaged(folder, meta)
        if damaged:
            raise ValueError(f"{folder}: damaged files (their hashes differ): {damaged}")
        arrays = {
            name: np.load(folder / f"{name}.npy", mmap_mode="r", allow_pickle=False)
            for name in _ARRAYS
        }
        terms = json.loads((folder / "terms.json").read_text(encoding="utf-8"))
        if not isinstance(terms, list) or len(arrays["indptr"]) != len(terms) + 1:
            raise ValueError(f"{folder}: the terms do not match the index")
        entries = {len(arrays[n]) for n in ("rows", "scores", "counts")}
        if entries != {int(arrays["indptr"][-1])}:
            raise ValueError(f"{folder}: the score columns are cut short")
        if len({len(arrays[n]) for n in ("lengths", "chunk_ids", "doc_ids")}) != 1:
            raise ValueError(f"{folder}: the chunk and brief lists differ in length")
        return cls(terms, **arrays)

    @staticmethod
    def damaged(folder: Path, meta: dict[str, Any] | None = None) -> list[str]:
        """The files of a saved index whose bytes no longer match the hashes written with
        them (all of them if the hashes are unreadable)."""
        try:
            meta = meta if meta is not None else json.loads((folder / _META).read_text())
            hashes = dict(meta["sha256"])
        except (OSError, ValueError, KeyError, TypeError):
            return [_META]
        names = {f"{n}.npy" for n in _ARRAYS} | {"terms.json"}
        out = []
        for name in sorted(names):
            try:
                if hashes.get(name) != _sha256(folder / name):
                    out.append(name)
            except OSError:
                out.append(name)
        return out

    @staticmethod
    def saved_chunk_ids(folder: Path) -> set[str]:
        """The chunks a saved index covers, for integrity checks."""
        return {_id(c) for c in np.load(folder / "chunk_ids.npy", allow_pickle=False)}

    def _arrays(self) -> dict[str, np.ndarray[Any, Any]]:
        return {
            "indptr": np.asarray(self._indptr),
            "rows": np.asarray(self._rows),
            "scores": np.asarray(self._scores),
            "counts": np.asarray(self._counts),
            "lengths": np.asarray(self._lengths),
            "chunk_ids": np.asarray(self.chunk_ids),
            "doc_ids": np.asarray(self.doc_ids),
        }


def _entries(
    documents: Sequence[Sequence[str]], vocabulary: dict[str, int], first_row: int
) -> tuple[np.ndarray[Any, Any], ...]:
    """(column, row, count) of every distinct term of every document, numbering new terms
    into ``vocabulary``, and each document's length."""
    column: list[int] = []
    row: list[int] = []
    count: list[int] = []
    for offset, terms in enumerate(documents):
        for term, n in Counter(terms).items():
            column.append(vocabulary.setdefault(term, len(vocabulary)))
            row.append(first_row + offset)
            count.append(n)
    return (
        np.asarray(column, dtype=np.int64),
        np.asarray(row, dtype=np.int64),
        np.asarray(count, dtype=np.int32),
        np.asarray([len(t) for t in documents], dtype=np.float32),
    )


def _assemble(
    terms: list[str],
    column: np.ndarray[Any, Any],
    row: np.ndarray[Any, Any],
    count: np.ndarray[Any, Any],
    lengths: np.ndarray[Any, Any],
    chunk_ids: Sequence[str],
    doc_ids: Sequence[str],
) -> LexicalIndex:
    """The index of these entries: rows in chunk-id order, columns in term order, terms
    no row has dropped, so the same chunks give the same arrays however they came."""
    order = sorted(range(len(chunk_ids)), key=chunk_ids.__getitem__)
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    row = rank[row]
    lengths = lengths[order] if len(order) else lengths
    used = np.bincount(column, minlength=len(terms)) > 0
    kept = sorted(t for t, u in zip(terms, used, strict=True) if u)
    position = {t: i for i, t in enumerate(terms)}
    renumber = np.full(len(terms), -1, dtype=np.int64)
    renumber[[position[t] for t in kept]] = np.arange(len(kept))
    column = renumber[column]
    entries = np.lexsort((row, column))  # by column, rows ascending within one
    column, row, count = column[entries], row[entries], count[entries]

    n = len(order)
    df = np.bincount(column, minlength=len(kept)).astype(np.float64)
    idf = np.log1p((n - df + 0.5) / (df + 0.5))
    length = lengths.astype(np.float64)
    average = float(length.mean()) if n and length.any() else 1.0
    tf = count.astype(np.float64)
    scores = (idf[column] * tf / (tf + K1 * (1 - B + B * length[row] / average))).astype(np.float32)
    indptr = np.zeros(len(kept) + 1, dtype=np.int64)
    np.cumsum(df.astype(np.int64), out=indptr[1:])
    return LexicalIndex(
        kept,
        indptr,
        row.astype(np.int32),
        scores,
        count,
        lengths,
        _id_array([chunk_ids[i] for i in order]),
        _id_array([doc_ids[i] for i in order]),
    )


def _id_array(ids: Sequence[str]) -> np.ndarray[Any, Any]:
    """Ids as a fixed-width array: ASCII bytes (briefqa's ids are hex), a quarter of the
    size of numpy's 4-byte characters; other ids as text."""
    try:
        return np.array([i.encode("ascii") for i in ids], dtype=bytes)
    except UnicodeEncodeError:
        return np.array(ids, dtype=str)


def _id(value: Any) -> str:
    return value.decode("ascii") if isinstance(value, bytes) else str(value)


def _sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()
