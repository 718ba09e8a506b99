"""briefqa: document-grounded Q&A over policy briefs, with verified citations.

The public API; the CLI, web UI, REST API and evals use exactly this::

    from briefqa import BriefQA

    qa = BriefQA(data_dir=".briefqa")
    qa.ingest(["corpus/"])
    answer = qa.ask("Which country opposed a NATO liaison office in Tokyo?")
    print(answer.text, [c.quote for c in answer.citations])
"""

# Private aliases: every public name here is in __all__ (tests/test_cli.py checks).
import importlib as _importlib
import typing as _typing

from .answer.reader import Reader
from .answer.writing import Draft, Writer
from .engine import BriefQA
from .errors import (
    BriefQAError,
    ConfigError,
    ConversationNotFound,
    DataDamaged,
    DiskFull,
    DocumentError,
    EmbeddingError,
    IndexLocked,
    InvalidQuestion,
    ModelError,
    NotFound,
    StoreError,
    UnknownSchema,
    UnsupportedFormat,
)
from .export import export_markdown
from .index.integrity import diagnose
from .readers import SUPPORTED_SUFFIXES, load_brief
from .schema import (
    ANONYMOUS,
    Answer,
    Block,
    Brief,
    BriefInfo,
    Chunk,
    Citation,
    Conversation,
    Filters,
    Hit,
    IndexCheck,
    IngestError,
    IngestReport,
    Reading,
    Turn,
    section_label,
)
from .settings import Settings, load_settings

if _typing.TYPE_CHECKING:
    from .answer.llm import ChatWriter
    from .comparison import Configuration, load_configuration, vary_configurations
    from .evaluation import (
        LOWER_IS_BETTER,
        METRICS,
        EvalCase,
        EvalReport,
        compare_with_saved,
        load_dataset,
        load_saved_rows,
        run_evaluation,
    )
    from .interchange import EXPORT_FORMATS, export_run
    from .reports import markdown, write_report
    from .runs import append_run, read_runs

__version__ = "0.1.0"

# The evaluation harness (with its comparisons, run log and exports) and the LLM writer
# are loaded on first use: `import briefqa`
# stays light, and the eval extra's packages (matplotlib, langchain-text-splitters) are
# needed only by the harness.
_LAZY = {
    "LOWER_IS_BETTER": "evaluation",
    "METRICS": "evaluation",
    "EvalCase": "evaluation",
    "EvalReport": "evaluation",
    "load_dataset": "evaluation",
    "run_evaluation": "evaluation",
    "markdown": "reports",
    "write_report": "reports",
    "ChatWriter": "answer.llm",
    "Configuration": "comparison",
    "load_configuration": "comparison",
    "vary_configurations": "comparison",
    "compare_with_saved": "evaluation",
    "load_saved_rows": "evaluation",
    "append_run": "runs",
    "read_runs": "runs",
    "EXPORT_FORMATS": "interchange",
    "export_run": "interchange",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "ANONYMOUS",
    "EXPORT_FORMATS",
    "LOWER_IS_BETTER",
    "METRICS",
    "SUPPORTED_SUFFIXES",
    "Answer",
    "Block",
    "Brief",
    "BriefInfo",
    "BriefQA",
    "BriefQAError",
    "ChatWriter",
    "Chunk",
    "Citation",
    "ConfigError",
    "Configuration",
    "Conversation",
    "ConversationNotFound",
    "DataDamaged",
    "DiskFull",
    "DocumentError",
    "Draft",
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
    "Reader",
    "Reading",
    "Settings",
    "StoreError",
    "Turn",
    "UnknownSchema",
    "UnsupportedFormat",
    "Writer",
    "__version__",
    "append_run",
    "compare_with_saved",
    "diagnose",
    "export_markdown",
    "export_run",
    "load_brief",
    "load_configuration",
    "load_dataset",
    "load_saved_rows",
    "load_settings",
    "markdown",
    "read_runs",
    "run_evaluation",
    "section_label",
    "vary_configurations",
    "write_report",
]
