"""Train the long-context demo (`nbhelpers/demo-llm-long`) from scratch and write it as a hub snapshot.

    python -m tools.train_demo_llm_long --out nbhelpers/demos/data/demo-llm-long

The task is `nbhelpers.demos.long_corpus`: one fact ("Mia keeps golden coins.") hidden at any depth among stories,
then a question about it, answered by repeating the fact; a third of the chats go on for one or two more turns of
stories with the same question, so the fact sits in an earlier turn. The model is a Llama of its own (SHAPE: two
layers, eight heads of 32 with four key/value heads) with the demo family's tokenizer. It is separate from the
shared family (`nbhelpers/demo-llm`, left untouched: 00-10's figures rely on it) and trained from scratch, because
fine-tuning the family's target did not work: after 3000 steps it still guessed the object (and so did from-scratch
models without the next rows). Each step also holds COPY_ROWS rows of random tokens repeated once, which teach the
model to copy what followed an earlier occurrence of a token (an induction head, learnt in about 300 steps); the fact
is then found by that: the answer's " keeps" occurs once in the prompt, in the fact. Prompts grow over the first
60 % of the steps from SHORTEST to MAX_TOKENS tokens; the loss covers the answers only, COPY_WEIGHT times on the
object's tokens, plus STORY_WEIGHT on the stories (so the model also learns their words).

The grade (the report's figures) is greedy PyTorch f32 on prompts drawn with another seed: accuracy by prompt length
(up to 2048, twice the longest trained on) and by the fact's depth, and in chats where the fact
was two turns ago.
"""

from __future__ import annotations

import json
import random
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbhelpers.demos import committed_dir, model_card
from nbhelpers.demos.llm import EOS, LlamaShape, make_llama
from nbhelpers.demos.long_corpus import LongExample, follow_up, haystack, is_right
from tools.training import lr_at, optimizer_step, publish, weighted_loss

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

SHAPE = LlamaShape(256, 512, 2, 8, 4, max_position_embeddings=4096)  # head dim 32
STEPS = 1500
BATCH_TOKENS = 2048  # of chats, per step; plus the copy rows
COPY_ROWS, COPY_SPAN = 8, 64
LR = 1e-3
COPY_WEIGHT = 5.0
STORY_WEIGHT = 0.05
SHORTEST = 64  # the longest prompt of the first steps
MAX_TOKENS = 1024  # the longest prompt trained on
GRADE_LENGTHS = (256, 512, 1024, 1536, 2048)
GRADE_DEPTHS = (0.0, 0.25, 0.5, 0.75, 1.0)
GRADE_PER_CELL = 8

Row = tuple[list[int], list[int], list[float]]


def counter(tokenizer: PreTrainedTokenizerFast) -> Any:
    """Return a function counting the tokens of a text (no special tokens)."""
    return lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"])


def encode(tokenizer: PreTrainedTokenizerFast, ex: LongExample, later_turns: Sequence[str] = ()) -> Row:
    """Tokenise a chat that starts with `ex` and goes on with `later_turns` (user messages), each answered with the
    fact; return (input_ids, labels, weights): answers weighted 1 and COPY_WEIGHT on the object's tokens, the
    stories STORY_WEIGHT, the rest of the prompts 0 (label -100)."""
    ids: list[int] = []
    labels: list[int] = []
    weights: list[float] = []
    answer = tokenizer(ex.answer, add_special_tokens=False, return_offsets_mapping=True)
    start = ex.answer.index(ex.thing)
    answer_weights = [COPY_WEIGHT if b > start else 1.0 for _, b in answer["offset_mapping"]]
    answer_weights[-1] = 1.0  # the full stop
    end = tokenizer(EOS + "\n", add_special_tokens=False)["input_ids"]
    for user in (ex.user, *later_turns):
        stories, q = user.rsplit("\n", 1)
        head = tokenizer("<|user|>\n", add_special_tokens=False)["input_ids"]
        body = tokenizer(stories, add_special_tokens=False)["input_ids"]
        tail = tokenizer("\n" + q + "\n<|assistant|>\n", add_special_tokens=False)["input_ids"]
        ids += head + body + tail + answer["input_ids"] + end
        labels += [-100] * len(head) + body + [-100] * len(tail) + answer["input_ids"] + end
        weights += [0.0] * len(head) + [STORY_WEIGHT] * len(body) + [0.0] * len(tail) + answer_weights
        weights += [1.0] * len(end)
    return ids, labels, weights


def copy_row(rng: random.Random, vocab_size: int) -> Row:
    """Random tokens, then the same again: the second half is learnt (weight 1)."""
    span = [rng.randrange(1, vocab_size) for _ in range(COPY_SPAN)]
    return span + span, [-100] * COPY_SPAN + span, [0.0] * COPY_SPAN + [1.0] * COPY_SPAN


