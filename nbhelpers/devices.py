"""OpenVINO devices: what this machine has, and a clear error for what it has not."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nbhelpers.errors import DeviceNotAvailableError

if TYPE_CHECKING:
    import openvino as ov

# Virtual devices that schedule onto the real ones; they are valid wherever their targets are.
VIRTUAL = ("AUTO", "MULTI", "HETERO", "BATCH")


def available_devices(core: ov.Core | None = None) -> list[str]:
    """Return the devices OpenVINO reports, e.g. ['CPU'] or ['CPU', 'GPU.0', 'NPU']."""
    import openvino as ov

    return list((core or ov.Core()).available_devices)


def device_names(core: ov.Core | None = None) -> dict[str, str]:
    """Return {device: full name}, e.g. {'CPU': 'Intel(R) Xeon(R) ...'}."""
    import openvino as ov

    core = core or ov.Core()
    return {d: str(core.get_property(d, "FULL_DEVICE_NAME")) for d in core.available_devices}


def check_device(device: str, available: list[str] | None = None) -> str:
    """Return `device` in OpenVINO's spelling (upper case) if this machine can run it.

    Accepts plain devices ('CPU', 'GPU.1'), bare families ('GPU' when 'GPU.0' exists) and virtual ones
    ('AUTO', 'AUTO:GPU,CPU', 'HETERO:GPU,CPU'), checking each device they name.
    Raises DeviceNotAvailableError, e.g. "NPU not available on this machine (available: CPU)".
    """
    have = available if available is not None else available_devices()
    name = device.strip().upper()
    if not name:
        raise DeviceNotAvailableError(f"empty device name; choose one of: {', '.join(have)}")
    head, _, targets = name.partition(":")
    if head in VIRTUAL:
        for target in filter(None, targets.split(",")):
            check_device(target, have)
        return name
    families = {d.split(".")[0] for d in have}
    if name in have or name in families:
        return name
    raise DeviceNotAvailableError(f"{name} not available on this machine (available: {', '.join(have)})")
