"""Answering: from a question and an index to an answer with verified citations.

This package owns the third stage of the pipeline. :mod:`.retrieval` searches the index
(dense and BM25, fused); :mod:`.reader` is the reading model and :mod:`.readings` how the
answer path uses it; :mod:`.intents` tells what a question asks for, and whole-brief or
archive questions go to :mod:`.overview`; :mod:`.refusal` decides whether the evidence can
answer at all; a writer (:mod:`.writing`: the interface; :mod:`.extractive`, the offline
default; :mod:`.llm`, language models) writes the answer from numbered passages
(:mod:`.passages`), and :mod:`.verify` checks every citation. :mod:`.chain` joins them in
one LangChain runnable. It reads the index through :mod:`briefqa.index`, never the other
way round.
"""
