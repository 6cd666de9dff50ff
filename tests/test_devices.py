from __future__ import annotations

import pytest

from nbhelpers.devices import available_devices, check_device, device_names
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
