"""Incremental, crash-safe ingestion of briefs into an :class:`~briefqa.index.directory.Index`.

For each file: unchanged bytes are skipped without parsing; new or changed briefs are
chunked, embedded in full batches across briefs, written to the store, and then
committed to the manifest; manifest.py describes the crash-safety protocol.

Uploads (:func:`add_upload`) are staged under ``data_dir/uploads`` and ingested the
same way.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import hashlib
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np

from ..errors import BriefQAError, DocumentError, FileTooLarge, StoreError, full_disk
from ..readers import READER_VERSION, SUPPORTED_SUFFIXES, brief_format
from ..schema import Brief, Chunk, IngestError, IngestReport
from ..text import sentence_spans
from .chunking import chunk_brief
from .copies import brief_fingerprint, merged, preference
from .directory import Index
from .embeddings import BatchedEmbedder, Embedder, SpanEmbedder, Vectors
from .isolation import ParseLimits, read_brief
from .manifest import Manifest, Source
from .uploads import UPLOAD_KEY

#: Called as ``progress(chunks_done, chunks_total)`` while embedding; the total grows
#: as each batch of files is read.
Progress = Callable[[int, int], None]

#: Files planned and written per turn: a long ingest lets waiting writers in between
#: batches, which are large enough that encoding still overlaps writing.
_BATCH = 32

log = logging.getLogger("briefqa.index.ingest")

#: Returns the embedding model; called only when something needs embedding, so that a
#: re-ingest of an unchanged corpus never loads the model.
EmbedderFactory = Callable[[], Embedder]


@dataclass
class _Job:
    brief: Brief
    sources: list[Source]
    #: Per source: the path was indexed before with other bytes (counted as updated), is
    #: new (added, or unchanged as a copy), or None: a file read again only to regroup
    #: the copies of a brief whose text-holding file changed (not counted).
    known: list[bool | None]
    chunks: list[Chunk] = field(default_factory=list)
    signature: np.ndarray | None = None
    #: Stored briefs whose text this one replaces: their other files are carried over.
    replaces: list[str] = field(default_factory=list)
    #: Files of the replaced briefs, re-pointed at this one and not counted.
    carried: list[Source] = field(default_factory=list)
    #: A new version of the file a stored brief's text was read from: its text is kept
    #: whatever the preference rule says.
    revised: bool = False


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


def run_ingest(
    paths: Iterable[str | Path],
    index: Index,
    *,
    embedder: EmbedderFactory,
    prune: bool = False,
    progress: Progress | None = None,
    parsed: dict[str, Brief] | None = None,
) -> IngestReport:
    """Bring the index in step with the given files, holding its ingest lock.

    Files are parsed in a child process within the settings' parse limits
    (:mod:`briefqa.index.isolation`); ``parsed`` holds briefs the caller has parsed already, by
    resolved path, so that an upload is parsed once.

    Raises:
        IndexLocked: another writer held the data directory for all of ``lock_wait_s``.
        ConfigError: the index was built with other settings (see
            :meth:`Index.check_compatible`).
        StoreError: the vector store failed.
    """
    paths = list(paths)  # read twice: the files, then what --prune may judge
    with index.ingest_lock():
        index.check_compatible(record=True)
        started = time.perf_counter()
        report = IngestReport()
        index.flush_pending()  # leftovers of an interrupted run

        files, report.errors = expand_paths(paths)
        manifest = index.manifest
        # Readers that changed since the index was built: every file is read again
        # (in one batch: the re-read covers every file the manifest lists).
        recorded = manifest.get_meta("reader_version")
        stale = recorded != READER_VERSION and bool(manifest.sources())
        read = _reader(ParseLimits.of(index.settings), parsed or {}, index.key)
        batches = (
            [files] if stale else [files[i : i + _BATCH] for i in range(0, len(files), _BATCH)]
        )
        counted = _Cumulative(progress) if progress else None
        for number, batch in enumerate(batches or [[]]):
            if number:
                index.give_way()  # uploads waiting meanwhile go first
            jobs = _plan(batch, index, report, read, reread=stale)
            _index(jobs, index, embedder, report, counted)
            if counted:
                counted.next_batch()
        if prune:
            # With the index in a database, a file missing here may be another host's:
            # only the files under what this run was given are its to judge.
            given = [Path(p).resolve() for p in paths] if index.uploads is not None else None
            for source in manifest.sources():
                if _under(source.path, given) and not index.has_file(source.path):
                    dropped, _ = manifest.remove_source(source.path)
                    report.removed += dropped is not None
        index.flush_pending()
        if recorded != READER_VERSION:
            if stale:
                _warn_unread(index)
            manifest.set_meta("reader_version", READER_VERSION)
        report.failed = len(report.errors)
        report.seconds = time.perf_counter() - started
        return report


def _warn_unread(index: Index) -> None:
    """Files a re-read with new readers could not reach on this host (another host's
    folder, or a file deleted but not pruned) keep what the older readers made of them
    until they change: say so, once, rather than re-read at every ingest."""
    unread = [s.path for s in index.manifest.sources() if index.file(s.path) is None]
    if unread:
        log.warning(
            "%d indexed file(s) could not be read again with the new readers here (%s…): "
            "they keep their text until they change; run `briefqa ingest` where they are",
            len(unread),
            unread[0],
        )


def _under(key: str, given: Sequence[Path] | None) -> bool:
    """Whether a listed file is one of ``given`` or inside one of them (None: any file)."""
    if given is None:
        return True
    if key.startswith(UPLOAD_KEY):
        return False  # uploads leave through removal, not a folder's pruning
    path = Path(key)
    return any(path == g or path.is_relative_to(g) for g in given)


class _Cumulative:
    """Progress over several batches, each reported from 0 by :func:`_index`."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._before = self._current = 0

    def __call__(self, done: int, total: int) -> None:
        self._current = total
        self._progress(self._before + done, self._before + total)

    def next_batch(self) -> None:
        self._before += self._current
        self._current = 0


