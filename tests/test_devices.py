from __future__ import annotations

import pytest

from nbhelpers.devices import available_devices, check_device, cpu_features, default_precision, device_names
from nbhelpers.errors import DeviceNotAvailableError


def test_this_machine_has_a_cpu() -> None:
    assert "CPU" in available_devices()
    assert device_names()["CPU"]


@pytest.mark.parametrize("name", ["CPU", "cpu", " CPU ", "AUTO", "AUTO:CPU", "HETERO:CPU"])
def test_valid_names(name: str) -> None:
    assert check_device(name, ["CPU"]) == name.strip().upper()


def test_gpu_family_matches_numbered_device() -> None:
    assert check_device("GPU", ["CPU", "GPU.0", "GPU.1"]) == "GPU"
    assert check_device("GPU.1", ["CPU", "GPU.0", "GPU.1"]) == "GPU.1"


@pytest.mark.parametrize(
    ("name", "message"),
    [("NPU", "NPU not available on this machine (available: CPU)"),
     ("AUTO:GPU,CPU", "GPU not available on this machine (available: CPU)"),
     ("TPU", "TPU not available"),
     ("", "empty device name; choose one of: CPU")],
)
def test_missing_devices_get_a_clear_error(name: str, message: str) -> None:
    with pytest.raises(DeviceNotAvailableError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_device(name, ["CPU"])


def test_cpu_features_from_cpuinfo() -> None:
    amx = "processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16 amx_bf16 amx_tile amx_int8\n"
    assert cpu_features(amx) == {"AVX2": True, "AVX-512": True, "AVX-512 BF16": True, "AMX BF16": True,
                                 "AMX INT8": True}
    assert cpu_features("flags : fpu sse4_2 avx2\n") == {"AVX2": True, "AVX-512": False, "AVX-512 BF16": False,
                                                          "AMX BF16": False, "AMX INT8": False}
    assert set(cpu_features("no flags line").values()) == {None}


def test_default_precision_follows_the_cpu() -> None:
    features = cpu_features()
    bf16 = features["AVX-512 BF16"] or features["AMX BF16"]
    if bf16 is None:
        pytest.skip("no CPU flags to read here (not Linux): nothing to compare OpenVINO's choice with")
    assert default_precision() == ("bf16" if bf16 else "f32")
