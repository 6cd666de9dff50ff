from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from nbhelpers.demos import llm as demo_llm
from nbhelpers.demos.corpus import chat_corpus
from tools import train_demo_llm as trainer

TINY_TARGET = demo_llm.LlamaShape(128, 256, 1, 2, 1, max_position_embeddings=256)
TINY_DRAFT = demo_llm.LlamaShape(128, 128, 1, 1, 1, max_position_embeddings=256)


@pytest.fixture(scope="module")
def tokenizer():  # noqa: ANN201
    return trainer.build_tokenizer(chat_corpus("train")[:100], vocab_size=300)


def test_tokenizer_has_chat_template_eos_and_round_trips(tokenizer) -> None:  # noqa: ANN001
    text = "The capital of France is Paris."
    assert tokenizer.decode(tokenizer(text)["input_ids"]) == text
    assert tokenizer.eos_token == demo_llm.EOS
    messages = [{"role": "user", "content": "Hi"}]
    prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert prompt == f"{demo_llm.USER}\nHi\n{demo_llm.ASSISTANT}\n"


def test_encode_chat_masks_everything_but_the_answer(tokenizer) -> None:  # noqa: ANN001
    conv = chat_corpus("train")[0]
    ids, labels = trainer.encode_chat(tokenizer, conv)
    answer = [t for t in labels if t != -100]
    assert len(ids) == len(labels) and labels[0] == -100
    assert tokenizer.decode(answer) == conv.assistant + demo_llm.EOS


def test_hidden_sizes_fit_int4_group_size() -> None:
    for shape in (demo_llm.TARGET_SHAPE, demo_llm.DRAFT_SHAPE, demo_llm.COST_SHAPE):
        assert shape.hidden_size % 128 == 0 and shape.intermediate_size % 128 == 0


def test_train_reduces_loss_and_distillation_runs(tokenizer) -> None:  # noqa: ANN001
    examples = [trainer.encode_chat(tokenizer, c) for c in chat_corpus("train")[:40]]
    eos = tokenizer.eos_token_id
    target = demo_llm.make_llama(TINY_TARGET, len(tokenizer), eos, seed=0)
    losses: list[float] = []
    report = trainer.train(target, examples, 30, eos, batch_size=8, progress=lambda s, loss: losses.append(loss))
    assert report.steps == 30 and len(losses) == 30 and losses[-1] < losses[0]
    draft = demo_llm.make_llama(TINY_DRAFT, len(tokenizer), eos, seed=1)
    d = trainer.train(draft, examples, 3, eos, teacher=target, batch_size=4)
    assert d.parameters < report.parameters


class FixedArgmax(torch.nn.Module):
    """A stand-in model whose next-token argmax at every position is `choose(input_ids)`."""

    def __init__(self, vocab: int, choose) -> None:  # noqa: ANN001
        super().__init__()
        self.vocab, self.choose = vocab, choose

    def forward(self, input_ids: torch.Tensor):  # noqa: ANN201
        return type("Out", (), {"logits": torch.nn.functional.one_hot(self.choose(input_ids), self.vocab).float()})


def test_token_agreement_counts_equal_argmaxes_on_the_answer_only(tokenizer) -> None:  # noqa: ANN001
    examples = [trainer.encode_chat(tokenizer, c) for c in chat_corpus("train")[:5]]
    vocab, common = len(tokenizer), tokenizer.convert_tokens_to_ids(".")
    oracle = FixedArgmax(vocab, lambda ids: torch.roll(ids, -1, dims=1))  # predicts the next token
    dotty = FixedArgmax(vocab, lambda ids: torch.full_like(ids, common))  # always "."
    answer = [t for _, labels in examples for t in labels[1:] if t != -100]  # the positions that count
    expected = answer.count(common) / len(answer)
    assert 0 < expected < 1, expected
    assert trainer.token_agreement(dotty, oracle, examples) == pytest.approx(expected)


def test_make_llama_is_deterministic() -> None:
    a = demo_llm.make_llama(TINY_DRAFT, 300, 0, seed=3)
    b = demo_llm.make_llama(TINY_DRAFT, 300, 0, seed=3)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=False))


