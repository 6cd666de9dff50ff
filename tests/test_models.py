from __future__ import annotations

from pathlib import Path

import pytest

from nbhelpers import export, models
from nbhelpers.errors import OfflineError, UnknownModelError


@pytest.fixture
def online(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NBHELPERS_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)


def test_default_is_real_model_online_and_demo_offline(online: None, monkeypatch: pytest.MonkeyPatch) -> None:
    assert models.default_model("llm") == models.ROLES["llm"].hub_id
    assert models.default_model("llm-cost") == "nbhelpers/demo-llm-100m"  # has no hub model
    monkeypatch.setenv("NBHELPERS_OFFLINE", "1")
    assert models.default_model("llm") == "nbhelpers/demo-llm"
    assert models.why("nbhelpers/demo-llm") == (
        "Using the demo model nbhelpers/demo-llm, trained once and committed with nbhelpers, because offline mode "
        "is on.")
    assert models.why("nbhelpers/demo-llm-100m") == (
        "Using the demo model nbhelpers/demo-llm-100m, built on this machine, because offline mode is on "
        "(NBHELPERS_OFFLINE=1), so demo models are built locally.")


def test_choices_and_names() -> None:
    assert models.model_choices("llm") == ["HuggingFaceTB/SmolLM2-360M-Instruct", "nbhelpers/demo-llm"]
    assert models.is_demo("nbhelpers/demo-llm") and not models.is_demo("HuggingFaceTB/SmolLM2-360M-Instruct")
    assert models.slug("a/b") == "a--b"
    assert models.slug("nbhelpers/demo-llm-100m") == f"nbhelpers--demo-llm-100m-r{models.DEMO_RECIPE}"
    assert models.why("HuggingFaceTB/SmolLM2-360M-Instruct").startswith(
        "Using the hub model HuggingFaceTB/SmolLM2-360M-Instruct (0.7 GB download);")


def test_unknown_names_are_rejected_clearly() -> None:
    with pytest.raises(UnknownModelError, match="unknown model role 'tts'; known roles: llm"):
        models.model_choices("tts")
    with pytest.raises(UnknownModelError, match="unknown model 'gpt-5'; choose one of"):
        models.model_source("gpt-5")


