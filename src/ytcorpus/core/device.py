"""Is the device asked for really there? Checked before any model weights are loaded, so
`--device cuda` on a machine without a GPU fails at once with a clear line."""

from __future__ import annotations

from .errors import ConfigError, UsageError


def check_device(device: str | None, engine: str | None) -> str:
    """auto/cpu/cuda[:N] -> the device to use; a CUDA device that is not there is a
    ConfigError now, not after loading a model."""
    dev = resolve_device(device)
    if not dev.startswith("cuda"):
        return dev
    index = int(dev[5:]) if ":" in dev else 0
    count = _cuda_devices(engine)
    if count == 0:
        raise ConfigError(f"--device {dev}: no CUDA GPU is visible on this machine "
                          "(use --device cpu, or auto)")
    if index >= count:
        raise ConfigError(f"--device {dev}: only {count} CUDA device(s) here (0..{count - 1})")
    return dev


def _cuda_devices(engine: str | None) -> int:
    if engine != "transformers":
        try:
            import ctranslate2

            return int(ctranslate2.get_cuda_device_count())
        except Exception:  # noqa: BLE001 - no CUDA build or no driver: no device
            pass
    try:
        import torch
    except ImportError:
        if engine == "transformers":
            raise ConfigError("the transformers engine needs torch: pip install "
                              "'ytcorpus[gpu]'") from None
        return 0
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def resolve_device(device: str | None) -> str:
    """auto -> cuda when torch sees a GPU, else cpu. cuda:N is kept as given."""
    device = (device or "auto").lower()
    if device == "auto":
        try:
            import torch

            return "cuda" if torch.cuda.is_available() else "cpu"
        except ImportError:
            return "cpu"
    if device == "cpu" or device == "cuda" or (device.startswith("cuda:")
                                                and device[5:].isdigit()):
        return device
    raise UsageError(f"--device must be auto, cpu, cuda or cuda:N, not {device!r}")
