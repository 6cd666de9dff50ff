"""Each engine's fastest way to decode fewer target passes, on the trained demo pair of notebook 03, side by side.

Speculative decoding pays off only when the drafts are right, so random weights cannot show it: these rows run the
demo target (padded to ~100 M parameters), the demo draft and the demo EAGLE-3 head, at the recipe's bit width.
OpenVINO: plain greedy, the separate draft (4 tokens per step) and the EAGLE-3 head (a chain of 5), each pipeline
with the recipe's weights and ov_config. llama.cpp (llama-cpp-python's `Llama.generate`, greedy): plain, its prompt
lookup (`LlamaPromptLookupDecoding`) and the draft GGUF through its `draft_model` hook (`DraftLlama`), both models at
the equal-bit type. Every engine gets the same chat-template token ids, a fresh set of prompts per round, and is
timed with the wall clock around its call (prefill included); output is compared with the same engine's plain
greedy output, prompt by prompt.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nbhelpers.bench.workers import EngineSpec, Measured, run_interleaved
from nbhelpers.cache import build_once
from nbhelpers.timing import spread

if TYPE_CHECKING:
    from nbhelpers.bench.run import BenchConfig

TARGET, DRAFT, HEAD = "nbhelpers/demo-llm-padded", "nbhelpers/demo-llm-draft", "nbhelpers/demo-llm-eagle3"
HEAD_LAYERS = [0, 1, 2]  # the target layers the demo head was trained on (GenAI would pick others for 3 layers)
DRAFT_TOKENS, EAGLE_TOKENS, LOOKUP_TOKENS = 4, 5, 4


@dataclass(frozen=True)
class Generated:
    """One greedy generation: wall-clock seconds (prefill included), its new token ids, and target passes."""

    seconds: float
    tokens: list[int] = field(default_factory=list)
    passes: int = 0


class GenAIDecoder:
    """`LLMPipeline` on `target`, alone or with a `draft` (a draft model or an EAGLE-3 head) proposing `k` tokens."""

    engine = "openvino"

    def __init__(self, target: str, precision: str, draft: str | None = None, k: int = 0, **properties: Any) -> None:
        import openvino_genai as ov_genai

        from nbhelpers.bench.engines import ir_weight_bytes

        self.precision, self.k = precision, k
        extra = {"draft_model": ov_genai.draft_model(draft, "CPU", **properties)} if draft else {}
        self.pipe = ov_genai.LLMPipeline(target, "CPU", **properties, **extra)
        self.weight_bytes = ir_weight_bytes(Path(target))

    def generate(self, prompt: list[int], new_tokens: int) -> Generated:
        import openvino as ov
        import openvino_genai as ov_genai

        config = ov_genai.GenerationConfig(max_new_tokens=new_tokens, do_sample=False,
                                           **({"num_assistant_tokens": self.k} if self.k else {}))
        start = time.perf_counter()
        result = self.pipe.generate(ov.Tensor(np.array([prompt], dtype=np.int64)), config)
        seconds = time.perf_counter() - start
        tokens = [int(t) for t in result.tokens[0]]
        accepted = result.extended_perf_metrics.get_num_accepted_tokens() if self.k else 0
        return Generated(seconds, tokens, len(tokens) - accepted)  # a pass: its accepted drafts and one of its own


class DraftLlama:
    """A llama.cpp draft model for `Llama(draft_model=...)`: greedy `k` tokens from a second GGUF.

    llama-cpp-python calls it with every token so far; it keeps its own cache of the longest prefix it has seen.
    """

    def __init__(self, path: str, k: int, threads: int) -> None:
        from llama_cpp import Llama

        self.llm, self.k = Llama(model_path=path, n_ctx=1024, n_threads=threads, n_threads_batch=threads,
                                 flash_attn=True, verbose=False, seed=0), k

    def __call__(self, input_ids: np.ndarray, /, **kwargs: Any) -> np.ndarray:
        import llama_cpp

        ids, have = [int(t) for t in input_ids], self.llm.input_ids[:self.llm.n_tokens]
        same = 0
        while same < min(len(have), len(ids) - 1) and have[same] == ids[same]:
            same += 1
        self.llm.n_tokens = same  # eval() drops the cache beyond it
        self.llm.eval(ids[same:])
        drafted: list[int] = []
        for _ in range(self.k):
            last = llama_cpp.llama_get_logits_ith(self.llm.ctx, -1)
            logits = np.ctypeslib.as_array(last, shape=(self.llm.n_vocab(),))
            drafted.append(int(logits.argmax()))
            if len(drafted) < self.k:
                self.llm.eval(drafted[-1:])
        return np.array(drafted, dtype=np.intc)


class LlamaCppDecoder:
    """llama-cpp-python's `Llama.generate`, greedy (temperature 0), alone, with prompt lookup, or with a draft GGUF."""

    engine = "llama.cpp"

    def __init__(self, path: str, precision: str, draft: str | None = None, lookup: int = 0, k: int = 0) -> None:
        import psutil
        from llama_cpp import Llama
        from llama_cpp.llama_speculative import LlamaPromptLookupDecoding

        from nbhelpers.bench.llama_cpp_engine import gguf_weight_bytes

        threads = psutil.cpu_count(logical=False) or 1
        drafter = (LlamaPromptLookupDecoding(num_pred_tokens=lookup) if lookup
                   else DraftLlama(draft, k, threads) if draft else None)
        self.precision = precision
        self.llm = Llama(model_path=path, n_ctx=1024, n_threads=threads, n_threads_batch=threads, flash_attn=True,
                         verbose=True, seed=0, draft_model=drafter)
        self.weight_bytes = gguf_weight_bytes(Path(path))
        self.passes, evaluate = 0, self.llm.eval

        def counted(tokens: Any) -> None:  # generate() calls eval once per target pass
            self.passes += 1
            evaluate(tokens)

        self.llm.eval = counted

    def generate(self, prompt: list[int], new_tokens: int) -> Generated:
        self.llm.reset()  # no prefix reuse between prompts
        self.passes, tokens, eos = 0, [], 0
        start = time.perf_counter()
        for token in self.llm.generate(prompt, temp=0.0, top_k=1, top_p=1.0, min_p=0.0, repeat_penalty=1.0):
            if token == self.llm.token_eos():
                eos = 1  # as GenAI's counts: the pass that chose the end is not one of the tokens' passes
                break
            tokens.append(int(token))
            if len(tokens) == new_tokens:
                break
        return Generated(time.perf_counter() - start, tokens, self.passes - eos)