def reindex(
    sources: dict[str, list[Source]], index: Index, *, embedder: EmbedderFactory
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
        limits = ParseLimits.of(index.settings)
        brief = next(
            (b for b in (_reload(index, f, limits) for f in files) if b and b.doc_id == doc_id),
            None,
        )
        if brief is None:
            lost.append(doc_id)
            continue
        # What other copies gave the brief (a date its web page declares) stays.
        info = index.manifest.brief(doc_id)
        brief = merged(brief, [info] if info else [])
        jobs.append(_Job(brief, list(files), [True] * len(files)))
    report = IngestReport()
    _index(jobs, index, embedder, report)
    failed = {e.path for e in report.errors}
    lost += [j.brief.doc_id for j in jobs if any(s.path in failed for s in j.sources)]
    return [j.brief.doc_id for j in jobs if j.brief.doc_id not in lost], lost


def _reload(index: Index, source: Source, limits: ParseLimits) -> Brief | None:
    local = index.file(source.path)
    if local is None:
        return None
    try:
        return dataclasses.replace(read_brief(local, limits), source=source.path)
    except DocumentError:
        return None


def _index(
    jobs: list[_Job],
    index: Index,
    embedder: EmbedderFactory,
    report: IngestReport,
    progress: Progress | None = None,
) -> None:
    """Chunk, embed and write the briefs of ``jobs``, committing each group."""
    if not jobs:
        if progress:
            progress(0, 0)
        return
    model = embedder()
    settings = index.settings
    for job in jobs:
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
    group_size = 8 * (model.batch_size if isinstance(model, BatchedEmbedder) else 64)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="briefqa-write") as writer:
        in_flight: Future[None] | None = None
        for group in _groups(jobs, group_size):
            size = sum(len(job.chunks) for job in group)
            embedded = _embed(model, group, report)
            if embedded is not None:
                if in_flight is not None:
                    in_flight.result()
                # In this context: the writer's hold of the lock goes with the write.
                run = contextvars.copy_context().run
                in_flight = writer.submit(run, _write, index, embedded, report)
            done += size
            if progress:
                progress(done, total)
        if in_flight is not None:
            in_flight.result()


