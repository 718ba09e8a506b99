"""briefqa: document-grounded Q&A over policy briefs, with verified citations.

The public API; the CLI, web UI, REST API and evals use exactly this::

    from briefqa import BriefQA

    qa = BriefQA(data_dir=".briefqa")
    qa.ingest(["corpus/"])
    answer = qa.ask("Which country opposed a NATO liaison office in Tokyo?")
    print(answer.text, [c.quote for c in answer.citations])
"""

from .engine import BriefQA
from .errors import (
    BriefQAError,
    ConfigError,
    DocumentError,
    EmbeddingError,
    IndexLocked,
    InvalidQuestion,
    ModelError,
    NotFound,
    StoreError,
    UnsupportedFormat,
)
from .evaluation import (
    LOWER_IS_BETTER,
    METRICS,
    EvalCase,
    EvalReport,
    load_dataset,
    run_evaluation,
)
from .loaders import SUPPORTED_SUFFIXES, load_brief
from .reports import markdown, write_report
from .schema import (
    Answer,
    Block,
    Brief,
    BriefInfo,
    Chunk,
    Citation,
    Filters,
    Hit,
    IndexCheck,
    IngestError,
    IngestReport,
)
from .settings import Settings, load_settings

__version__ = "0.1.0"

__all__ = [
    "LOWER_IS_BETTER",
    "METRICS",
    "SUPPORTED_SUFFIXES",
    "Answer",
    "Block",
    "Brief",
    "BriefInfo",
    "BriefQA",
    "BriefQAError",
    "Chunk",
    "Citation",
    "ConfigError",
    "DocumentError",
    "EmbeddingError",
    "EvalCase",
    "EvalReport",
    "Filters",
    "Hit",
    "IndexCheck",
    "IndexLocked",
    "IngestError",
    "IngestReport",
    "InvalidQuestion",
    "ModelError",
    "NotFound",
    "Settings",
    "StoreError",
    "UnsupportedFormat",
    "__version__",
    "load_brief",
    "load_dataset",
    "load_settings",
    "markdown",
    "run_evaluation",
    "write_report",
]
