"""Files parsed in a child process within limits (briefqa.index.isolation): a PDF over the
page limit, a DOCX whose XML needs more memory than allowed or more CPU time, all refused
as that file's error while the caller's memory stays flat; an upload is parsed once."""

from __future__ import annotations

import io
import random
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from briefqa import BriefQA, DocumentError, Settings
from briefqa.index.isolation import ParseLimits, read_brief
from briefqa.serve.server import create_app
from briefqa.testing import HashEmbedder

from .conftest import SEED


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def _many_pages(path: Path, pages: int) -> Path:
    import pypdfium2

    document = pypdfium2.PdfDocument.new()
    for _ in range(pages):
        document.new_page(200, 200)
    buffer = io.BytesIO()
    document.save(buffer)
    document.close()
    path.write_bytes(buffer.getvalue())
    return path


def _inflating_docx(path: Path, paragraphs: int) -> Path:
    """A small DOCX whose document.xml inflates to ``paragraphs`` short paragraphs:
    within the zip-bomb limits, but a large tree once parsed."""
    # Numbers that differ keep it from compressing like a zip bomb (the DOCX reader
    # refuses those before parsing).
    rng = random.Random(7)
    body = "".join(
        f"<w:p><w:r><w:t>Item {rng.randrange(10**8)} cost {rng.randrange(10**6)}.</w:t></w:r></w:p>"
        for _ in range(paragraphs)
    )
    xml = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
        f"<w:body>{body}</w:body></w:document>"
    )
    types = (
        '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
        'package/2006/content-types"><Default Extension="rels" ContentType="application/'
        'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" '
        'ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType='
        '"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
        "</Types>"
    )
    rels = (
        '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
        'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://'
        "schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"
        '" Target="word/document.xml"/></Relationships>'
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("[Content_Types].xml", types)
        z.writestr("_rels/.rels", rels)
        z.writestr("word/document.xml", xml)
    return path


def test_a_pdf_over_the_page_limit_is_refused_before_its_pages_are_read(tmp_path: Path) -> None:
    path = _many_pages(tmp_path / "long.pdf", 10_000)
    started = time.perf_counter()
    with pytest.raises(DocumentError, match=r"10,000 pages.*BRIEFQA_PARSE_MAX_PAGES"):
        read_brief(path, ParseLimits(max_pages=2000))
    assert time.perf_counter() - started < 5


def test_a_parse_over_its_memory_is_that_files_error_not_the_callers(tmp_path: Path) -> None:
    path = _inflating_docx(tmp_path / "inflating.docx", 600_000)  # ~40 MB of XML
    assert path.stat().st_size < 8_000_000
    before = _rss_mb()
    with pytest.raises(DocumentError, match="BRIEFQA_PARSE_MEMORY_MB"):
        read_brief(path, ParseLimits(memory_mb=400, seconds=60))
    assert _rss_mb() - before < 50, "the parse ran in the child, not here"


def test_a_parse_over_its_cpu_time_is_stopped(tmp_path: Path) -> None:
    path = _inflating_docx(tmp_path / "slow.docx", 600_000)
    with pytest.raises(DocumentError, match="BRIEFQA_PARSE_SECONDS"):
        read_brief(path, ParseLimits(memory_mb=4096, seconds=1))


def test_within_its_limits_a_file_reads_as_in_process(tmp_path: Path) -> None:
    from briefqa import load_brief

    assert read_brief(SEED, ParseLimits()) == load_brief(SEED)
    with pytest.raises(DocumentError, match="empty"):
        read_brief(_write(tmp_path / "empty.md", b"  \n"), ParseLimits())


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_an_upload_is_parsed_once_and_a_refused_one_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import briefqa.index.isolation

    calls: list[str] = []
    real = briefqa.index.isolation.load_brief

    def counted(path: str | Path, **kwargs: int | None) -> object:
        calls.append(Path(path).name)
        return real(path, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(briefqa.index.isolation, "load_brief", counted)
    data = tmp_path / "data"
    settings = Settings(parse_memory_mb=0, parse_max_pages=5)  # in-process: countable
    with BriefQA(data, settings=settings, embedder=HashEmbedder()) as qa:
        info = qa.add("brief.md", SEED.read_bytes())
        assert calls == ["brief.md"] and info.title
        with TestClient(create_app(qa, ui=False)) as client:
            long_pdf = _many_pages(tmp_path / "long.pdf", 20).read_bytes()
            response = client.post("/api/v1/documents", files={"files": ("long.pdf", long_pdf)})
        assert response.status_code == 422
        assert "BRIEFQA_PARSE_MAX_PAGES" in response.json()["results"][0]["error"]
        assert len(qa.documents()) == 1
    leftovers = [p for p in (data / "uploads").rglob("*") if p.is_file()]
    assert [p.name for p in leftovers] == ["brief.md"]


def test_a_script_without_a_main_guard_can_parse(tmp_path: Path) -> None:
    """The parser process never runs the caller's script again (multiprocessing's spawn
    and fork server would, and a script with no ``if __name__ == "__main__"`` would
    then start over in every child)."""
    script = tmp_path / "script.py"
    script.write_text(
        "from briefqa.index.isolation import ParseLimits, read_brief\n"
        f"print('parsed', read_brief({str(SEED)!r}, ParseLimits()).title[:20])\n"
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.count("parsed") == 1, done.stdout + done.stderr
