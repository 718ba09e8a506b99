"""Incremental, crash-safe ingestion of briefs into the vector store.

For each file: unchanged bytes are skipped without parsing; new or changed briefs are
chunked, embedded in full batches across briefs, written to the store, and then
committed to the manifest. See :mod:`briefqa.manifest` for the crash-safety protocol.
"""

from __future__ import annotations

import fcntl
import hashlib
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .chunking import chunk_brief
from .embeddings import Embedder, Vectors
from .errors import BriefQAError, DocumentError, IndexLocked
from .loaders import SUPPORTED_SUFFIXES, load_brief
from .manifest import Manifest, Source
from .schema import Brief, Chunk, IngestError, IngestReport
from .sentences import SentenceVectors
from .settings import Settings
from .store import VectorStore
from .text import sentence_spans

#: Called as ``progress(chunks_done, chunks_total)`` while embedding.
Progress = Callable[[int, int], None]


@dataclass
class _Job:
    brief: Brief
    sources: list[Source]
    known: list[bool]  # per source: the path was indexed before (with other bytes)
    chunks: list[Chunk] = field(default_factory=list)


@contextmanager
def ingest_lock(data_dir: Path) -> Iterator[None]:
    """Hold the data directory's ingest lock.

    An OS file lock (flock) is released by the kernel when its process dies, so a run
    killed mid-way never leaves a lock that blocks the next one.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / "ingest.lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise IndexLocked(
                f"another briefqa process is ingesting into {data_dir}; wait for it to finish"
            ) from exc
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def expand_paths(paths: Iterable[str | Path]) -> tuple[list[Path], list[IngestError]]:
    """Files to ingest: given files as they are, folders searched for supported briefs."""
    files: list[Path] = []
    errors: list[IngestError] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files += sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and p.suffix.lower() in SUPPORTED_SUFFIXES
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
        elif path.is_file():
            files.append(path)
        elif path.exists():  # a FIFO, socket or device: reading it could block forever
            errors.append(IngestError(str(path), "not a regular file"))
        else:
            errors.append(IngestError(str(path), "no such file or folder"))
    unique = list(dict.fromkeys(p.resolve() for p in files))
    return unique, errors


def flush_pending(
    manifest: Manifest, store: VectorStore, sentences: SentenceVectors | None = None
) -> int:
    """Delete from the store every chunk id the manifest holds as pending, unless a brief
    lists it: rewriting a brief's chunks under their own ids (a repair) makes them
    pending too, and a run killed before its commit must not take them away."""
    pending = manifest.pending()
    if pending:
        listed = set(manifest.chunk_ids())
        doomed = [cid for cid in pending if cid not in listed]
        store.delete(doomed)
        if sentences is not None:
            sentences.delete(doomed)
        manifest.clear_pending(pending)
    return len(pending)


def run_ingest(
    paths: Iterable[str | Path],
    *,
    manifest: Manifest,
    store: VectorStore,
    embedder: Callable[[], Embedder],
    settings: Settings,
    prune: bool = False,
    progress: Progress | None = None,
    sentences: SentenceVectors | None = None,
) -> IngestReport:
    """Bring the index in step with the given files. The caller holds the ingest lock.

    ``embedder`` is a factory, called only when something needs embedding, so that a
    re-ingest of an unchanged corpus never loads the model.
    """
    started = time.perf_counter()
    report = IngestReport()
    flush_pending(manifest, store, sentences)  # leftovers of an interrupted run

    files, report.errors = expand_paths(paths)
    jobs = _plan(files, manifest, report)

    _index(jobs, embedder, settings, manifest, store, sentences, report, progress)
    if prune:
        for source in manifest.sources():
            if not Path(source.path).exists():
                dropped, _ = manifest.remove_source(source.path)
                report.removed += dropped is not None
    flush_pending(manifest, store, sentences)
    report.failed = len(report.errors)
    report.seconds = time.perf_counter() - started
    return report


def reindex(
    sources: dict[str, list[Source]],
    *,
    manifest: Manifest,
    store: VectorStore,
    embedder: Callable[[], Embedder],
    settings: Settings,
    sentences: SentenceVectors | None = None,
) -> tuple[list[str], list[str]]:
    """Embed and write again briefs the manifest lists (doc id → its files), whatever
    the store holds of them. The caller holds the ingest lock.

    A brief is read back from the first of its files that still holds the same text.
    Returns the doc ids rewritten and those no file could restore (their manifest record
    is kept: it is the only trace of what the index should hold).
    """
    jobs: list[_Job] = []
    lost: list[str] = []
    for doc_id, files in sources.items():
        brief = next((b for b in map(_reload, files) if b and b.doc_id == doc_id), None)
        if brief is None:
            lost.append(doc_id)
        else:
            jobs.append(_Job(brief, list(files), [True] * len(files)))
    report = IngestReport()
    _index(jobs, embedder, settings, manifest, store, sentences, report)
    failed = {e.path for e in report.errors}
    lost += [j.brief.doc_id for j in jobs if any(s.path in failed for s in j.sources)]
    return [j.brief.doc_id for j in jobs if j.brief.doc_id not in lost], lost


def _reload(source: Source) -> Brief | None:
    try:
        return load_brief(Path(source.path))
    except DocumentError:
        return None


def _index(
    jobs: list[_Job],
    embedder: Callable[[], Embedder],
    settings: Settings,
    manifest: Manifest,
    store: VectorStore,
    sentences: SentenceVectors | None,
    report: IngestReport,
    progress: Progress | None = None,
) -> None:
    """Chunk, embed and write the briefs of ``jobs``, committing each group."""
    model = embedder() if jobs else None
    for job in jobs:
        assert model is not None
        job.chunks = chunk_brief(
            job.brief,
            model.count_tokens,
            max_tokens=model.max_tokens,
            target_tokens=settings.chunk_tokens,
            overlap_tokens=settings.chunk_overlap_tokens,
        )
    total = sum(len(job.chunks) for job in jobs)
    if progress:
        progress(0, total)

    # Encode group N+1 while group N is written, so the store's write time hides behind
    # the encoder, which is the real limit of ingestion speed.
    done = 0
    # Several model batches per write, so that each write's fixed cost is shared.
    group_size = 8 * getattr(model, "batch_size", 64)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="briefqa-write") as writer:
        in_flight: Future[None] | None = None
        for group in _groups(jobs, group_size):
            assert model is not None
            size = sum(len(job.chunks) for job in group)
            embedded = _embed(model, group, report, want_sentences=sentences is not None)
            if embedded is not None:
                ok, chunks, vectors, parts = embedded
                if in_flight is not None:
                    in_flight.result()
                in_flight = writer.submit(
                    _write, ok, chunks, vectors, parts, manifest, store, sentences, report
                )
            done += size
            if progress:
                progress(done, total)
        if in_flight is not None:
            in_flight.result()


def _plan(files: Sequence[Path], manifest: Manifest, report: IngestReport) -> list[_Job]:
    """Sort files into unchanged ones and briefs to (re-)index.

    Every file gets one outcome: a file known at its path with other bytes counts as
    updated, whatever its new content is; a new file adds its brief, or is unchanged
    when its brief is already indexed or already added by another file (a copy).
    Files of briefs to index are counted once their brief is written (or has failed).
    """
    jobs: dict[str, _Job] = {}
    for path in files:
        key = str(path)
        known = manifest.source(key)
        if known is not None:
            # The cheap check: unchanged bytes are skipped without parsing.
            try:
                sha = _sha256(path)
            except OSError as exc:
                _fail(report, key, f"cannot read the file: {exc.strerror or exc}")
                continue
            if known.sha256 == sha:
                report.unchanged += 1
                continue
        try:
            brief = load_brief(path)
        except DocumentError as exc:
            _fail(report, key, exc.reason)
            continue
        # The loader's hash is of the very bytes it parsed.
        source = Source(key, brief.doc_id, brief.sha256)
        if manifest.has_brief(brief.doc_id):
            # Same text as a brief already indexed (a copy, or only the bytes changed):
            # point the file at it and embed nothing.
            manifest.point(source)
            if known is not None:
                report.updated += 1
            else:
                report.unchanged += 1
        elif brief.doc_id in jobs:
            jobs[brief.doc_id].sources.append(source)
            jobs[brief.doc_id].known.append(known is not None)
        else:
            jobs[brief.doc_id] = _Job(brief, [source], [known is not None])
    return list(jobs.values())


_Embedded = tuple[list[_Job], list[Chunk], Vectors, list[Vectors] | None]


def _embed(
    model: Embedder, group: list[_Job], report: IngestReport, *, want_sentences: bool
) -> _Embedded | None:
    """Embed a group's chunks (and their sentences, when the model can in the same pass);
    on failure retry brief by brief, so that only the briefs that fail on their own fail.
    Returns the briefs embedded, their chunks, vectors and sentence vectors (None if no
    brief was embedded)."""
    with_spans = getattr(model, "embed_with_spans", None) if want_sentences else None

    def encode(chunks: list[Chunk]) -> tuple[Vectors, list[Vectors] | None]:
        texts = [c.embedding_text for c in chunks]
        if with_spans is None:
            return model.embed(texts), None
        # A chunk's sentences sit after its heading line in the text the model reads.
        spans = [
            [
                (a + len(t) - len(c.text), b + len(t) - len(c.text))
                for a, b in sentence_spans(c.text)
            ]
            for c, t in zip(chunks, texts, strict=True)
        ]
        vectors, parts = with_spans(texts, spans)
        return vectors, parts

    chunks = [c for job in group for c in job.chunks]
    try:
        return (group, chunks, *encode(chunks))
    except BriefQAError as exc:
        if len(group) == 1:
            _fail_job(report, group[0], str(exc))
            return None
    ok: list[_Job] = []
    vectors: list[Vectors] = []
    sentence_parts: list[Vectors] | None = [] if with_spans is not None else None
    for job in group:
        try:
            job_vectors, job_parts = encode(job.chunks)
        except BriefQAError as exc:
            _fail_job(report, job, str(exc))
            continue
        ok.append(job)
        vectors.append(job_vectors)
        if sentence_parts is not None and job_parts is not None:
            sentence_parts += job_parts
    if not ok:
        return None
    return ok, [c for job in ok for c in job.chunks], np.concatenate(vectors), sentence_parts


def _groups(jobs: list[_Job], size: int) -> Iterator[list[_Job]]:
    group: list[_Job] = []
    count = 0
    for job in jobs:
        group.append(job)
        count += len(job.chunks)
        if count >= size:
            yield group
            group, count = [], 0
    if group:
        yield group


def _write(
    group: list[_Job],
    chunks: list[Chunk],
    vectors: Vectors,
    sentence_vectors: list[Vectors] | None,
    manifest: Manifest,
    store: VectorStore,
    sentences: SentenceVectors | None,
    report: IngestReport,
) -> None:
    ids = [c.chunk_id for c in chunks]
    manifest.add_pending(ids)  # before the store sees them: a crash leaves no orphans
    if sentences is not None and sentence_vectors is not None:
        sentences.put(ids, sentence_vectors)
    store.upsert(chunks, vectors)
    orphaned = manifest.commit(
        [(job.brief, [c.chunk_id for c in job.chunks], job.sources) for job in group]
    )
    if orphaned:  # the replaced versions' chunks: the only ids pending now
        flush_pending(manifest, store, sentences)
    for job in group:
        added = False
        for known in job.known:
            if known:
                report.updated += 1
            elif not added:
                report.added += 1
                added = True
            else:
                report.unchanged += 1  # a copy of the brief just added
    report.chunks += len(chunks)


def _fail(report: IngestReport, path: str, reason: str) -> None:
    report.errors.append(IngestError(path, reason))


def _fail_job(report: IngestReport, job: _Job, reason: str) -> None:
    """A brief that could not be indexed: every file it was read from fails."""
    for source in job.sources:
        _fail(report, source.path, reason)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
