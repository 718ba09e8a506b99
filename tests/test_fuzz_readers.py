"""Every reader on damaged input, as an upload would reach it (parsed in a capped child
process by briefqa.index.isolation): real files of each format truncated, with bytes flipped
or inserted, and random bytes. Each must come back as a brief or as a DocumentError that
says what is wrong: never another exception, a hang or a dead caller."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from briefqa import DocumentError
from briefqa.index.isolation import ParseLimits, read_brief

from .conftest import SEED
from .realistic_docs import brief_docx, brief_html, brief_markdown
from .seed_layout import seed_layout

ROOT = Path(__file__).resolve().parents[1]
LIMITS = ParseLimits(memory_mb=768, seconds=20, max_pages=50)


def _originals() -> dict[str, bytes]:
    layout = seed_layout()
    folder = Path(tempfile.mkdtemp(prefix="fuzz-originals-"))
    pdf = ROOT / "benchmarks" / "producers" / "pdfs" / "latex-two-column.pdf"
    return {
        ".txt": SEED.read_bytes(),
        ".md": brief_markdown(layout, folder / "b.md").read_bytes(),
        ".html": brief_html(layout, folder / "b.html").read_bytes(),
        ".docx": brief_docx(layout, folder / "b.docx").read_bytes(),
        ".pdf": pdf.read_bytes(),
    }


ORIGINALS = _originals()


@st.composite
def damaged(draw: st.DrawFn, data: bytes) -> bytes:
    """``data`` cut short, with bytes overwritten, or with bytes put in."""
    how = draw(st.sampled_from(["truncate", "flip", "insert", "random"]))
    if how == "random":
        return draw(st.binary(min_size=1, max_size=4096))
    at = draw(st.integers(0, len(data) - 1))
    if how == "truncate":
        return data[: max(at, 1)]
    chunk = draw(st.binary(min_size=1, max_size=64))
    if how == "flip":
        return data[:at] + chunk + data[at + len(chunk) :]
    return data[:at] + chunk + data[at:]


@pytest.mark.parametrize("suffix", sorted(ORIGINALS))
def test_a_damaged_file_is_a_brief_or_a_clear_error(suffix: str, tmp_path: Path) -> None:
    @settings(
        max_examples=25,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(damaged(ORIGINALS[suffix]))
    def read(data: bytes) -> None:
        path = tmp_path / f"brief{suffix}"
        path.write_bytes(data)
        try:
            brief = read_brief(path, LIMITS)
        except DocumentError as exc:
            assert exc.reason and "Traceback" not in exc.reason
        else:
            assert brief.text.strip() and brief.doc_id

    read()