def _changed(
    files: Sequence[Path], index: Index, report: IngestReport, *, reread: bool
) -> list[tuple[Path, bool | None]]:
    """The files to read, each with whether the manifest knows it (None: one it lists
    that was not given, read again because the readers changed); files with unchanged
    bytes are counted in ``report`` and left out."""
    manifest = index.manifest
    changed: list[tuple[Path, bool | None]] = []
    for path in files:
        key = index.key(path)
        listed = manifest.source(key)
        if listed is not None:
            # The cheap check: unchanged bytes are skipped without parsing.
            try:
                sha = _sha256(path)
            except OSError as exc:
                _fail(report, key, f"cannot read the file: {exc.strerror or exc}")
                continue
            if listed.sha256 == sha and not reread:
                report.unchanged += 1
                continue
        changed.append((path, listed is not None))
    if reread:
        given = {index.key(path) for path, _ in changed}
        for s in manifest.sources():
            local = index.file(s.path) if s.path not in given else None
            if local is not None:  # a file that is there (Index.file)
                changed.append((local, None))
    return changed


def _plan(
    files: Sequence[Path],
    index: Index,
    report: IngestReport,
    read: Callable[[Path], Brief],
    *,
    reread: bool = False,
) -> list[_Job]:
    """Sort files into unchanged ones and briefs to (re-)index.

    Every file gets one outcome: a file known at its path with other bytes counts as
    updated, whatever its new content is; a new file adds its brief, or is unchanged
    when its brief is already indexed or already added by another file (a copy, exact
    or near: see :mod:`briefqa.index.copies`). Files of briefs to index are counted once their
    brief is written (or has failed).

    Decisions are taken against the manifest as it was, plus this run's own decisions:
    a stored brief this run replaces or drops is never the target of another file. With
    ``reread`` (the readers changed), every file the manifest lists is read again.
    """
    manifest = index.manifest
    changed = _changed(files, index, report, reread=reread)
    if not changed:
        return []
    parsed = _parse(changed, report, read, index.key)
    moving = {index.key(path) for path, _ in changed}
    copies, stored = index.copies()
    # A brief whose text-holding file now holds other text is regrouped: its other
    # files are read again (uncounted), and each goes with whichever brief it now copies.
    now = {index.key(path): brief.doc_id for path, _, brief in parsed}
    regrouped = {c.doc_id for c in stored.values() if now.get(c.origin, c.doc_id) != c.doc_id}
    again: list[tuple[Path, bool | None]] = []
    for doc_id in sorted(regrouped):
        copies.discard(doc_id)
        for listed in manifest.sources_of(doc_id):
            local = index.file(listed.path) if listed.path not in moving else None
            if local is not None:
                again.append((local, None))
                moving.add(listed.path)
    parsed += _parse(again, report, read, index.key)
    origins = {c.origin for c in stored.values() if c.doc_id in regrouped}

    jobs: dict[str, _Job] = {}
    replaced: dict[str, str] = {}  # stored doc id -> the planned brief that replaces it
    points: list[tuple[Source, bool | None]] = []  # files of stored briefs kept as they are
    for path, known, brief in parsed:
        key = index.key(path)
        # The loader's hash is of the very bytes it parsed.
        source = Source(key, brief.doc_id, brief.sha256)
        target = replaced.get(brief.doc_id, brief.doc_id)
        if target in jobs:
            _join(jobs[target], source, known)
            continue
        if brief.doc_id not in regrouped and manifest.has_brief(brief.doc_id):
            # Same text as a stored brief (a copy, or only the bytes changed).
            points.append((source, known))
            continue
        signature = brief_fingerprint(brief)
        job = _Job(brief, [source], [known], signature=signature, revised=key in origins)
        match = copies.nearest(signature, len(brief.text))
        if match is not None and match[0] in jobs:
            kept = _keep(jobs.pop(match[0]), job)
            copies.discard(match[0])
            replaced.update({old: kept.brief.doc_id for old in kept.replaces})
        elif match is not None and match[0] in stored:
            record = stored[match[0]]
            if _rank(job) <= (False, *preference(record.format, record.length)):
                # The stored copy's text stays; this file becomes one more of its sources.
                points.append((Source(key, record.doc_id, brief.sha256), known))
                manifest.fill_metadata(
                    record.doc_id, number=brief.number, date=brief.date, authors=brief.authors
                )
                continue
            # This copy's text replaces the stored one's (a preferred format).
            info = manifest.brief(record.doc_id)
            job.brief = merged(brief, [info] if info else [])
            job.replaces = [record.doc_id]
            copies.discard(record.doc_id)
            replaced[record.doc_id] = brief.doc_id
            kept = job
        else:
            kept = job
        jobs[kept.brief.doc_id] = kept
        assert kept.signature is not None  # every planned job has its fingerprint
        copies.add(kept.brief.doc_id, kept.signature, len(kept.brief.text))

    for source, known in points:
        replacement = replaced.get(source.doc_id)
        if replacement is not None:  # its brief was replaced after this file was seen
            _join(jobs[replacement], source, known)
        else:
            _point(manifest, source, known, report)
    for job in jobs.values():
        # The replaced briefs' files that this run did not read again follow their text.
        job.carried = [
            Source(s.path, job.brief.doc_id, s.sha256)
            for old in job.replaces
            for s in manifest.sources_of(old)
            if s.path not in moving
        ]
    return list(jobs.values())


