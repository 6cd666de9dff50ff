"""OpenVINO Model Server's LLM graph, as reference data for checking a graph.pbtxt offline (OVMS is not run here).

`LLM_CALCULATOR_OPTIONS` lists the fields of OVMS's `LLMCalculatorOptions` message (the options of an LLM node in
a MediaPipe graph), copied by name from `src/llm/llm_calculator.proto` of github.com/openvinotoolkit/model_server
at `SOURCE_COMMIT` (main of 2026-08-21, which its Dockerfiles call 2026.4.0; the 2026.4 release branch was cut
after it and is not in the snapshot read). `graph_options` reads the options a graph.pbtxt sets.
"""

from __future__ import annotations

import re

SOURCE_COMMIT = "7e4df0c7ae340972bad15020ad777bbba3ee321d"
SOURCE = f"openvinotoolkit/model_server@{SOURCE_COMMIT[:7]}: src/llm/llm_calculator.proto, message LLMCalculatorOptions"
LLM_CALCULATOR_OPTIONS = (
    "models_path", "max_num_batched_tokens", "cache_size", "max_num_seqs", "dynamic_split_fuse", "device",
    "plugin_config", "best_of_limit", "max_tokens_limit", "enable_prefix_caching", "draft_models_path",
    "draft_device", "draft_max_num_batched_tokens", "draft_cache_size", "draft_block_size", "draft_max_num_seqs",
    "draft_dynamic_split_fuse", "draft_eagle3_mode", "pipeline_type", "cache_eviction_config", "tool_parser",
    "reasoning_parser", "enable_tool_guided_generation", "sparse_attention_config", "cache_interval_multiplier",
    "chat_template_mode",
)
# The side packets OVMS 2026.x's own export gives the LLM node; without the second, OVMS turns the graph pool off
# and logs a warning (src/mediapipe_internal/mediapipegraphdefinition.cpp at SOURCE_COMMIT).
LLM_SIDE_PACKETS = ("LLM_NODE_RESOURCES:llm", "LLM_NODE_EXECUTION_CONTEXTS:llm_ctx")


def graph_options(pbtxt: str) -> dict[str, str]:
    """Return {field: value as written} of the LLMCalculatorOptions block in a graph.pbtxt's text.

    Raises ValueError if the text has no such block."""
    block = re.search(r"mediapipe\.LLMCalculatorOptions\]\s*:\s*\{(.*?)\n\s*\}", pbtxt, re.S)
    if block is None:
        raise ValueError("no [type.googleapis.com / mediapipe.LLMCalculatorOptions] block in this graph")
    lines = (raw.split("#", 1)[0].strip().rstrip(",") for raw in block.group(1).splitlines())
    return {key.strip(): value.strip() for key, value in (line.split(":", 1) for line in lines if line)}
