"""Indexing: briefs turned into what retrieval searches, kept in one data directory.

This package owns the second stage of the pipeline. :mod:`.ingest` takes files (read by
:mod:`briefqa.readers`, in a child process within limits: :mod:`.isolation`), cuts them
into chunks (:mod:`.chunking`), drops copies (:mod:`.copies`), embeds them
(:mod:`.embeddings`: the interface and the sentence-transformers backend; :mod:`.onnx_embedder`;
what both share in :mod:`.encoding`) and writes them into an :class:`.directory.Index`:
the vector store (:mod:`.store`), the manifest of briefs and chunks (:mod:`.manifest`,
with the SQLite files of :mod:`.databases`), the sentence vectors (:mod:`.sentences`) and
the BM25 terms (:mod:`.bm25`). :mod:`.integrity` checks that they agree and repairs them.
Nothing here imports the answer path or the surfaces above it.
"""