def eagle3_head(layers: list[int] = HEAD_LAYERS) -> Path:
    """The demo EAGLE-3 head's export with the target layers it reads written into its IR (GenAI's
    `hidden_layers_list` runtime info), in a cached copy; return its folder."""
    import shutil

    import openvino as ov

    from nbhelpers.export import export_eagle3_head

    head = export_eagle3_head(HEAD)

    def with_layers(tmp: Path) -> None:
        model = ov.Core().read_model(head / "openvino_model.xml")
        model.set_rt_info(layers, "hidden_layers_list")
        shutil.copytree(head, tmp, dirs_exist_ok=True)  # with the configs GenAI reads next to the model
        ov.save_model(model, tmp / "openvino_model.xml")

    return build_once(head.with_name(head.name + "-layers-" + "-".join(map(str, layers))), with_layers,
                      required=("openvino_model.xml", "openvino_model.bin"))


def openvino_specs(recipe: dict[str, Any], quick: bool) -> list[EngineSpec]:
    """OpenVINO's rows: plain, separate draft, EAGLE-3 chain, all with the recipe (quick: the tiny random model
    drafting for itself, plain and draft only)."""
    from nbhelpers.export import export_llm

    flags = recipe["export_flags"][1:]
    if quick:
        from nbhelpers.bench import engines as eng
        from nbhelpers.settings import cache_dir

        root = cache_dir() / "bench" / "tiny"
        target = draft = eng.export_openvino(eng.build_model("tiny", root / "hf"), root / "ov-fp16", "fp16")
    else:
        target, draft = export_llm(TARGET, *flags), export_llm(DRAFT, *flags)
    factory, props = f"{__name__}:GenAIDecoder", recipe["ov_config"]
    specs = [EngineSpec("openvino", "plain", factory, {"target": str(target), "precision": "plain", **props}),
             EngineSpec("openvino", f"draft model, k={DRAFT_TOKENS}", factory,
                        {"target": str(target), "precision": "draft", "draft": str(draft), "k": DRAFT_TOKENS, **props})]
    if not quick:
        specs.append(EngineSpec("openvino", f"EAGLE-3 chain, k={EAGLE_TOKENS}", factory, {
            "target": str(target), "precision": "eagle3", "draft": str(eagle3_head()), "k": EAGLE_TOKENS, **props}))
    return specs


def llama_cpp_specs(kind: str) -> list[EngineSpec]:
    """llama.cpp's rows: plain, prompt lookup and the draft GGUF, both models converted and quantised to `kind`."""
    from nbhelpers.bench.llama_cpp_engine import gguf_file
    from nbhelpers.export import ov_dir
    from nbhelpers.models import model_source

    target, draft = (str(gguf_file(Path(model_source(n)), ov_dir(n, "gguf"), kind)) for n in (TARGET, DRAFT))
    factory = f"{__name__}:LlamaCppDecoder"
    return [EngineSpec("llama.cpp", "plain", factory, {"path": target, "precision": kind}),
            EngineSpec("llama.cpp", f"prompt lookup, k={LOOKUP_TOKENS}", factory,
                       {"path": target, "precision": kind, "lookup": LOOKUP_TOKENS}),
            EngineSpec("llama.cpp", f"draft model, k={DRAFT_TOKENS}", factory,
                       {"path": target, "precision": kind, "draft": draft, "k": DRAFT_TOKENS})]