def _reader(
    limits: ParseLimits, parsed: dict[str, Brief], key: Callable[[Path], str]
) -> Callable[[Path], Brief]:
    """How this run reads a file: the brief parsed already, else within ``limits``; its
    source is the name the manifest lists the file under (``key``)."""

    def read(path: Path) -> Brief:
        done = parsed.get(str(path.resolve()))
        return dataclasses.replace(
            done if done is not None else read_brief(path, limits), source=key(path)
        )

    return read


def _parse(
    files: list[tuple[Path, bool | None]],
    report: IngestReport,
    read: Callable[[Path], Brief],
    key: Callable[[Path], str],
) -> list[tuple[Path, bool | None, Brief]]:
    """Read the files; one that cannot be read fails (named by its ``key``), the others
    go on."""
    parsed = []
    for path, known in files:
        try:
            parsed.append((path, known, read(path)))
        except DocumentError as exc:
            _fail(report, key(path), exc.reason)
    return parsed


def _join(job: _Job, source: Source, known: bool | None) -> None:
    """One more file of a planned brief."""
    job.sources.append(Source(source.path, job.brief.doc_id, source.sha256))
    job.known.append(known)


def _rank(job: _Job) -> tuple[bool, int, int]:
    return (job.revised, *preference(job.brief.format, len(job.brief.text)))


def _keep(planned: _Job, new: _Job) -> _Job:
    """Two copies of one brief in one run: the preferred one's text, both's files."""
    first, second = (new, planned) if _rank(new) > _rank(planned) else (planned, new)
    doc_id = first.brief.doc_id
    return _Job(
        merged(first.brief, [second.brief]),
        first.sources + [Source(s.path, doc_id, s.sha256) for s in second.sources],
        first.known + second.known,
        signature=first.signature,
        replaces=first.replaces + second.replaces,
        revised=first.revised or second.revised,
    )


def _point(manifest: Manifest, source: Source, known: bool | None, report: IngestReport) -> None:
    manifest.point(source)
    if known:
        report.updated += 1
    elif known is not None:
        report.unchanged += 1


