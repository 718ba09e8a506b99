"""Rebuild a trainable model (transformers format) from an exported int8 reader.

    python training/dequantize_reader.py [--reader src/briefqa/models/reader] \
        --out build/reader-shipped/model

A shipped reader keeps only its int8 ONNX file; the float32 model it was exported from
stays in the training run's ``build/`` folder. To train a further stage from the shipped
weights (``train_reader.py --init OUT``) without that folder, this reads each int8 weight
back as float32 (quantised value minus zero point, times its per-channel scale) into the
all-MiniLM-L6-v2 architecture with a one-logit head. The result scores as the int8 file
does, up to the activations' quantisation (docs/reader.md says how the shipped reader was
made this way).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
import torch
from train_reader import base_model_path

PACKAGED = Path(__file__).resolve().parents[1] / "src" / "briefqa" / "models" / "reader"
EMBEDDINGS = ("word", "position", "token_type")


def float_weights(model_file: Path) -> dict[str, np.ndarray[Any, Any]]:
    """The model's parameters by their transformers names, read back as float32."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(model_file)).graph
    arrays = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    users: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            users.setdefault(name, []).append(node)
    producer = {out: node for node in graph.node for out in node.output}
    weights = {
        name.removeprefix("model."): array
        for name, array in arrays.items()
        if array.dtype == np.float32 and array.ndim > 0 and not name.endswith("_scale")
    }
    for table in EMBEDDINGS:
        base = f"model.bert.embeddings.{table}_embeddings.weight"
        values = arrays[f"{base}_quantized"].astype(np.float32)
        zero = arrays[f"{base}_zero_point"].astype(np.float32)
        weights[f"bert.embeddings.{table}_embeddings.weight"] = (values - zero) * arrays[
            f"{base}_scale"
        ]
    for node in graph.node:
        if node.op_type != "MatMulInteger":
            continue
        values = arrays[node.input[1]].astype(np.float32)  # [in, out]
        zero = arrays[node.input[3]].astype(np.float32)
        # MatMulInteger → Cast → Mul(·, activation scale × weight scale): the weight's
        # per-channel scale is the initializer among that product's inputs.
        cast = users[node.output[0]][0]
        mul = users[cast.output[0]][0]
        scales = producer[next(i for i in mul.input if i != cast.output[0])]
        scale = next(arrays[i] for i in scales.input if i in arrays)
        # "/model/bert/encoder/layer.0/attention/self/query/MatMul_quant" → its module.
        module = node.name.removeprefix("/model/").rsplit("/", 1)[0].replace("/", ".")
        weights[f"{module}.weight"] = np.ascontiguousarray(((values - zero) * scale).T)
    return weights


def rebuild(reader: Path, out: Path) -> Path:
    from transformers import AutoTokenizer, BertForSequenceClassification

    model = BertForSequenceClassification.from_pretrained(str(base_model_path()), num_labels=1)
    state = model.state_dict()
    weights = float_weights(reader / "model.onnx")
    unknown = sorted(set(weights) - set(state))
    missing = sorted(k for k in state if k not in weights and not k.endswith("position_ids"))
    if unknown or missing:
        raise SystemExit(
            f"{reader / 'model.onnx'} is not an all-MiniLM-L6-v2 reader: "
            f"unknown {unknown[:3]}, missing {missing[:3]}"
        )
    for name, array in weights.items():
        wanted = tuple(state[name].shape)
        if wanted != array.shape:
            raise SystemExit(f"{name}: shape {array.shape}, the model has {wanted}")
        state[name] = torch.from_numpy(np.array(array, dtype=np.float32))
    model.load_state_dict(state)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out))
    AutoTokenizer.from_pretrained(str(base_model_path())).save_pretrained(str(out))
    return out


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--reader", type=Path, default=PACKAGED, help="an exported reader's folder")
    p.add_argument("--out", type=Path, default=Path("build/reader-shipped/model"))
    return p


if __name__ == "__main__":
    args = parser().parse_args()
    print(f"wrote {rebuild(args.reader, args.out)}")
