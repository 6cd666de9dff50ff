"""Reproduction: compiling an fp16-weight LLM on the CPU with two streams kills the process (SIGFPE).

Seen with OpenVINO 2026.4.1 on a 2-core Intel Xeon with AMX (AVX-512 BF16, AMX BF16/INT8), where the CPU plugin
computes in bf16 by default: `core.compile_model(xml, "CPU", {"PERFORMANCE_HINT": "THROUGHPUT"})` on an fp16
export (stateful or stateless) ends the process with "Floating point exception". On the same machine these compile:
`NUM_STREAMS: 1`; the same IR with `INFERENCE_PRECISION_HINT: f32` and two streams; int8 and int4 IRs with two
streams at the default precision. Narrowed down there on the project's demo LLM exports; not seen on an AMD EPYC
(AVX-512 BF16, no AMX, also bf16 by default). This script's tiny Llama has the same graph; it was written on the
AMD machine, so if it reports "no crash" on an AMX machine, run it on a real fp16 export (pass its .xml).

Standalone (transformers, optimum-intel, openvino): builds a tiny random-weight Llama, exports it with optimum-cli
in fp16, and compiles it in child processes with each setting. Prints one line per setting and exits 1 if the
crash happened here, 0 if not.

    python repro/ov_multistream_sigfpe.py [path/to/openvino_model.xml]
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

SETTINGS = {
    "PERFORMANCE_HINT=THROUGHPUT (default precision)": {"PERFORMANCE_HINT": "THROUGHPUT"},
    "NUM_STREAMS=2 (default precision)": {"NUM_STREAMS": "2"},
    "PERFORMANCE_HINT=THROUGHPUT, INFERENCE_PRECISION_HINT=f32": {"PERFORMANCE_HINT": "THROUGHPUT",
                                                                  "INFERENCE_PRECISION_HINT": "f32"},
    "NUM_STREAMS=1 (default precision)": {"NUM_STREAMS": "1"},
}
COMPILE = """
import sys, openvino as ov
compiled = ov.Core().compile_model(sys.argv[1], "CPU", dict(a.split("=", 1) for a in sys.argv[2:]))
print("streams", compiled.get_property("NUM_STREAMS"), "precision", compiled.get_property("INFERENCE_PRECISION_HINT"))
"""


def export_tiny_llama(folder: Path) -> Path:
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=512, hidden_size=256, intermediate_size=512, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512)
    source = folder / "tiny-llama"
    LlamaForCausalLM(config).save_pretrained(source)
    vocab = {f"t{i}": i for i in range(config.vocab_size)}
    core = Tokenizer(models.WordLevel(vocab, unk_token="t0"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, unk_token="t0", bos_token="t1", eos_token="t2")
    tokenizer.save_pretrained(source)
    out = folder / "tiny-llama-ov-fp16"
    subprocess.run([sys.executable, "-m", "optimum.commands.optimum_cli", "export", "openvino", "--model", str(source),
                    "--task", "text-generation-with-past", "--weight-format", "fp16", str(out)],
                   check=True, capture_output=True)
    return out / "openvino_model.xml"


def main() -> int:
    import openvino as ov

    core = ov.Core()
    print(f"OpenVINO {ov.get_version()} on {core.get_property('CPU', 'FULL_DEVICE_NAME')}, default precision "
          f"{core.get_property('CPU', 'INFERENCE_PRECISION_HINT')}")
    crashed = False
    with tempfile.TemporaryDirectory() as folder:
        xml = Path(sys.argv[1]) if len(sys.argv) > 1 else export_tiny_llama(Path(folder))
        for name, config in SETTINGS.items():
            run = subprocess.run([sys.executable, "-c", COMPILE, str(xml), *(f"{k}={v}" for k, v in config.items())],
                                 capture_output=True, text=True)
            if run.returncode < 0:
                crashed = True
                print(f"CRASH  {name}: killed by signal {-run.returncode}")
            elif run.returncode:
                print(f"ERROR  {name}: {run.stderr.strip().splitlines()[-1]}")
            else:
                print(f"ok     {name}: {run.stdout.strip()}")
    print("the bug is present here" if crashed else
          "no crash here (the bug is absent on this CPU or fixed in this version)")
    return 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(main())
