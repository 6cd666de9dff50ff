"""Reproduction: a JSON-schema string with maxLength admits raw control characters (GenAI 2026.4.1's xgrammar).

GenAI compiles `StructuredOutputConfig(json_schema=...)` (and JSONSchema inside structural tags) with xgrammar. For a
string with minLength/maxLength, xgrammar (v0.1.31, and still in its main branch) draws the characters from
`[^"\\\r\n]`, which lets a raw control character (U+0000-U+001F but \r, \n) into the string: invalid JSON. Without a
length bound it uses `[^\0-\x1f"\\\r\n]` and the character is refused. This script biases a byte-level LLM's logits
towards the token of byte 0x03 by +100 in a copy of its IR and asks for {"s": string, maxLength 4}: exit 1 if the
answer holds a raw 0x03 (the problem is there), 0 if the constraint refuses it.

    python repro/xgrammar_maxlength.py [LLM_DIR]    (an optimum-cli export with a byte-level BPE tokenizer)

Without an argument it uses the project's demo LLM, exported through nbhelpers (run from the project root). Found
while building the Qwen3 twin for notebook 10 (`tests/test_twins_tools.py` uses a `pattern` instead of maxLength).
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import openvino as ov
import openvino_genai as ov_genai
from openvino import opset13 as ops
from transformers import AutoTokenizer
from transformers.convert_slow_tokenizer import bytes_to_unicode


def biased_copy(folder: Path, token: int, out: Path) -> Path:
    model = ov.Core().read_model(folder / "openvino_model.xml")
    result = model.output("logits").get_node()
    bias = np.zeros(result.get_output_partial_shape(0)[-1].get_length(), np.float32)
    bias[token] = 100.0
    result.input(0).replace_source_output(ops.add(result.input_value(0), ops.constant(bias)).output(0))
    for file in folder.iterdir():
        if not file.name.startswith("openvino_model."):
            (out / file.name).symlink_to(file.resolve())
    ov.save_model(model, out / "openvino_model.xml")
    return out


def main(folder: Path) -> int:
    print("openvino-genai", ov_genai.get_version())
    token = AutoTokenizer.from_pretrained(folder).convert_tokens_to_ids(bytes_to_unicode()[3])
    with tempfile.TemporaryDirectory() as tmp:
        pipe = ov_genai.LLMPipeline(biased_copy(folder, token, Path(tmp)), "CPU")
        answers = {}
        for label, string in (("maxLength 4", {"type": "string", "maxLength": 4}), ("no bound", {"type": "string"})):
            schema = {"type": "object", "properties": {"s": string}, "required": ["s"]}
            config = ov_genai.GenerationConfig(max_new_tokens=16, do_sample=False)
            config.structured_output_config = ov_genai.StructuredOutputConfig(json_schema=json.dumps(schema))
            answers[label] = pipe.generate(["Write it."], config).texts[0]
            print(f"{label}: {answers[label]!r}")
    bad = "\x03" in answers["maxLength 4"]
    try:
        json.loads(answers["maxLength 4"])
        print("the maxLength answer parses")
    except json.JSONDecodeError as error:
        print("the maxLength answer is not JSON:", error)
    print("raw control character in a maxLength string:", "accepted (the problem is there)" if bad else "refused")
    return 1 if bad else 0


if __name__ == "__main__":
    if len(sys.argv) == 2:
        folder = Path(sys.argv[1])
    else:
        from nbhelpers.export import export_llm

        folder = export_llm("nbhelpers/demo-llm")
    sys.exit(main(folder))
