"""The real default LLMs' twins through the notebooks' own code: 00's export and pipeline, 02's compression
variants and optimum-cli flags, 07's NPU layouts, and OpenVINO's logits against PyTorch's at f32."""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nbhelpers.export import OV_LLM_FILES, export_command
from tests.twins.llm import build_llm_twin

pytestmark = pytest.mark.slow
NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
SMOL, TINY = "HuggingFaceTB/SmolLM2-360M-Instruct", "TinyLlama/TinyLlama-1.1B-Chat-v1.0"
PHI3 = "microsoft/Phi-3-mini-4k-instruct"
PROMPTS = ["What is the capital of France?", "Tell me a story about a cat."]
# 00's text, then spaces, byte fallback (the owl, the é), control characters and chat-template tokens in plain text
TOKENIZER_TEXTS = ["The capital of France is Paris.", "  two  spaces", "Ada 🦉 flew over the café.", "line\nbreak\ttab",
                   "<|user|>\nHi<|end|>"]


def notebook_code(notebook: str, cell_id: str, start: str | None = None, stop: str | None = None) -> str:
    """The source of one cell of a notebook, from the line starting with `start` up to the one starting with `stop`."""
    cells = json.loads(next(NOTEBOOKS.glob(f"{notebook}-*.ipynb")).read_text(encoding="utf-8"))["cells"]
    source = "".join(next(c for c in cells if c.get("id") == cell_id)["source"])
    if start:
        source = source[source.index(start):]
    if stop:
        source = source[:source.index(stop)]
    return source


def run_notebook_code(*cells: str) -> dict[str, Any]:
    """Run notebook code (one or more cells, in order) in one namespace with the notebooks' imports; return it."""
    import shutil

    import nncf
    import openvino as ov

    namespace: dict[str, Any] = {"nncf": nncf, "ov": ov, "np": np, "shutil": shutil, "core": ov.Core()}
    for code in cells:
        exec(compile(code, "<notebook cell>", "exec"), namespace)  # noqa: S102  the notebook's own definitions
    return namespace


