"""Which devices get a worker: the GPUs that `nvidia-smi -L` lists, a GPU in MIG mode
through its instances (CUDA_VISIBLE_DEVICES=MIG-<uuid>, one worker each)."""

from __future__ import annotations

import re
import shutil
import subprocess

from ..core.errors import ConfigError

_GPU = re.compile(r"^GPU (\d+):")
_MIG = re.compile(r"^\s+MIG .*?(MIG-[0-9a-fA-F-]+)")


def parse_listing(text: str) -> list[str]:
    """Devices of an `nvidia-smi -L` listing: "GPU 0: NAME (UUID: GPU-...)" lines, each
    followed, in MIG mode, by "  MIG 1g.10gb  Device  0: (UUID: MIG-...)" lines."""
    devices: list[str] = []
    gpu, instances = None, 0
    for line in text.splitlines():
        m = _GPU.match(line)
        if m:
            if gpu is not None and not instances:
                devices.append(gpu)
            gpu, instances = m.group(1), 0
            continue
        m = _MIG.match(line)
        if m:
            devices.append(m.group(1))
            instances += 1
    if gpu is not None and not instances:
        devices.append(gpu)
    return devices


def list_devices(nvidia_smi: str, prog: str) -> list[str] | None:
    """The devices nvidia-smi lists; None when there is no nvidia-smi (a CPU machine)."""
    if shutil.which(nvidia_smi) is None:
        return None
    try:
        out = subprocess.run([nvidia_smi, "-L"], capture_output=True, text=True, timeout=60)
        failed, text = out.returncode != 0, out.stdout + out.stderr
    except (OSError, subprocess.TimeoutExpired) as exc:
        failed, text = True, str(exc)
    if failed:
        first = (text.strip().splitlines() or ["no output"])[0]
        raise ConfigError(f"'{nvidia_smi} -L' failed: {first}; "
                          f"fix the driver, or name the devices: {prog} \"0 1\" (or cpu)")
    devices = parse_listing(text)
    if not devices:
        raise ConfigError(f"{nvidia_smi} lists no GPU")
    return devices
