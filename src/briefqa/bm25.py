"""The lexical index: Okapi BM25 over the chunks' content terms, saved as flat arrays.

Scores follow Lucene's BM25 (Kamphuis et al. 2020): idf = ln(1 + (N - df + 0.5) /
(df + 0.5)) and a term frequency part tf / (tf + k1 (1 - b + b |d| / avgdl)), k1 1.5,
b 0.75. Every (term, chunk) score is computed when the index is built and stored by term
(compressed sparse columns), so a question only sums the columns of its terms.

A saved index is a folder of ``.npy`` arrays and a JSON list of its terms; engines load
the arrays memory-mapped, so a server keeps in memory only the columns its questions
touch (at 100k chunks the arrays are ~45 MB on disk), and loading takes milliseconds.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

K1 = 1.5
B = 0.75
#: Bumped when the saved layout changes: an index saved in another layout is rebuilt.
FORMAT = 1
_META = "meta.json"


class LexicalIndex:
    """BM25 scores of every chunk for every term, with the chunk and brief of each row.

    Rows are chunks; ``chunk_ids[i]`` and ``doc_ids[i]`` name row ``i``.
    """

    def __init__(
        self,
        terms: list[str],
        indptr: np.ndarray[Any, Any],
        rows: np.ndarray[Any, Any],
        scores: np.ndarray[Any, Any],
        chunk_ids: np.ndarray[Any, Any],
        doc_ids: np.ndarray[Any, Any],
    ) -> None:
        self._term_ids = {term: i for i, term in enumerate(terms)}
        self._terms = terms
        self._indptr = indptr  # column t holds rows[indptr[t]:indptr[t + 1]]
        self._rows = rows
        self._scores = scores
        self.chunk_ids = chunk_ids
        self.doc_ids = doc_ids

    @classmethod
    def build(
        cls, chunk_ids: Sequence[str], doc_ids: Sequence[str], documents: Sequence[Sequence[str]]
    ) -> LexicalIndex:
        """Index ``documents`` (each a chunk's content terms, in row order)."""
        vocabulary: dict[str, int] = {}
        term_of: list[int] = []
        row_of: list[int] = []
        frequency: list[int] = []
        lengths = np.zeros(len(documents), dtype=np.float64)
        for row, terms in enumerate(documents):
            lengths[row] = len(terms)
            for term, count in Counter(terms).items():
                term_of.append(vocabulary.setdefault(term, len(vocabulary)))
                row_of.append(row)
                frequency.append(count)
        # Columns in term order: the same chunks always give the same saved files.
        terms = sorted(vocabulary)
        renumber = np.empty(len(terms), dtype=np.int64)
        renumber[[vocabulary[t] for t in terms]] = np.arange(len(terms))
        column = renumber[np.asarray(term_of, dtype=np.int64)]
        order = np.argsort(column, kind="stable")  # rows stay ascending within a column
        column, rows = column[order], np.asarray(row_of, dtype=np.int64)[order]
        tf = np.asarray(frequency, dtype=np.float64)[order]

        n = len(documents)
        df = np.bincount(column, minlength=len(terms)).astype(np.float64)
        idf = np.log1p((n - df + 0.5) / (df + 0.5))
        average = float(lengths.mean()) if n and lengths.any() else 1.0
        norm = K1 * (1 - B + B * lengths[rows] / average)
        scores = (idf[column] * tf / (tf + norm)).astype(np.float32)
        indptr = np.zeros(len(terms) + 1, dtype=np.int64)
        np.cumsum(df.astype(np.int64), out=indptr[1:])
        return cls(
            terms,
            indptr,
            rows.astype(np.int32),
            scores,
            _id_array(chunk_ids),
            _id_array(doc_ids),
        )

    def __len__(self) -> int:
        return len(self.chunk_ids)

    def __contains__(self, term: str) -> bool:
        return term in self._term_ids

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
        (folder / _META).write_text(json.dumps({"format": FORMAT, "k1": K1, "b": B}))

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex:
        """The index saved in ``folder``, its arrays memory-mapped.

        Raises:
            OSError: a file is missing or unreadable.
            ValueError: the folder holds another layout or a damaged file.
        """
        meta = json.loads((folder / _META).read_text())
        if meta != {"format": FORMAT, "k1": K1, "b": B}:
            raise ValueError(f"{folder} holds a lexical index of another layout: {meta}")
        arrays = {
            name: np.load(folder / f"{name}.npy", mmap_mode="r", allow_pickle=False)
            for name in ("indptr", "rows", "scores", "chunk_ids", "doc_ids")
        }
        terms = json.loads((folder / "terms.json").read_text(encoding="utf-8"))
        if not isinstance(terms, list) or len(arrays["indptr"]) != len(terms) + 1:
            raise ValueError(f"{folder}: the terms do not match the index")
        if not (len(arrays["rows"]) == len(arrays["scores"]) == int(arrays["indptr"][-1])):
            raise ValueError(f"{folder}: the score columns are cut short")
        if len(arrays["chunk_ids"]) != len(arrays["doc_ids"]):
            raise ValueError(f"{folder}: the chunk and brief lists differ in length")
        return cls(terms, **arrays)

    @staticmethod
    def saved_chunk_ids(folder: Path) -> set[str]:
        """The chunks a saved index covers, for integrity checks."""
        return {_id(c) for c in np.load(folder / "chunk_ids.npy", allow_pickle=False)}

    def _arrays(self) -> dict[str, np.ndarray[Any, Any]]:
        return {
            "indptr": np.asarray(self._indptr),
            "rows": np.asarray(self._rows),
            "scores": np.asarray(self._scores),
            "chunk_ids": np.asarray(self.chunk_ids),
            "doc_ids": np.asarray(self.doc_ids),
        }


def _id_array(ids: Sequence[str]) -> np.ndarray[Any, Any]:
    """Ids as a fixed-width array: ASCII bytes (briefqa's ids are hex), a quarter of the
    size of numpy's 4-byte characters; other ids as text."""
    try:
        return np.array([i.encode("ascii") for i in ids], dtype=bytes)
    except UnicodeEncodeError:
        return np.array(ids, dtype=str)


def _id(value: Any) -> str:
    return value.decode("ascii") if isinstance(value, bytes) else str(value)