@pytest.fixture(scope="module")
def twins(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("twins")
    return {name: build_llm_twin(root, name) for name in (SMOL, TINY)}


@pytest.fixture(scope="module")
def exports(twins: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Path]:
    """fp32 exports of both twins (the comparison with PyTorch) and their fp16 exports (00, 02, 07)."""
    root, done = tmp_path_factory.mktemp("exports"), {}
    for name, weights in ((SMOL, "fp32"), (SMOL, "fp16"), (TINY, "fp32"), (TINY, "fp16")):
        out = root / f"{name.split('/')[1]}-{weights}"
        subprocess.run(export_command(str(twins[name]), out, weights), check=True, capture_output=True)
        assert all((out / f).is_file() for f in OV_LLM_FILES)
        done[name, weights] = out
    return done


def weight_layout(folder: Path) -> Counter:
    """Count the compressed weights of an LLM IR by (element type, group size or "channel", zero points or not)."""
    import openvino as ov

    model = ov.Core().read_model(folder / "openvino_model.xml")
    ops = [op for op in model.get_ops() if op.get_type_name() == "Constant"]
    zero_points = {op.get_friendly_name().rsplit("/zero_point", 1)[0] for op in ops
                   if op.get_friendly_name().endswith("zero_point")}
    weights = [op for op in ops if op.get_element_type() in (ov.Type.u4, ov.Type.i4, ov.Type.u8, ov.Type.i8)
               and not op.get_friendly_name().endswith("zero_point")]
    return Counter((op.get_element_type().get_type_name(), op.get_output_shape(0)[-1]
                    if len(op.get_output_shape(0)) == 3 else "channel", op.get_friendly_name() in zero_points)
                   for op in weights)


def chat_ids(folder: Path, text: str) -> np.ndarray:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    return tokenizer.apply_chat_template([{"role": "user", "content": text}], add_generation_prompt=True,
                                         return_tensors="np", return_dict=True)["input_ids"]


@pytest.mark.parametrize("name", [SMOL, TINY])
def test_openvino_computes_what_pytorch_computes_at_f32(name: str, twins: dict, exports: dict) -> None:
    """Measured on an AMD EPYC: max |logit difference| 8e-4 (SmolLM2) and 1.7e-3 (TinyLlama) at logit scales of
    30-50; every next-token argmax and 8 greedy tokens equal, and different for different prompts."""
    import openvino as ov
    import openvino_genai as ov_genai
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(twins[name], dtype=torch.float32).eval()
    compiled = ov.Core().compile_model(exports[name, "fp32"] / "openvino_model.xml", "CPU",
                                       {"INFERENCE_PRECISION_HINT": "f32"})
    pipe = ov_genai.LLMPipeline(exports[name, "fp32"], "CPU", INFERENCE_PRECISION_HINT="f32")
    answers = []
    for text in PROMPTS:
        ids = chat_ids(twins[name], text)
        n = ids.shape[1]
        with torch.no_grad():
            expected = model(torch.from_numpy(ids)).logits[0].numpy()
            greedy = model.generate(torch.from_numpy(ids), attention_mask=torch.ones_like(torch.from_numpy(ids)),
                                    max_new_tokens=8, do_sample=False)[0, n:].tolist()
        request = compiled.create_infer_request()
        logits = request.infer({"input_ids": ids, "attention_mask": np.ones_like(ids),
                                "position_ids": np.arange(n)[None], "beam_idx": np.zeros(1, np.int32)})["logits"][0]
        assert np.abs(logits - expected).max() < 1e-2, np.abs(logits - expected).max()
        assert (logits.argmax(-1) == expected.argmax(-1)).all()
        answers.append(list(pipe.generate(ov.Tensor(ids), max_new_tokens=8, do_sample=False).tokens[0]))
        assert answers[-1] == greedy, (answers[-1], greedy)
    assert answers[0] != answers[1], "the random twin's answer depends on its input"


def test_00_export_tokenizer_and_pipeline(twins: dict, exports: dict) -> None:
    """00: the fp16 export's OpenVINO tokenizer gives the Hugging Face ids, and LLMPipeline chats with the template."""
    import openvino_genai as ov_genai
    from transformers import AutoTokenizer

    folder = exports[SMOL, "fp16"]
    text = "The capital of France is Paris."
    assert ov_genai.Tokenizer(folder).encode(text).input_ids.data[0].tolist() == \
        AutoTokenizer.from_pretrained(twins[SMOL])(text)["input_ids"]
    result = ov_genai.LLMPipeline(folder, "CPU").generate(["Hi"], max_new_tokens=4)
    assert result.perf_metrics.get_num_input_tokens() == chat_ids(twins[SMOL], "Hi").shape[1]  # template applied
    assert result.perf_metrics.get_num_generated_tokens() == 4


def test_02_every_variant_compresses_and_its_cli_flags_work_on_960_wide_layers(twins: dict, exports: dict,
                                                                                tmp_path: Path) -> None:
    """02's compress() and VARIANTS, run as written, on SmolLM2-360M's 960-wide layers; each variant's optimum-cli
    flags give the same weight element types, group sizes and zero points as its NNCF arguments (without
    --group-size-fallback adjust, NNCF refuses group 128 there)."""
    import nncf
    import openvino as ov

    cell = run_notebook_code(notebook_code("02", "3d0dfc80"), notebook_code("02", "compress-fn"))
    fp16 = exports[SMOL, "fp16"]
    for variant, (args, _) in cell["VARIANTS"].items():
        (tmp_path / variant).mkdir()
        cell["compress"](fp16, tmp_path / variant, **args)
        assert all((tmp_path / variant / f).is_file() for f in OV_LLM_FILES), variant
    groups = {op.get_output_shape(0)[-1] for op in ov.Core().read_model(tmp_path / "int4-asym-g128" /
                                                                          "openvino_model.xml").get_ops()
              if op.get_type_name() == "Constant" and op.get_element_type() == ov.Type.u4
              and not op.get_friendly_name().endswith("zero_point")}
    assert groups == {64, 128}, groups  # 960 = 7.5 x 128: those layers got group 64
    model = ov.Core().read_model(fp16 / "openvino_model.xml")
    with pytest.raises(nncf.InvalidGroupSizeError):
        nncf.compress_weights(model, mode=nncf.CompressWeightsMode.INT4_ASYM, group_size=128)
    assert "--group-size-fallback" in cell["VARIANTS"]["int4-asym-g128"][1].split()
    runs = {}
    for variant, (_, flags) in cell["VARIANTS"].items():  # two exports at a time on two cores
        words = flags.split()
        assert words[0] == "--weight-format", flags
        runs[variant] = subprocess.Popen(export_command(str(twins[SMOL]), tmp_path / f"cli-{variant}", *words[1:]),
                                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if len(runs) % 2 == 0:
            for run in list(runs.values())[-2:]:
                run.wait()
    layouts = {}
    for variant, run in runs.items():
        assert run.wait() == 0, run.stderr.read()[-2000:]
        layouts[variant] = (weight_layout(tmp_path / f"cli-{variant}"), weight_layout(tmp_path / variant))
    for variant, (cli, nncf_args) in layouts.items():
        assert cli == nncf_args, (variant, cli, nncf_args)
    assert layouts["int4-sym-g128"][0] != layouts["int4-asym-g128"][0] != layouts["int4-asym-g64"][0]
    assert layouts["int4-asym-g128-r0.8"][0] != layouts["int4-asym-g128"][0]


def test_07_npu_layouts_from_the_guide(twins: dict, exports: dict, tmp_path: Path) -> None:
    """07: the NPU guide's TinyLlama command (symmetric int4, group 128) through optimum-cli, and the notebook's
    three layouts through its compress() on the fp16 export, as 07 runs it: signed 4-bit without zero points,
    grouped 3-D or channel-wise 2-D."""
    import openvino_genai as ov_genai

    guide = notebook_code("07", "b2153636")
    command = next(line for line in guide.splitlines() if line.startswith("optimum-cli") and TINY in line)
    flags = command.split(TINY, 1)[1].split()[:-1]  # between the model and the output folder
    assert flags == ["--weight-format", "int4", "--sym", "--ratio", "1.0", "--group-size", "128"], flags
    run = subprocess.run(export_command(str(twins[TINY]), tmp_path / "guide", flags[1], *flags[2:]),
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    cell = run_notebook_code(notebook_code("07", "d116c008"))
    int4_format = run_notebook_code(notebook_code("07", "b1bc1fcb", stop="formats = "))["int4_format"]
    formats = {"guide": int4_format(tmp_path / "guide")}
    for label, args in cell["VARIANTS"].items():
        (tmp_path / label).mkdir()
        cell["compress"](exports[TINY, "fp16"], tmp_path / label, **args)  # 07 compresses its fp16 export
        formats[label] = int4_format(tmp_path / label)
    for label in ("guide", "npu-int4-sym-g128", "npu-int4-sym-cw"):
        assert formats[label]["element types"] == ["i4"] and formats[label]["int4 zero points"] == 0, formats[label]
    assert formats["guide"]["weight ranks"] == formats["npu-int4-sym-g128"]["weight ranks"] == [3]
    assert formats["npu-int4-sym-cw"]["weight ranks"] == [2]
    assert formats["guide"]["example"].endswith(", 128]"), formats["guide"]  # [out, in / 128, 128]
    result = ov_genai.LLMPipeline(tmp_path / "guide", "CPU").generate(["Hi"], max_new_tokens=4)
    assert result.perf_metrics.get_num_generated_tokens() == 4


def test_03_speculative_pair_gives_the_targets_greedy_tokens(tmp_path: Path) -> None:
    """03's default pair (SmolLM2-1.7B + SmolLM2-135M: one tokenizer, 2048- and 576-wide) exported in fp16 as 03
    does; at f32, greedy speculative decoding writes exactly the target's greedy tokens, and the drafts were offered
    and judged: all accepted when the target drafts for itself, some when its int8 copy drafts."""
    import nncf
    import openvino as ov
    import openvino_genai as ov_genai

    folders, twins = {}, {}
    for name in ("HuggingFaceTB/SmolLM2-1.7B-Instruct", "HuggingFaceTB/SmolLM2-135M-Instruct"):
        twins[name] = build_llm_twin(tmp_path / "twins", name)
        folders[name] = tmp_path / name.split("/")[1]
        subprocess.run(export_command(str(twins[name]), folders[name], "fp16"), check=True, capture_output=True)
    target, draft = folders.values()
    int8_target = tmp_path / "target-int8"  # a draft close to the target: its own weights in 8 bits
    int8_target.mkdir()
    ov.save_model(nncf.compress_weights(ov.Core().read_model(target / "openvino_model.xml"),
                                        mode=nncf.CompressWeightsMode.INT8_ASYM),
                  int8_target / "openvino_model.xml")
    for file in target.iterdir():
        if not file.name.startswith("openvino_model."):
            (int8_target / file.name).symlink_to(file)
    f32 = {"INFERENCE_PRECISION_HINT": "f32"}
    plain = ov_genai.LLMPipeline(target, "CPU", **f32)
    pipes = {label: ov_genai.LLMPipeline(target, "CPU", draft_model=ov_genai.draft_model(folder, "CPU", **f32), **f32)
             for label, folder in (("random draft", draft), ("target drafting for itself", target),
                                   ("target in int8", int8_target))}
    greedy = ov_genai.GenerationConfig(max_new_tokens=12, do_sample=False)
    drafted = ov_genai.GenerationConfig(max_new_tokens=12, do_sample=False, num_assistant_tokens=4)
    counts = {label: Counter() for label in pipes}
    for text in PROMPTS:
        ids = ov.Tensor(chat_ids(twins["HuggingFaceTB/SmolLM2-1.7B-Instruct"], text))  # the pair shares it
        expected = list(plain.generate(ids, greedy).tokens[0])
        for label, pipe in pipes.items():
            result = pipe.generate(ids, drafted)
            assert list(result.tokens[0]) == expected, label
            counts[label].update(offered=result.extended_perf_metrics.get_num_draft_tokens(),
                                 accepted=result.extended_perf_metrics.get_num_accepted_tokens())
    # Every draft was asked (offered > 0) and the output is the target's all the same. The target accepts all of its
    # own drafts and some but not all of its int8 copy's; the random 135M twin's drafts never agree with the random
    # 1.7B twin's (measured: 0 of 68 accepted, 16 of 16 for itself, 9 of 32 in int8).
    assert all(count["offered"] > 0 for count in counts.values()), counts
    assert counts["target drafting for itself"]["accepted"] == counts["target drafting for itself"]["offered"], counts
    assert 0 < counts["target in int8"]["accepted"] < counts["target in int8"]["offered"], counts


@pytest.fixture(scope="module")
def phi3(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The Phi-3-mini twin and its fp32 export."""
    from tests.twins.llm import build_phi3_twin

    root = tmp_path_factory.mktemp("phi3")
    twin, out = build_phi3_twin(root / "twins"), root / "phi3-fp32"
    subprocess.run(export_command(str(twin), out, "fp32"), check=True, capture_output=True)
    return twin, out


@pytest.mark.parametrize("name", [TINY, PHI3])
def test_openvino_tokenizer_encodes_as_hugging_face(name: str, twins: dict, exports: dict,
                                                    phi3: tuple[Path, Path]) -> None:
    """As 00 checks for SmolLM2, on TinyLlama's and Phi-3's SentencePiece tokenizers: the OpenVINO tokenizer of the
    export gives Hugging Face's ids, with and without special tokens, and decodes them back. TinyLlama's adds <s>
    (id 1) in front, as Llama's does; Phi-3's adds none."""
    import openvino_genai as ov_genai
    from transformers import AutoTokenizer

    source, folder = (twins[TINY], exports[TINY, "fp16"]) if name == TINY else phi3
    ov_tokenizer, hf = ov_genai.Tokenizer(folder), AutoTokenizer.from_pretrained(source)
    for text in TOKENIZER_TEXTS:
        ids = ov_tokenizer.encode(text).input_ids.data[0].tolist()
        assert ids == hf(text)["input_ids"], text
        assert (ids[0] == 1) == (name == TINY), (text, ids[:3])  # <s>
        plain = ov_tokenizer.encode(text, add_special_tokens=False).input_ids.data[0].tolist()
        assert plain == hf(text, add_special_tokens=False)["input_ids"] == ids[(name == TINY):], text
        assert ov_tokenizer.decode(ids) == hf.decode(ids, skip_special_tokens=True), text
    assert len(ov_tokenizer.encode("Ada 🦉").input_ids.data[0]) > 3, "byte fallback: the owl is 4 byte tokens"


def test_phi3_mini_architecture_runs_in_genai_as_pytorch_computes(phi3: tuple[Path, Path]) -> None:
    """03's IR pair starts from Phi-3-mini (3072 wide, 32 heads, vocabulary 32064, sliding window 2047): its
    architecture exported and run in GenAI at f32 gives PyTorch's greedy tokens."""
    import openvino as ov
    import openvino_genai as ov_genai
    import torch
    from transformers import AutoModelForCausalLM

    twin, out = phi3
    model = AutoModelForCausalLM.from_pretrained(twin, dtype=torch.float32).eval()
    pipe = ov_genai.LLMPipeline(out, "CPU", INFERENCE_PRECISION_HINT="f32")
    answers = []
    for text in PROMPTS:
        ids = chat_ids(twin, text)
        with torch.no_grad():
            expected = model.generate(torch.from_numpy(ids), attention_mask=torch.ones_like(torch.from_numpy(ids)),
                                      max_new_tokens=8, do_sample=False)[0, ids.shape[1]:].tolist()
        answers.append(list(pipe.generate(ov.Tensor(ids), max_new_tokens=8, do_sample=False).tokens[0]))
        assert answers[-1] == expected, (answers[-1], expected)
    assert answers[0] != answers[1], "the random twin's answer depends on its input"


def test_08_the_endpoint_encodes_a_chat_prompt_as_generate_does(exports: dict) -> None:
    """08: TinyLlama's tokenizer adds <s> and its template writes none: the endpoint's prompt has as many tokens as
    generate()'s (templated, encoded without special tokens) and gets its greedy answer; GenAI's TextStreamer, which
    the endpoint streams with, joins byte-fallback pieces into whole characters."""
    import openai
    import openvino_genai as ov_genai

    from nbhelpers.server import start_server

    folder, f32 = exports[TINY, "fp32"], {"INFERENCE_PRECISION_HINT": "f32"}
    tokenizer = ov_genai.Tokenizer(folder)
    assert tokenizer.encode("Hi").input_ids.data[0].tolist()[0] == 1, "the twin's tokenizer adds <s>, as the real one"
    result = ov_genai.LLMPipeline(folder, "CPU", **f32).generate([PROMPTS[1]], max_new_tokens=12, do_sample=False)
    with start_server(folder, name="tiny", scheduler={"num_kv_blocks": 32}, properties=f32) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="unused", max_retries=0)
        reply = client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": PROMPTS[1]}],
                                               max_tokens=12, temperature=0)
    assert reply.usage.prompt_tokens == result.perf_metrics.get_num_input_tokens(), "no <s> added to the template"
    assert reply.choices[0].message.content == result.texts[0]
    # what 08 says of GenAI 2026.4.1: add_request encodes a string with the special tokens, generate() without them
    scheduler = ov_genai.SchedulerConfig()
    scheduler.num_kv_blocks = 32
    pipe = ov_genai.ContinuousBatchingPipeline(folder, scheduler, "CPU", f32)
    templated = tokenizer.apply_chat_template([{"role": "user", "content": PROMPTS[1]}], add_generation_prompt=True)
    greedy = ov_genai.GenerationConfig(max_new_tokens=12, do_sample=False)
    answers = {}
    for label, prompt in {"string": templated, "with <s>": tokenizer.encode(templated).input_ids,
                          "without": tokenizer.encode(templated, add_special_tokens=False).input_ids}.items():
        handle, tokens = pipe.add_request(0, prompt, greedy), []
        while pipe.has_non_finished_requests():
            pipe.step()
            if handle.can_read():
                tokens += [t for output in handle.read().values() for t in output.generated_ids]
        answers[label] = tokenizer.decode(tokens)
    assert answers["string"] == answers["with <s>"] != answers["without"] == result.texts[0], answers

    text = "Ada 🦉 flew over the café."
    ids = tokenizer.encode(text, add_special_tokens=False).input_ids.data[0].tolist()
    pieces: list[str] = []
    streamer = ov_genai.TextStreamer(tokenizer, lambda piece: pieces.append(piece) or False)
    for token in ids:
        streamer.write(token)
    streamer.end()
    assert len(ids) > len(text.split()) + 3, "the owl and the é take several byte tokens each"
    assert "".join(pieces) == tokenizer.decode(ids) and not any("\ufffd" in piece for piece in pieces), pieces


def test_phi3_generation_stops_at_end(phi3: tuple[Path, Path], tmp_path: Path) -> None:
    """Phi-3's generation config stops at <|endoftext|>, <|assistant|> and <|end|>; GenAI reads all three. The
    export with +100 added to <|end|>'s logit (the random twin would never write it) answers with <|end|> alone, and
    the other two stop ids still end it when <|end|> is not among them."""
    import openvino as ov
    import openvino_genai as ov_genai
    from openvino import opset13 as ops

    from tests.twins.llm import PHI3_STOP_IDS

    _, out = phi3
    config = ov_genai.LLMPipeline(out, "CPU").get_generation_config()
    assert config.stop_token_ids == set(PHI3_STOP_IDS) and config.eos_token_id == 32000, config.stop_token_ids
    model = ov.Core().read_model(out / "openvino_model.xml")
    result = model.output("logits").get_node()  # the Result; its input is the LM head's output
    bias = np.zeros(32064, np.float32)
    bias[32007] = 100.0
    result.input(0).replace_source_output(ops.add(result.input_value(0), ops.constant(bias)).output(0))
    model.validate_nodes_and_infer_types()
    ends = tmp_path / "ends"
    ends.mkdir()
    for file in out.iterdir():
        if not file.name.startswith("openvino_model."):
            (ends / file.name).symlink_to(file)
    ov.save_model(model, ends / "openvino_model.xml", compress_to_fp16=False)
    pipe = ov_genai.LLMPipeline(ends, "CPU", INFERENCE_PRECISION_HINT="f32")
    ids = ov.Tensor(chat_ids(phi3[0], PROMPTS[0]))
    assert list(pipe.generate(ids, max_new_tokens=8, do_sample=False).tokens[0]) == [32007]
    other_stops = ov_genai.GenerationConfig(max_new_tokens=8, do_sample=False, stop_token_ids={32000, 32001})
    other_stops.eos_token_id = 32000
    assert list(pipe.generate(ids, other_stops).tokens[0]) == [32007] * 8, "<|end|> alone is what stops it"


def test_bare_int4_applies_optimum_intels_default_for_the_model(twins: dict, tmp_path: Path) -> None:
    """`--weight-format int4` with no other flag takes optimum-intel's per-model default from the folder's name
    (the twin's is the hub id): for TinyLlama, asymmetric int4 in groups of 64 on every ratio-defining layer with
    data-free AWQ (the embeddings and LM head int8). Phi-3-mini's default needs the wikitext2 dataset from the hub
    (data-aware scale estimation), so it cannot run offline: only its selection is checked."""
    import openvino as ov
    from optimum.intel.openvino.configuration import get_default_quantization_config

    out = tmp_path / "tiny-int4"
    run = subprocess.run(export_command(str(twins[TINY]), out, "int4"), capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    model = ov.Core().read_model(out / "openvino_model.xml")
    applied = {key: model.get_rt_info(["nncf", "weight_compression", key]).astype(str)
               for key in ("mode", "group_size", "ratio", "awq", "backup_mode")}
    assert applied == {"mode": "int4_asym", "group_size": "64", "ratio": "1.0", "awq": "True",
                       "backup_mode": "int8_asym"}, applied
    layout = weight_layout(out)
    assert layout == Counter({("u4", 64, True): 14, ("u8", "channel", True): 2}), layout  # 2 layers x 7, + 2
    assert get_default_quantization_config(str(twins[TINY].parent.parent / PHI3), "int4") == {
        "bits": 4, "sym": False, "group_size": 64, "ratio": 1.0, "dataset": "wikitext2", "scale_estimation": True}
