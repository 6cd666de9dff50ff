"""Reproduction: a Python `Parser` created inside `GenerationConfig.parsers` fails in `generate()` (GenAI 2026.4.1).

`config.parsers = [MyParser()]` keeps no Python reference to the instance: by the time `generate()` calls it, the
Python half of the object is gone and the call fails with "parse method not implemented in Python subclass". The
same parser kept in a variable first works. This script tries both on a small LLM and prints what it saw; it exits
1 if the inline parser fails (the problem is there), 0 if it works. The workaround: keep every Python parser in a
variable for as long as the config is used.

    python repro/genai_inline_parser.py [LLM_DIR]

Without an argument it uses the project's demo LLM, exported through nbhelpers (run from the project root).
"""

from __future__ import annotations

import sys

import openvino_genai as ov_genai


class UpperParser(ov_genai.Parser):
    """Adds the answer in capitals under "upper": enough to see whether parse() was called."""

    def parse(self, message: dict) -> None:
        message["upper"] = message["content"].upper()


def main(model_dir: str) -> int:
    print("openvino-genai", ov_genai.get_version())
    pipe = ov_genai.LLMPipeline(model_dir, "CPU")
    kept = UpperParser()
    config = ov_genai.GenerationConfig(max_new_tokens=8)
    config.parsers = [kept]
    parsed = pipe.generate(ov_genai.ChatHistory([{"role": "user", "content": "Hi"}]), config).parsed[0]
    print("a parser kept in a variable:", "works" if "upper" in parsed else f"not called: {parsed}")
    config.parsers = [UpperParser()]
    try:
        pipe.generate(ov_genai.ChatHistory([{"role": "user", "content": "Hi"}]), config)
    except RuntimeError as error:
        print("a parser created inline: fails:", str(error).strip().splitlines()[-1])
        return 1
    print("a parser created inline: works (the problem is gone)")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 2:
        folder = sys.argv[1]
    else:
        from nbhelpers.export import export_llm

        folder = str(export_llm("nbhelpers/demo-llm"))
    raise SystemExit(main(folder))
