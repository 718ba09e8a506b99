"""briefqa: document-grounded Q&A over policy briefs, with verified citations.

The public API; the CLI, web UI, REST API and evals use exactly this::

    from briefqa import BriefQA

    qa = BriefQA(data_dir=".briefqa")
    report = qa.ingest(["corpus/"])
    for brief in qa.documents():
        print(brief.doc_id, brief.title, brief.date)
"""

from .engine import BriefQA
from .errors import (
    BriefQAError,
    ConfigError,
    DocumentError,
    EmbeddingError,
    IndexLocked,
    NotFound,
    StoreError,
    UnsupportedFormat,
)
from .loaders import SUPPORTED_SUFFIXES, load_brief
from .schema import Block, Brief, BriefInfo, Chunk, IngestError, IngestReport
from .settings import Settings

__version__ = "0.1.0"

__all__ = [
    "SUPPORTED_SUFFIXES",
    "Block",
    "Brief",
    "BriefInfo",
    "BriefQA",
    "BriefQAError",
    "Chunk",
    "ConfigError",
    "DocumentError",
    "EmbeddingError",
    "IndexLocked",
    "IngestError",
    "IngestReport",
    "NotFound",
    "Settings",
    "StoreError",
    "UnsupportedFormat",
    "__version__",
    "load_brief",
]