def prompt_ids(count: int) -> list[list[int]]:
    """`count` held-out story requests of the demo corpus as chat-template token ids (the target's tokenizer)."""
    from transformers import AutoTokenizer

    from nbhelpers.demos.corpus import chat_corpus
    from nbhelpers.models import model_source

    tokenizer = AutoTokenizer.from_pretrained(model_source(TARGET))
    users = [c.user for c in chat_corpus("heldout")]
    return [list(tokenizer.apply_chat_template([{"role": "user", "content": users[i % len(users)]}],
                                               add_generation_prompt=True, tokenize=True, return_dict=False))
            for i in range(count)]


def rows(measured: list[Measured], kind_of: Callable[[Measured], str]) -> list[dict[str, Any]]:
    """One row per method: end-to-end tokens/s per round (median [min-max]), speed-up over the same engine's plain
    run round by round, tokens per target pass, and on how many prompts the tokens equal plain greedy's."""
    plain = {m.spec.engine: m for m in measured if m.spec.precision == "plain" and m.status == "ok"}
    out = []
    for m in measured:
        row: dict[str, Any] = {"engine": m.spec.engine, "method": m.spec.precision, "weights": kind_of(m),
                               "status": m.status}
        if m.status == "ok":
            rounds = [[Generated(**g) for g in answer] for answer in m.results]
            tps = [sum(len(g.tokens) for g in r) / sum(g.seconds for g in r) for r in rounds]
            row.update(tokens_per_s=statistics.median(tps), tokens_per_s_low=min(tps), tokens_per_s_high=max(tps),
                       tokens_per_pass=sum(len(g.tokens) for r in rounds for g in r) / max(
                           1, sum(g.passes for r in rounds for g in r)))
            base = plain.get(m.spec.engine)
            if base is not None:
                base_rounds = [[Generated(**g) for g in answer] for answer in base.results]
                ratios = spread([a / (sum(len(g.tokens) for g in b) / sum(g.seconds for g in b))
                                 for a, b in zip(tps, base_rounds, strict=True)])
                same = [g.tokens == p.tokens for r, b in zip(rounds, base_rounds, strict=True)
                        for g, p in zip(r, b, strict=True)]
                row.update(speedup=ratios.median, speedup_low=ratios.low, speedup_high=ratios.high,
                           identical=sum(same), compared=len(same))
        else:
            row.update(failed_during=m.failed_during, stderr_tail=m.stderr_tail)
        out.append(row)
    return out


def measure(specs: list[EngineSpec], prompts: list[list[int]], per_round: int, new_tokens: int, warmup: int,
            repeats: int, timeout: float, log_dir: Path, on_done: Callable[[Measured], None] | None = None
            ) -> list[Measured]:
    """Run every spec in its worker, rounds interleaved, each round the next `per_round` prompts (all specs alike)."""
    def request(rep: int) -> list[tuple[list[int], int]]:
        start = rep * per_round % len(prompts)
        return [(p, new_tokens) for p in (prompts * 2)[start:start + per_round]]

    return run_interleaved(specs, request, warmup, repeats, timeout, log_dir, on_done=on_done)


def run_section(config: BenchConfig, recipe: dict[str, Any], llama_cpp: bool, out_dir: Path,
                log: Callable[[str], None]) -> list[dict[str, Any]]:
    """Measure both engines' speculative rows with the recipe (llama.cpp at its equal-bit type, if installed); each row
    is appended to `out_dir/rows.jsonl` as it is known. Returns the rows."""
    from nbhelpers.bench.recipe import EQUAL_BITS, bits
    from nbhelpers.bench.report import append_row

    kind = EQUAL_BITS[bits(recipe["weights"])][0]
    log(f"speculative decoding on the demo pair: OpenVINO {recipe['label']}" + (f", llama.cpp {kind}" * llama_cpp))
    specs = openvino_specs(recipe, config.quick) + (llama_cpp_specs(kind) if llama_cpp and not config.quick else [])
    per_round = 2 if config.quick else 4
    weights = {"openvino": recipe["label"], "llama.cpp": kind}
    found = rows(measure(specs, prompt_ids((config.warmup + config.repeats) * per_round), per_round,
                         config.new_tokens, config.warmup, config.repeats, config.timeout,
                         out_dir / "logs" / "speculative"), lambda m: weights[m.spec.engine])
    for row in found:
        append_row(out_dir / "rows.jsonl", {"kind": "speculative", **row})
    return found
