"""BriefQA.as_retriever() inside an LCEL chain, with a scripted chat model: the chain
sees numbered, titled passages whose metadata locate them in the brief, and a question
the briefs do not cover is answered with the refusal without calling the model."""

from __future__ import annotations

from operator import itemgetter
from pathlib import Path
from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import Runnable, RunnableBranch, RunnableLambda, RunnablePassthrough

from briefqa import Answer, BriefQA, Filters, InvalidQuestion, load_brief
from briefqa.testing import FakeChatModel

FRANCE = "Which country opposed a NATO liaison office in Tokyo?"
GDP = "What is the GDP of Japan?"
NOT_COVERED = "The briefs do not cover this question."
TITLE = "NATO Intensifies Cooperation with Indo-Pacific Partners"


def format_docs(docs: list[Document]) -> str:
    return "\n\n".join(
        f"[{n}] {d.metadata['title']} — {d.metadata['section']}\n{d.page_content}"
        for n, d in enumerate(docs, 1)
    )


def rag_chain(retriever: BaseRetriever, model: FakeChatModel) -> Runnable[str, str]:
    """The usual LCEL RAG chain, with a branch for "no documents": not covered."""
    prompt = ChatPromptTemplate.from_messages(
        [
            ("system", "Answer only from these passages; cite them as [n].\n\n{context}"),
            ("human", "{question}"),
        ]
    )
    answer = (
        {"context": itemgetter("docs") | RunnableLambda(format_docs),
         "question": itemgetter("question")}
        | prompt | model | StrOutputParser()
    )  # fmt: skip
    branch: Runnable[dict[str, Any], str] = RunnableBranch(
        (lambda x: not x["docs"], RunnableLambda(lambda _: NOT_COVERED)), answer
    )
    return {"docs": retriever, "question": RunnablePassthrough()} | branch


@pytest.mark.slow
def test_retriever_in_an_lcel_chain(qa: BriefQA, seed: Path) -> None:
    qa.ingest(seed)
    retriever = qa.as_retriever(k=3)
    assert isinstance(retriever, BaseRetriever)
    model = FakeChatModel(replies=["France opposed it [1]."])
    chain = rag_chain(retriever, model)

    assert chain.invoke(FRANCE) == "France opposed it [1]."
    [messages] = model.received
    system, human = (str(m.content) for m in messages)
    assert human == FRANCE
    docs = retriever.invoke(FRANCE)
    assert len(docs) == 3
    # The France passage is among those given, numbered and titled as format_docs did.
    n = next(i for i, d in enumerate(docs, 1) if "France’s opposition" in d.page_content)
    assert f"[{n}] {TITLE} — Limitations\n{docs[n - 1].page_content}" in system

    text = load_brief(seed).text
    info = qa.brief(docs[0].metadata["doc_id"])
    for doc in docs:
        meta = doc.metadata
        assert text[meta["start"] : meta["end"]] == doc.page_content
        assert doc.id == meta["chunk_id"] and meta["chunk_id"].startswith(info.doc_id)
        assert (meta["title"], meta["date"], meta["authors"]) == (TITLE, "2023-08-24", [])
        assert meta["outcome"] == "answered" and meta["page"] is None
        assert isinstance(meta["score"], float)
    assert [d.metadata["score"] for d in docs] == sorted(
        (d.metadata["score"] for d in docs), reverse=True
    )

    # Not covered: no documents, the refusal, and the model is never called.
    assert retriever.invoke(GDP) == []
    assert chain.invoke(GDP) == NOT_COVERED
    assert len(model.received) == 1
    nearest = qa.as_retriever(k=2, refuse=False).invoke(GDP)
    assert len(nearest) == 2 and {d.metadata["outcome"] for d in nearest} == {"refused"}

    # The lead (before the first heading) is named as the chat names it.
    lead = qa.as_retriever(k=1).invoke("What is this brief about? AP4 leaders at Vilnius")
    assert [d.metadata["section"] for d in lead] == ["lead"]

    # Filters apply; an empty question is an error, as in ask().
    assert qa.as_retriever(filters=Filters(date_from="2024-01-01")).invoke(FRANCE) == []
    with pytest.raises(InvalidQuestion):
        retriever.invoke("  ")


@pytest.mark.slow
def test_as_runnable_gives_the_answer(qa: BriefQA, seed: Path) -> None:
    qa.ingest(seed)
    runnable = qa.as_runnable()
    answer = runnable.invoke(FRANCE)
    assert isinstance(answer, Answer) and "France" in answer.citations[0].quote
    follow_up = runnable.invoke({"question": "Why?", "history": [(FRANCE, answer.text)]})
    assert isinstance(follow_up, Answer) and follow_up.standalone_question != "Why?"
    assert runnable.invoke(GDP).outcome == "refused"
    with pytest.raises(InvalidQuestion, match="'question' string"):
        runnable.invoke({"q": FRANCE})