@dataclass
class _Embedded:
    """A group's briefs that were embedded, their chunks, and the chunks' vectors and
    (when the model gives them) sentence vectors."""

    jobs: list[_Job]
    chunks: list[Chunk]
    vectors: Vectors
    sentences: list[Vectors] | None


def _embed(model: Embedder, group: list[_Job], report: IngestReport) -> _Embedded | None:
    """Embed a group's chunks (and their sentences, when the model can in the same pass);
    on failure retry brief by brief, so that only the briefs that fail on their own fail.
    Returns None if no brief was embedded."""
    with_spans = isinstance(model, SpanEmbedder)

    def encode(chunks: list[Chunk]) -> tuple[Vectors, list[Vectors] | None]:
        texts = [c.embedding_text for c in chunks]
        if not isinstance(model, SpanEmbedder):
            return model.embed(texts), None
        # A chunk's sentences sit after its heading line in the text the model reads.
        spans = [
            [
                (a + len(t) - len(c.text), b + len(t) - len(c.text))
                for a, b in sentence_spans(c.text)
            ]
            for c, t in zip(chunks, texts, strict=True)
        ]
        vectors, parts = model.embed_with_spans(texts, spans)
        return vectors, parts

    chunks = [c for job in group for c in job.chunks]
    try:
        return _Embedded(group, chunks, *encode(chunks))
    except BriefQAError as exc:
        if len(group) == 1:
            _fail_job(report, group[0], str(exc))
            return None
    ok: list[_Job] = []
    vectors: list[Vectors] = []
    sentence_parts: list[Vectors] | None = [] if with_spans else None
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
    chunks = [c for job in ok for c in job.chunks]
    return _Embedded(ok, chunks, np.concatenate(vectors), sentence_parts)


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


def _write(index: Index, embedded: _Embedded, report: IngestReport) -> None:
    manifest = index.manifest
    ids = [c.chunk_id for c in embedded.chunks]
    manifest.add_pending(ids)  # before the store sees them: a crash leaves no orphans
    if embedded.sentences is not None:
        index.sentences.put(ids, embedded.sentences)
    index.store.upsert(embedded.chunks, embedded.vectors)
    orphaned = manifest.commit(
        [
            (job.brief, [c.chunk_id for c in job.chunks], job.sources + job.carried)
            for job in embedded.jobs
        ],
        {
            job.brief.doc_id: job.signature.tobytes()
            for job in embedded.jobs
            if job.signature is not None
        },
    )
    if orphaned:  # the replaced versions' chunks: the only ids pending now
        index.flush_pending()
    for job in embedded.jobs:
        added = False
        for known in job.known:
            if known is None:
                continue  # read again to regroup copies: not a change of its own
            if known:
                report.updated += 1
            elif not added:
                report.added += 1
                added = True
            else:
                report.unchanged += 1  # a copy of the brief just added
    report.chunks += len(embedded.chunks)


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


# ------------------------------------------------------------------- uploads


