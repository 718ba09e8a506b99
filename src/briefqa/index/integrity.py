"""Checking that the manifest, the vector store and the files beside them agree.

The manifest says which chunks the index should hold; the store holds what was written.
After a crash, a disk problem or a hand edit they can disagree in a few ways, and
:func:`check_index` names each:

- **missing**: listed by a brief in the manifest, absent from the store (answers lose it);
- **orphaned**: in the store, listed by no brief (answers cite text no brief owns);
- **duplicated**: a chunk listed twice, or one passage stored under two ids;
- **damaged**: stored text or metadata that no longer hashes to its content-derived id;
- **damaged sentences**: sentence vectors whose bytes no longer match their checksum;
- **pending**: ids an interrupted ingest left for deletion;
- **stray**: sentence vectors of unknown chunks, a BM25 index saved for the current
  generation that lists other chunks or whose files no longer match their hashes,
  partial files of processes that died, uploads no brief lists (a write that failed).

``repair`` fixes what it can without losing anything stored: missing and damaged chunks,
and chunks with damaged sentence vectors, are embedded again from their brief's source
file (the manifest's record of the brief is
kept either way), orphans and strays are deleted.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sqlite3
import time
from collections import Counter
from pathlib import Path

from ..database import set_aside
from ..errors import DataDamaged, StoreError, UnknownSchema, full_disk
from ..schema import Chunk, IndexCheck
from ..settings import Settings
from .bm25 import LexicalIndex
from .chunking import chunk_id
from .directory import Index
from .ingest import EmbedderFactory, reindex
from .manifest import INDEX_TABLES, REBUILD, Source
from .store import ChromaStore, store_from_settings
from .uploads import UPLOAD_KEY, PostgresUploads, upload_copy

# A partial file's name carries the pid of the process writing it: uploads are written
# into ".incoming/.<pid>-<thread>/<name>", BM25 indexes as ".partial-<pid>-<thread>".
_PARTIAL = re.compile(r"^\.(?:(\d+)-\d+(?:\..+)?|partial-(\d+)-\d+)$")
_STALE_S = 3600.0  # a partial file this old is stray whoever wrote it
_DEAD_STALE_S = 600.0  # and one of a process that is gone, this old


def check_index(index: Index, *, embedder: EmbedderFactory, repair: bool = False) -> IndexCheck:
    """Compare manifest, store and side files; with ``repair``, fix and check again.

    It holds the index's ingest lock, so no ingest changes the index meanwhile.
    ``embedder`` is called only if a repair has briefs to embed again.

    Raises:
        IndexLocked: another writer held the data directory for all of ``lock_wait_s``.
        ConfigError: the index belongs to other settings or another manifest.
        StoreError: the vector store failed.
    """
    with index.ingest_lock():
        # A repair embeds: it must chunk like the index was built (record checks that).
        index.check_compatible(record=repair)
        found = _inspect(index)
        if not repair or found.consistent:
            return found
        return _repair(index, found, embedder)


def _repair(index: Index, found: IndexCheck, embedder: EmbedderFactory) -> IndexCheck:
    repaired: dict[str, int] = {}
    for path in found.damaged_files:  # only derived files: made again below
        index.close_sentences()
        _set_aside(Path(path))
        repaired["files_set_aside"] = repaired.get("files_set_aside", 0) + 1
    manifest, store, sentences = index.manifest, index.store, index.sentences
    # Briefs first: re-embedding writes their chunks under the ids the manifest lists.
    lost = set(found.missing) | set(found.damaged) | set(found.damaged_sentences)
    owners = manifest.chunk_owners()
    broken = sorted({doc for cid in lost for doc in owners.get(cid, ())})
    # Damaged chunks are not deleted first: rewriting them under their ids fixes them,
    # and if no file can restore their brief, a damaged chunk is better than none.
    if broken:
        files: dict[str, list[Source]] = {doc: [] for doc in broken}
        for source in manifest.sources():  # read once, not once per brief
            if source.doc_id in files:
                files[source.doc_id].append(source)
        restored, unrecoverable = reindex(files, index, embedder=embedder)
        repaired["briefs_reindexed"] = len(restored)
        found.unrecoverable = unrecoverable
    if found.duplicated:
        repaired["listings_deduplicated"] = manifest.dedupe_chunk_ids()
    if found.pending:
        repaired["pending_cleared"] = index.flush_pending()

    # Whatever no brief lists now (stale versions, leftovers) is deleted.
    listed = set(manifest.chunk_ids())
    orphaned = sorted(set(store.ids()) - listed)
    if orphaned:
        store.delete(orphaned)
        repaired["orphans_deleted"] = len(orphaned)
    stray = sorted(set(sentences.ids()) - listed)
    if stray:
        sentences.delete(stray)
        repaired["sentence_rows_deleted"] = len(stray)
    for path in found.stray_files:
        target = Path(path)
        if path.startswith(UPLOAD_KEY) and index.uploads is not None:
            index.uploads.drop(path)
        elif target.is_dir():
            shutil.rmtree(target, ignore_errors=True)
        else:
            target.unlink(missing_ok=True)
    if found.stray_files:
        repaired["files_deleted"] = len(found.stray_files)

    after = _inspect(index)
    after.repaired = {kind: n for kind, n in repaired.items() if n}
    after.unrecoverable = found.unrecoverable
    return after


def _inspect(index: Index) -> IndexCheck:
    manifest, store = index.manifest, index.store
    owners = manifest.chunk_owners()
    listings = Counter({cid: len(docs) for cid, docs in owners.items()})
    listed = set(owners)
    pending = set(manifest.pending())

    # A sentence-vector file damaged as a whole cannot even be listed: every listed
    # chunk's vectors count as damaged, and repair makes them again.
    vectors_file = index.data_dir / "sentences.sqlite3"
    try:
        # (In a database, a file left here from before is not the index's.)
        sound = index.settings.database_url is not None or _sound(vectors_file)
        sentences = index.sentences if sound else None
    except UnknownSchema:  # another program's file, or a newer briefqa's
        sentences = None

    stored: dict[str, Chunk] = {c.chunk_id: c for c in store.scan()}
    # Only listed chunks count as damaged: an unlisted one is an orphan whatever it holds.
    damaged = sorted(cid for cid in listed & set(stored) if not _intact(stored[cid]))
    by_passage = Counter((c.doc_id, c.start, c.end) for c in stored.values())
    duplicated = {cid for cid, n in listings.items() if n > 1}
    duplicated |= {
        c.chunk_id for c in stored.values() if by_passage[(c.doc_id, c.start, c.end)] > 1
    }
    check = IndexCheck(
        briefs=len(manifest.briefs()),
        chunks=len(listed),
        stored=len(stored),
        missing=sorted(listed - set(stored)),
        # Pending ids are known leftovers, reported as such and not twice.
        orphaned=sorted(set(stored) - listed - pending),
        duplicated=sorted(duplicated),
        damaged=damaged,
        pending=sorted(pending),
        stray_sentences=len(set(sentences.ids()) - listed - pending) if sentences else 0,
        damaged_sentences=(
            [cid for cid in sentences.damaged() if cid in listed] if sentences else sorted(listed)
        ),
        damaged_files=[] if sentences else [str(vectors_file)],
        stray_files=_stray_files(index, listed),
        near_duplicates=index.copies()[0].pairs(),
    )
    return check


def _intact(chunk: Chunk) -> bool:
    """Does the stored chunk still hash to its id?"""
    return chunk.chunk_id == chunk_id(chunk.doc_id, chunk.start, chunk.text) and (
        chunk.end - chunk.start == len(chunk.text)
    )


def _stray_files(index: Index, listed: set[str]) -> list[str]:
    """Partial files of dead processes, uploads no brief lists (files, and bytes kept in
    the database as ``upload:…``), and a saved BM25 index that does not match."""
    data_dir, manifest = index.data_dir, index.manifest
    stray: list[str] = []
    for folder in (data_dir / "uploads", data_dir / "bm25"):
        if not folder.is_dir():
            continue
        for path in folder.rglob(".*"):
            match = _PARTIAL.match(path.name)
            if match is None:
                continue
            # A pid alone can mislead (reused after a restart, or another container's),
            # and an upload may wait its turn for minutes: only old partials are stray.
            age = time.time() - path.stat().st_mtime
            dead = not _alive(int(match.group(1) or match.group(2)))
            if age > _STALE_S or (dead and age > _DEAD_STALE_S):
                stray.append(str(path))
    # An upload no brief lists was left by a write that failed before its brief committed.
    uploads = data_dir / "uploads"
    sources = {s.path for s in manifest.sources()}
    # With the database, this worker's files are copies of what the database keeps.
    if uploads.is_dir() and index.uploads is None:
        for path in uploads.rglob("*"):
            hidden = any(p.startswith(".") for p in path.relative_to(uploads).parts)
            if not hidden and path.is_file() and index.key(path.resolve()) not in sources:
                stray.append(str(path))
    if index.uploads is not None:
        stray += sorted(index.uploads.keys() - sources)
    # The BM25 index saved for the current generation must list exactly the chunks.
    saved = data_dir / "bm25" / f"gen-{manifest.generation()}"
    if saved.is_dir():
        try:
            rows = LexicalIndex.saved_chunk_ids(saved)
        except (OSError, ValueError):
            rows = set()
        if rows != listed or LexicalIndex.damaged(saved):
            stray.append(str(saved))  # repair deletes it; the next question rebuilds it
    return sorted(stray)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


# ------------------------------------------------------ damaged files, a full disk

_DATABASES = ("manifest.sqlite3", "sentences.sqlite3", "conversations.sqlite3")


def diagnose(data_dir: Path, exc: BaseException) -> StoreError | None:
    """The briefqa error for a raw failure met in ``data_dir``: the disk is full, or a
    SQLite file is damaged (named, with the command that fixes it); None if neither.

    SQLite reports damage on whichever page a query touches ("database disk image is
    malformed"), not at open: each file is checked here to say which one it is.
    """
    full = full_disk(str(data_dir), exc)
    if full is not None:
        return full
    if not isinstance(exc, sqlite3.DatabaseError):
        return None
    damaged = [data_dir / name for name in _DATABASES if not _sound(data_dir / name)]
    if not damaged:
        return None
    if damaged[0].name == "manifest.sqlite3":
        advice = REBUILD
    elif damaged[0].name == "conversations.sqlite3":
        # Staff's own words: nothing can make them again, so nothing sets them aside.
        advice = (
            "it holds staff's kept conversations: restore it from a backup, or move it "
            "away (with its -wal file) to start with none"
        )
    else:
        advice = "it holds only derived data: `briefqa check --repair` makes it again"
    names = ", ".join(str(p) for p in damaged)
    return DataDamaged(f"{names} is damaged ({exc}); {advice}")


def _sound(path: Path) -> bool:
    """Whether a SQLite file (absent counts as sound) passes SQLite's quick check."""
    if not path.exists():
        return True
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            return bool(db.execute("PRAGMA quick_check").fetchone()[0] == "ok")
    except sqlite3.DatabaseError:
        return False


def _set_aside(path: Path, stamp: str | None = None) -> None:
    """Rename a SQLite file (and its WAL and shared-memory files) ``*.damaged-<time>``:
    nothing of it is deleted."""
    stamp = stamp or time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    for end in ("", "-wal", "-shm"):
        part = path.with_name(path.name + end)
        if part.exists():
            part.rename(part.with_name(f"{part.name}.damaged-{stamp}"))


def rebuild_files(data_dir: Path, settings: Settings, listed: set[str] | None = None) -> list[Path]:
    """Set the index's files aside and start an empty index, for
    ``briefqa check --rebuild``: the manifest, the sentence vectors and the saved BM25
    index are renamed ``*.damaged-<time>`` (nothing of them is deleted), and the Chroma
    collection is dropped (it holds only vectors of the briefs, made again by the ingest
    that follows). Returns the files to ingest again: every upload (with a database,
    those of ``listed``, the keys the manifest listed, when it could be read), and the
    corpus folder when there is one.
    """
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    if settings.database_url:
        # The index's tables, renamed *_damaged_<time> in the database; the uploads'
        # bytes stay, copied here to be read again.
        set_aside(settings.database_url, "index", INDEX_TABLES, stamp)
        # This host's files are copies: what the database keeps is what there is (a
        # brief removed through another host left its copy here). Uploads waiting for
        # the lock (hidden, under .incoming) stay.
        folder = data_dir / "uploads"
        for child in folder.iterdir() if folder.is_dir() else []:
            if not child.name.startswith("."):
                shutil.rmtree(child, ignore_errors=True)
        uploads = PostgresUploads(settings.database_url)
        # Only those the index listed: an upload whose write failed is not brought in.
        keys = uploads.keys() if listed is None else uploads.keys() & listed
        for key in sorted(keys):
            uploads.fetch(key, upload_copy(data_dir, key))
    else:
        # Staff's conversations are not the index's: they stay where they are.
        for name in ("manifest.sqlite3", "sentences.sqlite3"):
            _set_aside(data_dir / name, stamp)
    if (data_dir / "bm25").exists():
        (data_dir / "bm25").rename(data_dir / f"bm25.damaged-{stamp}")
    # Through Chroma's own client, embedded or not: it keeps an open client per folder
    # in the process, which would not notice a folder renamed under it.
    store = store_from_settings(settings, data_dir)
    assert isinstance(store, ChromaStore)
    store.drop()
    sources = [
        p
        for p in sorted((data_dir / "uploads").rglob("*"))
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(data_dir).parts)
    ]
    if settings.corpus_dir.is_dir():
        sources.append(settings.corpus_dir)
    return sources
