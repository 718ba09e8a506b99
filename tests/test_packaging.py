"""briefqa as a user installs it: built into a wheel, installed (not editable) into a
fresh virtual environment, run from outside the repository.

The wheel must carry what the package reads at run time, the prompt files above all:
the test answers a question through the `openai` backend against the llama.cpp server
of tests/test_llm_server.py, which needs every chat prompt.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from .conftest import ROOT, SEED
from .test_llm_server import llama_server  # noqa: F401  (the same server fixture)

pytestmark = [pytest.mark.server, pytest.mark.slow]

#: Run by the fresh environment's Python: ingest the seed brief, ask through the LLM.
SCRIPT = """
import json, sys
from importlib import resources

import briefqa
from briefqa import BriefQA, Settings
from briefqa.answer.llm import read_prompt

# Threshold 0: the question always reaches the model, whatever the gate thinks of it.
settings = Settings(refusal_threshold=0.0)
with BriefQA(settings=settings) as qa:
    qa.ingest([sys.argv[1]])
    answer = qa.ask("Which country opposed a NATO liaison office in Tokyo?")
print(json.dumps({
    "module": briefqa.__file__,
    "prompts": str(resources.files("briefqa.prompts")),
    "answer_system": read_prompt(settings, "answer_system"),
    "llm": settings.llm,
    "answer_type": type(answer).__name__,
    "refused": answer.refused,
    "text": answer.text,
    "answer_ms": answer.timings.get("answer_ms", 0),
}))
"""


def _build_wheel(tmp: Path) -> Path:
    # From a copy of the sources: an in-tree build would leave build/ in the checkout.
    source = tmp / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    junk = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for name in ("src", "prompts"):
        shutil.copytree(ROOT / name, source / name, ignore=junk)
    dist = tmp / "dist"
    # No build isolation: setuptools comes from this environment, so no index is needed.
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-index",
         "--no-build-isolation", "--quiet", "--wheel-dir", str(dist)],
        check=True, timeout=120,
    )  # fmt: skip
    (wheel,) = dist.glob("briefqa-*.whl")
    return wheel


def _fresh_venv(tmp: Path, wheel: Path) -> Path:
    """A venv holding the wheel; every other dependency is borrowed from this venv."""
    venv = tmp / "fresh"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    # pip runs from this venv but installs into the fresh one, offline.
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
         "--no-deps", "--no-index", str(wheel)],
        check=True, timeout=120,
    )  # fmt: skip
    # Borrow the dependencies through a path entry, added after the install so that pip
    # saw an empty environment. A directory named in a .pth file joins sys.path but its
    # own .pth files are not run, so this venv's editable briefqa (a .pth and a finder)
    # stays out: the fresh site-packages, with the wheel's briefqa, comes first.
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
    )  # fmt: skip
    ours = dict.fromkeys(sysconfig.get_paths()[key] for key in ("purelib", "platlib"))
    (site / "_borrowed.pth").write_text("".join(f"{path}\n" for path in ours))
    return venv


def test_the_wheel_stands_on_its_own(llama_server: str, tmp_path: Path) -> None:  # noqa: F811
    wheel = _build_wheel(tmp_path)
    prompts = sorted(p.name for p in (ROOT / "prompts").glob("*.txt"))
    assert prompts
    with zipfile.ZipFile(wheel) as archive:
        shipped = set(archive.namelist())
    assert {f"briefqa/prompts/{name}" for name in prompts} <= shipped
    assert {
        "briefqa/py.typed",
        "briefqa/answer/refusal.json",
        "briefqa/answer/refusal-reader.json",
    } <= shipped
    # The reading model the default answer path runs, with its licence beside it.
    reader = {"model.onnx", "tokenizer.json", "reader.json", "LICENSE"}
    assert {f"briefqa/models/reader/{name}" for name in reader} <= shipped

    venv = _fresh_venv(tmp_path, wheel)
    outside = tmp_path / "elsewhere"  # no prompts/ to stumble on
    outside.mkdir()
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env |= {
        "BRIEFQA_DATA_DIR": str(tmp_path / "data"),
        "BRIEFQA_LLM": "openai",
        "BRIEFQA_LLM_BASE_URL": llama_server,
        "BRIEFQA_LLM_MODEL": "gemma-3-270m",
        "BRIEFQA_LLM_MAX_TOKENS": "48",
        "BRIEFQA_LLM_STOP": '["\\n\\n", "###"]',
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    run = subprocess.run(
        [str(venv / "bin" / "python"), "-c", SCRIPT, str(SEED)],
        cwd=outside, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])

    assert Path(result["module"]).is_relative_to(venv), result["module"]
    assert Path(result["prompts"]).is_relative_to(venv), result["prompts"]
    expected = (ROOT / "prompts" / "answer_system.txt").read_text(encoding="utf-8").strip()
    assert result["answer_system"] == expected
    assert result["llm"] == "openai"
    assert result["answer_type"] == "Answer"
    assert result["answer_ms"] > 0, "the question reached the model"
    assert not result["refused"] and result["text"].strip(), result

    # The console script works from the wheel, too.
    cli = subprocess.run(
        [str(venv / "bin" / "briefqa"), "--help"],
        cwd=outside, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert cli.returncode == 0 and "ingest" in cli.stdout, cli.stderr
