"""Fine-tune the demo target into the tool-calling demo (`nbhelpers/demo-llm-tools`) and write it as a hub snapshot.

The committed model in `nbhelpers/demos/data/demo-llm-tools` is what

    python -m tools.train_demo_llm_tools --out nbhelpers/demos/data/demo-llm-tools

wrote (seed 0; the minutes are in its training_report.json). It starts from the committed demo target's weights and
tokenizer (`nbhelpers/demo-llm`, left untouched: 00-09's figures rely on it) and learns, with the tools of
`nbhelpers.demos.tools_corpus` offered in the prompt: a weather question -> a `get_weather` call, arithmetic -> a
`calculator` call, the demo corpus's questions -> text, after a tool's result -> a sentence using it, and after a
wrong call and the error it got -> the right call. Every exchange is trained twice: with a short `<think>` section
first, and with thinking turned off (the template then ends the prompt with an empty one, as Qwen3's does). The loss
covers the last assistant turn only, weighted COPY_WEIGHT times on the values copied from the question or result.

The grade (the report's figures) runs the exported model through GenAI's `LLMPipeline` at f32, on phrasings never
seen in training: the held-out split (cities and numbers never in a tool example) and the `known` split (cities of
the training calls).
"""

from __future__ import annotations

import json
import random
import re
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbhelpers.demos import committed_dir, model_card
from nbhelpers.demos.llm import EOS
from nbhelpers.demos.tools_corpus import CHAT_TEMPLATE, MAX_NEW_TOKENS, ToolExample, tool_corpus
from tools.training import lr_at, optimizer_step, publish, weighted_loss

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

STEPS = 1600
BATCH = 16
LR = 1e-3
COPY_WEIGHT = 5.0  # the loss weight of argument values (and of the token that ends each): copying is the hard part


def encode(tokenizer: PreTrainedTokenizerFast, ex: ToolExample, thinking: bool
           ) -> tuple[list[int], list[int], list[float]]:
    """Tokenise one exchange; return (input_ids, labels, weights): labels are -100 everywhere but the assistant's
    last turn, weights COPY_WEIGHT on the tokens of values copied from the question or the tool's result."""
    extra = {} if thinking else {"enable_thinking": False}
    prompt = tokenizer.apply_chat_template(ex.messages, tools=ex.tools, chat_template=CHAT_TEMPLATE, tokenize=False,
                                           add_generation_prompt=True, **extra)
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    answer = ex.target_text(thinking) + EOS
    enc = tokenizer(answer, add_special_tokens=False, return_offsets_mapping=True)
    values = [str(v) for v in (ex.call or {}).get("arguments", {}).values()]
    if ex.kind == "answer":
        values += [str(v) for v in json.loads(ex.messages[-1]["content"]).values()]
    spans = [(m.start(), m.end()) for v in values for m in re.finditer(re.escape(v), answer)]
    weights = [1.0] * len(enc["input_ids"])
    for i, (a, b) in enumerate(enc["offset_mapping"]):
        if any(a < e and b > s0 for s0, e in spans):
            weights[i] = COPY_WEIGHT
            if i + 1 < len(weights):
                weights[i + 1] = COPY_WEIGHT
    ids = prompt_ids + enc["input_ids"]
    return ids, [-100] * len(prompt_ids) + enc["input_ids"], [0.0] * len(prompt_ids) + weights


def fine_tune(model: Any, examples: list[tuple[list[int], list[int], list[float]]], steps: int, pad_id: int,
              seed: int, watch: Callable[[int], str] | None = None) -> float:
    """Train `model` on `examples` (weighted cross-entropy); return the last loss."""
    import torch

    rng = random.Random(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=0.01, betas=(0.9, 0.98))
    model.train()
    loss_value = float("nan")
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = lr_at(step, steps, LR)
        rows = [rng.choice(examples) for _ in range(BATCH)]
        loss = weighted_loss(model, rows, pad_id)
        loss_value = optimizer_step(opt, loss, model)
        note = watch(step) if watch is not None and (step + 1) % 200 == 0 else ""
        model.train()
        print(f"step {step + 1}/{steps} loss {loss_value:.3f} {note}", end="\n" if note else "\r", flush=True)
    model.eval()
    return loss_value


def copy_score(model: Any, examples: list[tuple[list[int], list[int], list[float]]]) -> str:
    """Return the teacher-forced share of held-out calls whose every token is predicted right (a quick watch)."""
    import torch

    model.eval()
    right = 0
    with torch.no_grad():
        for ids, labels, _ in examples:
            pred = model(input_ids=torch.tensor([ids])).logits[0, :-1].argmax(-1)
            target = torch.tensor(labels[1:])
            keep = target != -100
            right += bool((pred[keep] == target[keep]).all())
    return f"held-out calls right (teacher-forced) {right}/{len(examples)}"


