"""Export the trained reading model to ONNX, quantise it, and check that it still ranks.

    python training/export_reader.py --model build/reader/model --data ...json \
        --out build/reader/onnx [--install]

Writes ``model.onnx`` (weights int8, dynamic quantisation of ONNX Runtime: a quarter of
the float32 size, so the 6-layer model fits the wheel), ``tokenizer.json`` and
``reader.json`` (what the answer path needs to feed it), and ``export.json``: how far the
int8 scores are from the training framework's (torch, float32) on the development pairs
— largest difference of the probabilities, how often each question's top sentence stays
the same, the development metrics of both. ``--install`` copies the three model files
into ``src/briefqa/models/reader/``, where the package ships them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import warnings
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
import torch
from reader_data import Pair, load_pairs, split
from train_reader import MAX_LENGTH, evaluate, sentence_text

ROOT = Path(__file__).resolve().parents[1]
PACKAGED = ROOT / "src" / "briefqa" / "models" / "reader"
#: Development pairs with the training framework's probabilities, for the test that the
#: shipped file still scores like the model it was exported from.
PARITY = ROOT / "tests" / "data" / "reader_parity.json"
PARITY_PAIRS = 50
NAMES = ["input_ids", "attention_mask", "token_type_ids"]


def export(model_dir: Path, out: Path) -> Path:
    """``model_dir`` (transformers) to ``out/model-fp32.onnx``: the logit of each pair."""
    from transformers import AutoTokenizer, BertForSequenceClassification

    model = BertForSequenceClassification.from_pretrained(str(model_dir)).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))

    class Logit(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).logits[:, 0]

    sample = tokenizer(
        ["a question", "a longer question to pad"], ["a sentence", "the other sentence"],
        padding=True, return_tensors="pt",
    )  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    target = out / "model-fp32.onnx"
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Logit().eval(),
            tuple(sample[k] for k in NAMES),
            str(target),
            input_names=NAMES,
            output_names=["logit"],
            dynamic_axes={**{k: {0: "batch", 1: "sequence"} for k in NAMES}, "logit": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )
    tokenizer.backend_tokenizer.save(str(out / "tokenizer.json"))
    return target


def quantize(fp32: Path, int8: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8, per_channel=True)


def onnx_scores(model: Path, tokenizer_file: Path, pairs: list[Pair], context: bool) -> np.ndarray:
    """Probabilities from an ONNX file, tokenised as the answer path does."""
    import onnxruntime as ort
    from tokenizers import Tokenizer

    from briefqa.answer.reader import pair_inputs

    tokenizer = Tokenizer.from_file(str(tokenizer_file))
    tokenizer.no_padding()
    tokenizer.enable_truncation(MAX_LENGTH, strategy="longest_first")  # as the answer path
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    # One pair per pass, as the answer path runs them: int8 activations are scaled over a
    # whole batch, so batched pairs (padded to the longest) score a little differently.
    encoded = tokenizer.encode_batch([(p.question, sentence_text(p, context)) for p in pairs])
    return np.array([session.run(None, pair_inputs([e]))[0].reshape(-1)[0] for e in encoded])


def torch_scores(model_dir: Path, pairs: list[Pair], context: bool) -> np.ndarray:
    from train_reader import score
    from transformers import AutoTokenizer, BertForSequenceClassification

    model = BertForSequenceClassification.from_pretrained(str(model_dir)).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    return score(model, tokenizer, pairs, context)


def top_agreement(a: np.ndarray, b: np.ndarray, pairs: list[Pair]) -> float:
    groups: dict[str, list[int]] = {}
    for i, p in enumerate(pairs):
        groups.setdefault(p.group, []).append(i)
    same = [
        max(rows, key=a.__getitem__) == max(rows, key=b.__getitem__) for rows in groups.values()
    ]
    return float(np.mean(same))


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def main(args: argparse.Namespace) -> dict[str, Any]:
    torch.set_num_threads(os.cpu_count() or 1)
    out: Path = args.out
    fp32 = export(args.model, out)
    int8 = out / "model.onnx"
    quantize(fp32, int8)
    _, dev = split(load_pairs(args.data), seed=args.seed)
    if args.limit:
        dev = dev[: args.limit]
    context = not args.no_context
    reference = torch_scores(args.model, dev, context)
    exported = onnx_scores(fp32, out / "tokenizer.json", dev, context)
    quantised = onnx_scores(int8, out / "tokenizer.json", dev, context)
    report = {
        "pairs": len(dev),
        "context": context,
        "fp32_max_probability_difference": float(
            np.abs(sigmoid(exported) - sigmoid(reference)).max()
        ),
        "int8_max_probability_difference": float(
            np.abs(sigmoid(quantised) - sigmoid(reference)).max()
        ),
        "int8_mean_probability_difference": float(
            np.abs(sigmoid(quantised) - sigmoid(reference)).mean()
        ),
        "int8_same_top_sentence": top_agreement(quantised, reference, dev),
        "torch": evaluate(reference, dev),
        "int8": evaluate(quantised, dev),
        "int8_bytes": int8.stat().st_size,
        "fp32_bytes": fp32.stat().st_size,
    }
    config = {
        "format": "briefqa-reader/1",
        "max_length": MAX_LENGTH,
        # The sentence half reads "Title, Section: sentence" when trained that way.
        "context": context,
        "sha256": hashlib.sha256(int8.read_bytes()).hexdigest(),
        "development": report["int8"],
    }
    (out / "reader.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    (out / "export.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    # Every n-th development pair, so that both labels and both sources are in the sample.
    step = max(1, len(dev) // PARITY_PAIRS)
    sample = list(range(0, len(dev), step))[:PARITY_PAIRS]
    parity = {
        "note": "development pairs (held-out articles) scored by the trained torch model "
        "(float32) before export; tests/test_reader.py checks the shipped ONNX file against them",
        "max_difference_measured": float(
            max(abs(sigmoid(quantised[i]) - sigmoid(reference[i])) for i in sample)
        ),
        "pairs": [
            {
                "question": dev[i].question,
                "sentence": dev[i].sentence,
                "context": dev[i].context,
                "label": dev[i].label,
                "probability": round(float(sigmoid(reference[i])), 6),
            }
            for i in sample
        ],
    }
    (out / "parity.json").write_text(json.dumps(parity, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2))
    if args.install:
        PACKAGED.mkdir(parents=True, exist_ok=True)
        for name in ("model.onnx", "tokenizer.json", "reader.json"):
            shutil.copyfile(out / name, PACKAGED / name)
        PARITY.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(out / "parity.json", PARITY)
        print(f"installed into {PACKAGED}")
    return report


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", type=Path, default=Path("build/reader/model"))
    p.add_argument("--data", type=Path, nargs="+", required=True)
    p.add_argument("--out", type=Path, default=Path("build/reader/onnx"))
    p.add_argument("--limit", type=int, default=0, help="check only the first N dev pairs")
    p.add_argument("--seed", type=int, default=13, help="the training run's (its dev split)")
    p.add_argument("--no-context", action="store_true", help="feed sentences without titles")
    p.add_argument("--install", action="store_true", help="copy into the package")
    return p


if __name__ == "__main__":
    main(parser().parse_args())