def add_upload(index: Index, filename: str, data: bytes, *, embedder: EmbedderFactory) -> str:
    """Keep an uploaded brief under ``data_dir/uploads`` and index it; returns its doc id.

    The file lands in a folder named by the hash of its bytes, under its
    :func:`safe_filename`, so an upload can never write outside the data directory, and
    two different files with the same name are both kept. Uploading the same bytes again
    (even at the same moment) indexes them once.

    Raises:
        FileTooLarge: the file exceeds ``max_upload_mb``.
        UnsupportedFormat: the name's suffix has no reader.
        DocumentError: the file cannot be parsed; nothing is kept.
        IndexLocked: another writer held the data directory for all of
            ``lock_wait_s``; nothing is kept.
        DiskFull: the disk is full; nothing is kept.
    """
    name = safe_filename(filename)
    # The one size check of every surface: the REST API and the chat pass what they
    # received (reading at most one byte past the limit), the gate only bounds requests.
    if len(data) > index.settings.max_upload_bytes:
        raise FileTooLarge(
            name,
            f"the file is over the {index.settings.max_upload_mb:g} MB limit "
            "(BRIEFQA_MAX_UPLOAD_MB)",
        )
    brief_format(name)  # an unreadable type is refused before anything is written
    uploads = index.data_dir / "uploads"
    folder = uploads / hashlib.sha256(data).hexdigest()[:16]
    target = folder / name
    key = index.key(target.resolve())
    known = index.manifest.source(key) if index.has_file(key) else None
    if known is not None:  # these very bytes, under this name, are indexed already
        return known.doc_id
    # Written aside first, per process and thread: workers sharing the data dir may
    # receive the same upload at once and must not write into each other's file. The
    # name keeps its suffix, which tells the loader the format.
    incoming = uploads / ".incoming" / f".{os.getpid()}-{threading.get_ident()}"
    incoming.mkdir(parents=True, exist_ok=True)
    partial = incoming / name
    try:
        try:
            partial.write_bytes(data)
        except OSError as exc:
            raise full_disk(str(uploads), exc) or StoreError(
                f"cannot keep the upload in {uploads}: {exc}"
            ) from exc
        # Parsed once, before queueing for the index: a broken file is refused at once,
        # not after every upload ahead of it has been embedded.
        try:
            brief = read_brief(partial, ParseLimits.of(index.settings))
        except DocumentError as exc:
            raise type(exc)(name, exc.reason) from None
        with index.ingest_lock():
            folder.mkdir(parents=True, exist_ok=True)
            os.replace(partial, target)  # never a half-written brief under its name
            if index.uploads is not None:  # before the manifest lists it: any worker reads it
                index.uploads.keep(key, data)
            parsed = {str(target.resolve()): brief}
            try:
                report = run_ingest([target], index, embedder=embedder, parsed=parsed)
            except BaseException:
                # The store or the disk failed mid-way: a file no brief lists must not
                # stay in uploads/, where nothing would ever index or mention it.
                _drop_unlisted(index, target)
                raise
            if report.errors:
                _drop_unlisted(index, target)
    finally:
        partial.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            incoming.rmdir()
    if report.errors:
        raise DocumentError(name, report.errors[0].error)
    source = index.manifest.source(key)
    assert source is not None
    return source.doc_id


_UNSAFE = re.compile(r"[^\w.() -]+")


def safe_filename(filename: str) -> str:
    """The last path component of ``filename``, cleaned of anything but letters, digits
    and ``. _ - ( )`` for use as a file name.

    "../../etc/passwd.txt" and "C:\\x\\..\\brief.pdf" become "passwd.txt" and
    "brief.pdf"; a name that cleans to nothing raises :class:`DocumentError`.
    """
    last = PurePosixPath(filename.replace("\\", "/")).name
    cleaned = _UNSAFE.sub("_", last).strip(" .")
    if not cleaned or cleaned.startswith("."):
        raise DocumentError(filename[:80] or "(no name)", "the upload has no usable file name")
    # File systems allow 255 bytes a name, and the partial file's name adds a prefix:
    # a long stem is cut, in bytes and at a character boundary; the suffix is kept.
    path = PurePosixPath(cleaned)
    suffix = path.suffix if len(path.suffix) <= 10 else ""
    stem = cleaned[: len(cleaned) - len(suffix)]
    stem = stem.encode()[: 150 - len(suffix.encode())].decode(errors="ignore").rstrip(" .")
    return (stem or "upload") + suffix


def _drop_unlisted(index: Index, target: Path) -> None:
    """Delete an upload that no brief lists (when the manifest cannot say, it stays, and
    ``briefqa check`` lists it if it is unlisted)."""
    key = index.key(target.resolve())
    try:
        if index.manifest.source(key) is not None:
            return
        if index.uploads is not None:
            index.uploads.drop(key)
    except Exception:  # the manifest or the database may be what failed
        return
    target.unlink(missing_ok=True)
    _remove_empty(target.parent)


def _remove_empty(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not empty: another upload shares the folder
        folder.rmdir()