def build(out: Path, steps: int = STEPS, seed: int = 0) -> dict[str, Any]:
    """Fine-tune, save the snapshot into `out` (written to a sibling folder, then renamed), grade it; return the
    training report."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(seed)
    source = committed_dir("nbhelpers/demo-llm")
    tokenizer = AutoTokenizer.from_pretrained(source)
    tokenizer.chat_template = CHAT_TEMPLATE
    model = AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32)
    examples = [encode(tokenizer, ex, thinking) for ex in tool_corpus("train", seed=seed) for thinking in (True, False)]
    heldout = [encode(tokenizer, ex, thinking) for ex in tool_corpus("heldout", seed=seed, n=16) if ex.call
               for thinking in (True, False)]
    start = time.perf_counter()
    final_loss = fine_tune(model, examples, steps, tokenizer.pad_token_id, seed,
                           watch=lambda step: copy_score(model, heldout))
    minutes = (time.perf_counter() - start) / 60
    print()
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    model.generation_config.do_sample = False
    model.generation_config.max_new_tokens = MAX_NEW_TOKENS
    model.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    grade = grade_folder(partial)
    n_params = sum(p.numel() for p in model.parameters())
    result = {"source": "nbhelpers/demo-llm", "steps": steps, "batch": BATCH, "lr": LR, "copy_weight": COPY_WEIGHT,
              "seed": seed, "examples": len(examples), "minutes": round(minutes, 1),
              "final_loss": round(final_loss, 4), "parameters_m": round(n_params / 1e6, 2),
              "grade_f32_heldout": grade["heldout"], "grade_f32_known": grade["known"]}
    publish(partial, out, result, card(result))
    return result


def card(report: dict[str, Any]) -> str:
    """Return the model card for `report`."""
    g, k = report["grade_f32_heldout"], report["grade_f32_known"]
    return model_card("nbhelpers/demo-llm-tools", f"""
The demo target (`nbhelpers/demo-llm`, {report['parameters_m']} M parameters, same tokenizer) fine-tuned by
`tools.train_demo_llm_tools` ({report['steps']} steps, batch {report['batch']}, seed {report['seed']},
{report['minutes']} minutes on two CPU cores) to call two functions the way Qwen3 does: the tools are listed in the
prompt, a call is `<tool_call>{{"name": ..., "arguments": {{...}}}}</tool_call>` (the Hermes format), a tool's result
comes back in a `tool` message, and each answer opens with a short `<think>` section unless the template variable
`enable_thinking` is false.

Graded through OpenVINO GenAI's `LLMPipeline` (fp16 export, f32 compute), thinking on / off, on questions in
phrasings it never saw. Held-out cities and numbers (never in a training call, their tokens seen elsewhere): weather
calls right {g['weather_on']:.0%} / {g['weather_off']:.0%}, arithmetic calls {g['math_on']:.0%} /
{g['math_off']:.0%}, text for questions that need no tool {g['text_on']:.0%} / {g['text_off']:.0%}, an answer that
uses the tool's result {g['answer_on']:.0%} / {g['answer_off']:.0%}, the right call after a wrong one and its error
{g['retry_on']:.0%} / {g['retry_off']:.0%}. Cities it was trained to call: weather calls right
{k['weather_on']:.0%} / {k['weather_off']:.0%}.

What limits it: a city is spelt in other tokens inside a JSON string than in the question (' Bergen' is 'ĠB', 'er',
'g', 'en'; '"Bergen"' is '"', 'B', 'er', 'g', 'en'), and this 3-layer model learnt no such copy in its training
time: it recalls the cities of its training calls (four in five weather examples use one of 33 real cities, one in
five a made-up name) but writes no held-out one, so the held-out retries (a city or numbers to copy again after an
error) fail too. Digits are the same tokens in the question and in the call, and the think section does not restate
the numbers, so arithmetic calls mostly copy them. The aim, 90 % right on held-out arguments, is met for arithmetic
with thinking on, not for cities.
""", tags=["llama", "tool-calling"], pipeline_tag="text-generation")


def grade_folder(folder: Path) -> dict[str, dict[str, float]]:
    """Export `folder` to OpenVINO (fp16 as the notebook does, in a temporary folder) and grade it on the held-out
    split at f32: notebook 10 grades the same examples the same way and compares with this figure."""
    import subprocess
    import tempfile

    from nbhelpers.demos.tools_corpus import grade
    from nbhelpers.export import export_command

    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(export_command(str(folder), Path(tmp), "fp16"), check=True, capture_output=True)
        f32 = {"INFERENCE_PRECISION_HINT": "f32"}
        return {"heldout": grade(tmp, tool_corpus("heldout"), f32), "known": grade(tmp, tool_corpus("known"), f32)}


def main(argv: Sequence[str] | None = None) -> int:
    """Fine-tune the tool-calling demo and save it (the committed one: `--out nbhelpers/demos/data/demo-llm-tools`)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m tools.train_demo_llm_tools", description=main.__doc__)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=STEPS)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(json.dumps(build(args.out, args.steps, args.seed), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