def draw(rng: random.Random, tokenizer: PreTrainedTokenizerFast, longest: int) -> list[Row]:
    """Return one batch: COPY_ROWS copy rows and chats whose first prompt has one random length up to `longest`."""
    length, count = rng.randint(48, longest), counter(tokenizer)
    rows = [copy_row(rng, len(tokenizer)) for _ in range(COPY_ROWS)]
    for _ in range(max(1, BATCH_TOKENS // length)):
        ex = haystack(rng, count, length, rng.random())
        later = [follow_up(rng, count, rng.randint(32, max(33, length // 2)), ex)
                 for _ in range(rng.choice([0, 0, 1, 2]))]
        rows.append(encode(tokenizer, ex, later))
    return rows


def train(model: Any, tokenizer: PreTrainedTokenizerFast, steps: int, seed: int) -> float:
    """Train `model` on the task; return the last loss."""
    import torch

    rng = random.Random(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=0.01, betas=(0.9, 0.98))
    model.train()
    loss_value, started = float("nan"), time.perf_counter()
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = lr_at(step, steps, LR)
        longest = int(SHORTEST + (MAX_TOKENS - SHORTEST) * min(1.0, step / (0.6 * steps)))
        loss_value = optimizer_step(opt, weighted_loss(model, draw(rng, tokenizer, longest), tokenizer.pad_token_id),
                                    model)
        if (step + 1) % 100 == 0:
            print(f"step {step + 1}/{steps} loss {loss_value:.3f} (prompts up to {longest} tokens, "
                  f"{time.perf_counter() - started:.0f} s)", flush=True)
    model.eval()
    return loss_value


def answer(model: Any, tokenizer: PreTrainedTokenizerFast, messages: list[dict[str, str]]) -> str:
    """Return the model's greedy answer to a chat (PyTorch f32)."""
    import torch

    prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    ids = torch.tensor([tokenizer(prompt, add_special_tokens=False)["input_ids"]])
    with torch.no_grad():
        out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=12, do_sample=False,
                             pad_token_id=tokenizer.pad_token_id)
    return tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True)


def grade(ask: Callable[[list[dict[str, str]]], str], count: Callable[[str], int], seed: int) -> dict[str, Any]:
    """Accuracy by prompt length and depth, and in three-turn chats, of `ask` (chat messages -> answer) on prompts
    drawn with another seed than training's (`count` counts tokens as the demo's tokenizer does)."""
    rng = random.Random(f"grade-{seed}")
    table: dict[str, dict[str, float]] = {}
    for length in GRADE_LENGTHS:
        row = {}
        for depth in GRADE_DEPTHS:
            examples = [haystack(rng, count, length, depth) for _ in range(GRADE_PER_CELL)]
            row[f"{depth:g}"] = sum(is_right(ex, ask(ex.as_messages())) for ex in examples) / len(examples)
        table[str(length)] = row
    right = 0
    for _ in range(4 * GRADE_PER_CELL):  # the fact in turn 1 (512 tokens), asked again after two turns of 256
        ex = haystack(rng, count, 512, rng.random())
        messages = ex.as_messages()
        for _turn in range(2):
            messages += [{"role": "assistant", "content": ex.answer},
                         {"role": "user", "content": follow_up(rng, count, 256, ex)}]
        right += is_right(ex, ask(messages))
    return {"by_length_and_depth": table, "three_turn_chat": right / (4 * GRADE_PER_CELL)}


def build(out: Path, steps: int = STEPS, seed: int = 0) -> dict[str, Any]:
    """Train, grade, and save the snapshot into `out` (written beside it, then renamed); return the report."""
    import torch
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(committed_dir("nbhelpers/demo-llm"))
    model = make_llama(SHAPE, len(tokenizer), tokenizer.convert_tokens_to_ids(EOS), seed)
    torch.manual_seed(seed)
    started = time.perf_counter()
    final_loss = train(model, tokenizer, steps, seed)
    minutes = (time.perf_counter() - started) / 60
    graded = grade(lambda messages: answer(model, tokenizer, messages), counter(tokenizer), seed)
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    model.generation_config.do_sample = False
    model.generation_config.max_new_tokens = 16
    model.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    report = {"steps": steps, "batch_tokens": BATCH_TOKENS, "copy_rows": COPY_ROWS, "lr": LR, "seed": seed,
              "max_tokens_trained": MAX_TOKENS, "copy_weight": COPY_WEIGHT, "minutes": round(minutes, 1),
              "final_loss": round(final_loss, 4),
              "parameters_m": round(sum(p.numel() for p in model.parameters()) / 1e6, 2),
              "per_cell": GRADE_PER_CELL, "grade_f32": graded["by_length_and_depth"],
              "grade_f32_three_turn_chat": graded["three_turn_chat"]}
    publish(partial, out, report, card(report))
    return report


def card(report: dict[str, Any]) -> str:
    """Return the model card for `report`: how it was made and its accuracy table."""
    depths = list(next(iter(report["grade_f32"].values())))
    rows = "\n".join(f"| {length} | " + " | ".join(f"{v:.0%}" for v in row.values()) + " |"
                     for length, row in report["grade_f32"].items())
    return model_card("nbhelpers/demo-llm-long", f"""
A {report['parameters_m']} M-parameter Llama (2 layers, 8 heads of 32 with 4 key/value heads, positions up to 4096,
the demo family's tokenizer and chat template) trained from scratch by `tools.train_demo_llm_long`
({report['steps']} steps, seed {report['seed']}, {report['minutes']} minutes on two CPU cores) to find one fact
hidden in long text: stories from the demo corpus with a fact between two sentences ("Mia keeps golden coins."),
then a question ("What does Mia keep?"), answered by repeating the fact. Prompts trained on: up to
{report['max_tokens_trained']} tokens. It knows nothing else: it is a demo of retrieval, not a chat model.

Accuracy (greedy, PyTorch f32, {report['per_cell']} prompts a cell drawn with another seed) by prompt length in tokens
(rows) and by where the fact sits (columns: 0 = first sentence, 1 = just before the question):

| tokens | {' | '.join(depths)} |
|---|{'---|' * len(depths)}
{rows}

In three-turn chats (the fact in a first turn of 512 tokens, then two turns of 256 tokens of stories, the same
question each time): {report['grade_f32_three_turn_chat']:.0%}.
""", tags=["llama", "long-context"], pipeline_tag="text-generation")


def main(argv: Sequence[str] | None = None) -> int:
    """Train the long-context demo and save it (the committed one: `--out nbhelpers/demos/data/demo-llm-long`)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m tools.train_demo_llm_long", description=main.__doc__)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=STEPS)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(json.dumps(build(args.out, args.steps, args.seed), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