def test_hub_model_offline_is_refused_unless_cached(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NBHELPERS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(OfflineError, match="not in the Hugging Face cache and offline mode is on; choose a demo model"):
        models.model_source("HuggingFaceTB/SmolLM2-360M-Instruct")
    monkeypatch.setattr(models, "_in_hub_cache", lambda name: True)  # as after `make prepare` online
    assert models.model_source("HuggingFaceTB/SmolLM2-360M-Instruct") == "HuggingFaceTB/SmolLM2-360M-Instruct"


def test_hub_model_online_is_passed_through(online: None) -> None:
    assert models.model_source("HuggingFaceTB/SmolLM2-135M-Instruct") == "HuggingFaceTB/SmolLM2-135M-Instruct"


def test_paths_live_in_the_cache(tmp_cache: Path) -> None:
    r = f"-r{models.DEMO_RECIPE}"
    assert models.snapshot_dir("nbhelpers/demo-llm-padded") == tmp_cache / "hf" / f"nbhelpers--demo-llm-padded{r}"
    assert models.snapshot_dir("nbhelpers/demo-llm-100m") == tmp_cache / "hf" / f"nbhelpers--demo-llm-100m{r}"
    digest = models.slug("nbhelpers/demo-llm").rsplit("-", 1)[1]  # committed: a digest of its weights
    assert export.ov_dir("nbhelpers/demo-llm", "int4") == tmp_cache / "ov" / f"nbhelpers--demo-llm-{digest}" / "int4"


def test_export_command_uses_this_interpreter(tmp_path: Path) -> None:
    import sys

    cmd = export.export_command("m", tmp_path, "int8", "--disable-stateful")
    assert cmd[:3] == [sys.executable, "-m", "optimum.commands.optimum_cli"]
    assert cmd[-2:] == ["--disable-stateful", str(tmp_path)]
    assert cmd[cmd.index("--weight-format") + 1] == "int8"


def test_model_source_uses_the_committed_family_and_builds_the_cost_model_once(
        tmp_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from nbhelpers import demos
    from nbhelpers.cache import is_complete
    from nbhelpers.demos import llm as demo_llm

    monkeypatch.setenv("NBHELPERS_OFFLINE", "1")
    calls = []

    def small_cost_model(out: Path) -> None:  # the real entry builds 100 M parameters: same code, smaller shape
        calls.append(out)
        small = demo_llm.LlamaShape(128, 256, 1, 2, 1)
        demo_llm.build_cost_model(out, demos.committed_dir("nbhelpers/demo-llm"), small)

    monkeypatch.setitem(demos.DEMOS, "nbhelpers/demo-llm-100m", demos.Demo(build=small_cost_model))
    cost = Path(models.model_source("nbhelpers/demo-llm-100m"))
    target = Path(models.model_source("nbhelpers/demo-llm"))
    draft = Path(models.model_source("nbhelpers/demo-llm-draft"))
    assert (target, draft) == (demo_llm.DATA / "target", demo_llm.DATA / "draft") and is_complete(cost)
    config = json.loads((cost / "config.json").read_text())
    assert config["hidden_size"] == 128
    assert (cost / "tokenizer.json").read_text() == (target / "tokenizer.json").read_text()
    assert (draft / "tokenizer.json").read_text() == (target / "tokenizer.json").read_text()
    assert models.model_source("nbhelpers/demo-llm-100m") == str(cost) and len(calls) == 1, "built once, then cached"


def test_export_llm_names_variants_checks_files_and_caches(tmp_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess

    from nbhelpers.errors import ModelNotReadyError
    from nbhelpers.export import OV_LLM_FILES

    calls: list[list[str]] = []

    def fake_cli(cmd: list[str], check: bool) -> None:
        calls.append(cmd)
        for name in OV_LLM_FILES[: None if len(calls) > 1 else 1]:  # the first export "forgets" files
            Path(cmd[-1], name).write_text("<net/>" if name.endswith(".xml") else "x")

    monkeypatch.delenv("NBHELPERS_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(subprocess, "run", fake_cli)
    with pytest.raises(ModelNotReadyError, match="did not produce openvino_model.bin"):
        export.export_llm("HuggingFaceTB/SmolLM2-135M-Instruct", "int8", "--disable-stateful")
    out = export.export_llm("HuggingFaceTB/SmolLM2-135M-Instruct", "int8", "--disable-stateful")
    assert out == tmp_cache / "ov" / "HuggingFaceTB--SmolLM2-135M-Instruct" / "int8-disable-stateful"
    assert "--disable-stateful" in calls[-1] and len(calls) == 2
    export.export_llm("HuggingFaceTB/SmolLM2-135M-Instruct", "int8", "--disable-stateful")
    assert len(calls) == 2
    export.export_llm("HuggingFaceTB/SmolLM2-135M-Instruct", "int8", "--disable-stateful", force=True)
    assert len(calls) == 3


def test_copy_companion_files_leaves_the_model_and_marker(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir(), dst.mkdir()
    names = ["openvino_model.xml", "openvino_model.bin", "openvino_tokenizer.xml", "config.json",
             ".nbhelpers-complete.json"]
    for name in names:
        (src / name).write_text(name)
    assert export.copy_companion_files(src, dst) == ["config.json", "openvino_tokenizer.xml"]
    assert sorted(p.name for p in dst.iterdir()) == ["config.json", "openvino_tokenizer.xml"]


def test_download_ir_refuses_offline_and_unknown(tmp_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(UnknownModelError, match="not a known OpenVINO IR repository"):
        export.download_ir("nbhelpers/demo-llm")
    monkeypatch.setenv("NBHELPERS_OFFLINE", "1")
    with pytest.raises(OfflineError, match="has not been downloaded and offline mode is on"):
        export.llm_dir("OpenVINO/Phi-3-mini-FastDraft-50M-int8-ov")


def test_download_ir_uses_the_hub_snapshot(tmp_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub

    def fake_download(repo_id: str, local_dir: Path) -> None:
        for name in ("openvino_model.xml", "openvino_model.bin", "openvino_tokenizer.xml"):
            Path(local_dir, name).write_text(f"<net name='{repo_id}'/>" if name.endswith(".xml") else repo_id)

    monkeypatch.delenv("NBHELPERS_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_download)
    out = export.llm_dir("OpenVINO/Phi-3-mini-FastDraft-50M-int8-ov")
    assert out == tmp_cache / "ov" / "OpenVINO--Phi-3-mini-FastDraft-50M-int8-ov" / "hub"
    assert (out / "openvino_model.bin").read_text() == "OpenVINO/Phi-3-mini-FastDraft-50M-int8-ov"


def test_the_demo_pair_shares_one_tokenizer_and_default_follows_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    from transformers import AutoTokenizer

    from nbhelpers import demos

    monkeypatch.setenv("NBHELPERS_OFFLINE", "1")
    assert models.SPECULATIVE_PAIRS[models.default_pair()] == ("nbhelpers/demo-llm-padded", "nbhelpers/demo-llm-draft")
    # The padded target keeps the trained target's tokenizer (pad_for_cost copies it); the hub pairs cannot be
    # loaded offline, so only the demo pair is compared here: same vocabulary, same special ids.
    target, draft = (AutoTokenizer.from_pretrained(demos.committed_dir(name))
                     for name in ("nbhelpers/demo-llm", "nbhelpers/demo-llm-draft"))
    assert target.get_vocab() == draft.get_vocab()
    assert (target.bos_token_id, target.eos_token_id, target.pad_token_id) == (draft.bos_token_id, draft.eos_token_id,
                                                                               draft.pad_token_id)


def test_each_eagle3_head_belongs_to_a_pair_and_both_default_targets_have_one(monkeypatch: pytest.MonkeyPatch) -> None:
    assert set(models.EAGLE3_HEADS) <= {target for target, _ in models.SPECULATIVE_PAIRS.values()}
    for offline in ("1", "0"):
        monkeypatch.setenv("NBHELPERS_OFFLINE", offline)
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        target = models.SPECULATIVE_PAIRS[models.default_pair()][0]
        assert models.EAGLE3_HEADS[target] == models.default_model("sd-eagle3"), offline
    monkeypatch.setenv("NBHELPERS_OFFLINE", "1")
    assert (Path(models.model_source("nbhelpers/demo-llm-eagle3")) / "model.safetensors").is_file()


def test_hub_loras_are_fetched_once_and_refused_offline_when_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub

    lora = models.HUB_LORAS[models.ROLES["text2image"].hub_id][0]
    cached: dict[tuple[str, str], str] = {}
    monkeypatch.setattr(huggingface_hub, "try_to_load_from_cache", lambda repo, name: cached.get((repo, name)))

    def fake_download(repo: str, name: str) -> str:
        path = tmp_path / name
        path.write_text(repo)
        cached[(repo, name)] = str(path)
        return str(path)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    monkeypatch.setenv("NBHELPERS_OFFLINE", "1")
    with pytest.raises(OfflineError, match="not in the Hugging Face cache and offline mode is on"):
        models.hub_lora_file(lora)
    monkeypatch.delenv("NBHELPERS_OFFLINE")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    path = models.hub_lora_file(lora)
    assert path.name == lora.filename and path.read_text() == lora.repo
    monkeypatch.setenv("NBHELPERS_OFFLINE", "1")  # once cached, offline works
    assert models.hub_lora_file(lora) == path


def test_text2image_role_has_a_demo_and_public_loras() -> None:
    assert models.model_choices("text2image") == ["stable-diffusion-v1-5/stable-diffusion-v1-5", "nbhelpers/demo-sd"]
    loras = models.HUB_LORAS["stable-diffusion-v1-5/stable-diffusion-v1-5"]
    assert len(loras) == 2 and all(lora.filename.endswith(".safetensors") and lora.trigger for lora in loras)


def test_timing_model_swaps_a_demo_for_its_cost_model() -> None:
    assert models.timing_model("nbhelpers/demo-llm") == "nbhelpers/demo-llm-100m"
    assert models.timing_model("nbhelpers/demo-vlm") == "nbhelpers/demo-vlm-cost"
    assert models.timing_model("HuggingFaceTB/SmolLM2-360M-Instruct") == "HuggingFaceTB/SmolLM2-360M-Instruct"
    assert models.timing_model("nbhelpers/demo-llm-padded") == "nbhelpers/demo-llm-padded"  # of realistic size
    costs = [models.ROLES[spec.cost].demo for spec in models.ROLES.values() if spec.cost]
    assert costs and all(models.timing_model(name) == name for name in costs)


def test_an_export_key_changes_with_the_chat_template_and_configs_not_with_reports(tmp_path: Path) -> None:
    from nbhelpers.demos import folder_digest

    for name, text in {"model.safetensors": "w", "config.json": "{}", "tokenizer_config.json": "{}",
                       "chat_template.jinja": "a", "README.md": "card", "training_report.json": "{}"}.items():
        (tmp_path / name).write_text(text)
    before = folder_digest(tmp_path)
    for name in ("README.md", "training_report.json"):
        (tmp_path / name).write_text("changed")
    assert folder_digest(tmp_path) == before, "a card or a report does not change the export"
    seen = {before}
    for name in ("chat_template.jinja", "tokenizer_config.json", "config.json", "model.safetensors"):
        (tmp_path / name).write_text("changed")
        seen.add(folder_digest(tmp_path))
    assert len(seen) == 5, "each of the template, the configs and the weights changes the key"