def test_build_family_saves_hub_snapshots(tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target, draft = tmp_path / "t", tmp_path / "d"
    target.mkdir(), draft.mkdir()
    phases: set[str] = set()
    t, d = trainer.build_family(target, draft, target_steps=3, draft_steps=2, target_shape=TINY_TARGET,
                                draft_shape=TINY_DRAFT, progress=lambda phase, step, total: phases.add(phase))
    assert phases == {"target", "draft"} and "agreement" in d.extra and "heldout_loss" in t.extra
    for folder in (target, draft):
        names = {p.name for p in folder.iterdir()}
        assert {"config.json", "model.safetensors", "generation_config.json", "tokenizer.json", "README.md"} <= names
        assert json.loads((folder / "config.json").read_text())["architectures"] == ["LlamaForCausalLM"]
    assert AutoTokenizer.from_pretrained(draft).chat_template == demo_llm.CHAT_TEMPLATE
    assert AutoModelForCausalLM.from_pretrained(target).num_parameters() == t.parameters


def test_cost_model_uses_demo_tokenizer(tmp_path: Path, tokenizer) -> None:  # noqa: ANN001
    tokenizer.save_pretrained(tmp_path / "tok")
    n = demo_llm.build_cost_model(tmp_path / "cost", tmp_path / "tok", shape=TINY_DRAFT)
    config = json.loads((tmp_path / "cost" / "config.json").read_text())
    assert config["vocab_size"] == len(tokenizer) and n > 0


def test_pad_for_cost_keeps_the_function(tmp_path: Path, tokenizer) -> None:  # noqa: ANN001
    from transformers import AutoModelForCausalLM

    small = demo_llm.make_llama(TINY_TARGET, len(tokenizer), tokenizer.eos_token_id, seed=0)
    demo_llm.save_snapshot(small, tokenizer, tmp_path / "small", "card")
    n = demo_llm.pad_for_cost(tmp_path / "small", tmp_path / "big", extra_layers=2, intermediate_size=512)
    big = AutoModelForCausalLM.from_pretrained(tmp_path / "big", dtype=torch.float32)
    assert n > 2 * small.num_parameters() and big.config.num_hidden_layers == TINY_TARGET.num_hidden_layers + 2
    ids = torch.tensor([tokenizer("The capital of France is Paris.")["input_ids"]])
    with torch.no_grad():  # same logits up to the float16 rounding of the saved weights
        expected = small.half().float()(input_ids=ids).logits
        assert torch.allclose(big(input_ids=ids).logits, expected, atol=1e-4)
    with pytest.raises(ValueError, match="smaller than"):
        demo_llm.pad_for_cost(tmp_path / "small", tmp_path / "bad", intermediate_size=64)


def test_the_committed_family_is_what_the_code_builds() -> None:
    from transformers import AutoTokenizer, LlamaConfig

    built = trainer.build_tokenizer(chat_corpus("train"))
    for member, shape in (("target", demo_llm.TARGET_SHAPE), ("draft", demo_llm.DRAFT_SHAPE)):
        folder = demo_llm.DATA / member
        config = LlamaConfig.from_pretrained(folder)
        assert (config.hidden_size, config.intermediate_size, config.num_hidden_layers, config.num_attention_heads,
                config.num_key_value_heads) == (shape.hidden_size, shape.intermediate_size, shape.num_hidden_layers,
                                                shape.num_attention_heads, shape.num_key_value_heads)
        committed = AutoTokenizer.from_pretrained(folder)
        assert committed.get_vocab() == built.get_vocab() and committed.chat_template == demo_llm.CHAT_TEMPLATE
        report = json.loads((folder / "training_report.json").read_text())
        assert report["steps"] == (600 if member == "target" else 400)


def test_the_committed_target_answers_its_facts() -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = demo_llm.DATA / "target"
    tokenizer, model = AutoTokenizer.from_pretrained(folder), AutoModelForCausalLM.from_pretrained(folder).eval()
    facts = [c for c in chat_corpus("train") if c.user.startswith(("What is the capital", "What sound"))]
    right = 0
    for conv in facts:
        prompt = tokenizer.apply_chat_template(conv.as_messages()[:1], add_generation_prompt=True, tokenize=False)
        ids = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            out = model.generate(ids, max_new_tokens=24, do_sample=False, pad_token_id=tokenizer.eos_token_id)
        right += tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True).strip() == conv.assistant
    assert right == len(facts), f"{right}/{len(facts)}"
