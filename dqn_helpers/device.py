"""Choose where tensors live (CUDA GPU, Apple GPU, or CPU) and say what speed to expect.

Introduced in lesson 00 (the setup check); it matters from lesson 06 on, where the Nature CNN makes a GPU worth having.
"""

from __future__ import annotations

import torch

__all__ = ["pick_device", "describe_device", "cpu_supports_bf16", "update_dtype"]

_ALLOWED = ("cuda", "mps", "cpu")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def _cuda_unavailable_reason() -> str:
    if torch.version.cuda is None:
        return (
            f"this PyTorch build ({torch.__version__}) has no CUDA support. Install a CUDA build of "
            "PyTorch (see pytorch.org), or on Colab choose Runtime → Change runtime type → GPU"
        )
    return "PyTorch has CUDA support but finds no GPU (check `nvidia-smi` and the driver)"


def pick_device(prefer: str | torch.device | None = None) -> torch.device:
    """CUDA if available, then Apple MPS, then CPU; ``prefer`` ("cpu"/"cuda"/"cuda:1"/"mps") forces one.

    Introduced in lesson 00. ``None`` or ``"auto"`` picks automatically; an unavailable choice raises.
    """
    if prefer is None or (isinstance(prefer, str) and prefer.strip().lower() == "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if not isinstance(prefer, str | torch.device):
        raise TypeError(
            f"prefer must be None, a string or a torch.device, got {prefer!r} "
            f"({type(prefer).__name__}). Allowed: None, 'auto', 'cpu', 'cuda', 'cuda:N', 'mps'."
        )
    try:
        device = torch.device(prefer.strip().lower() if isinstance(prefer, str) else prefer)
    except RuntimeError as exc:
        raise ValueError(
            f"unknown device {prefer!r}. Allowed: None, 'auto', 'cpu', 'cuda', 'cuda:N', 'mps'."
        ) from exc
    if device.type not in _ALLOWED:
        raise ValueError(
            f"unsupported device type {device.type!r} (from {prefer!r}). "
            "Allowed: None, 'auto', 'cpu', 'cuda', 'cuda:N', 'mps'."
        )
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError(
                f"device {prefer!r} was requested but CUDA is not available: "
                f"{_cuda_unavailable_reason()}. Or pass prefer=None to use the best available device."
            )
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise RuntimeError(
                f"device {prefer!r} was requested but only {count} CUDA device(s) exist "
                f"(valid indices 0–{count - 1})."
            )
    if device.type == "mps" and not _mps_available():
        raise RuntimeError(
            f"device {prefer!r} was requested but Apple MPS is not available (it needs an Apple "
            "silicon Mac and a PyTorch build with MPS). Pass prefer=None to use the best available device."
        )
    return device


def describe_device(device: str | torch.device) -> str:
    """One sentence saying what ``device`` is and what training speed to expect on it.

    Introduced in lesson 00. Speeds are rough figures for the Nature CNN of lesson 06 (trained in lesson 10).
    """
    device = torch.device(device)
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        props = torch.cuda.get_device_properties(index)
        memory_gib = props.total_memory / 2**30
        return (
            f"CUDA GPU {index} ({props.name}, {memory_gib:.0f} GiB): every lesson runs comfortably; "
            "Pong DQN trains at several hundred agent steps/s (public DQN code runs ~500/s on one "
            "GPU), so the pong preset's 1M steps take about an hour or less."
        )
    if device.type == "mps":
        return (
            "Apple GPU (MPS): fine for every lesson; the Nature CNN updates several times faster "
            "than on the CPU, but a strong Pong agent still takes many hours, so the pretrained "
            "checkpoint is the practical choice for lesson 10."
        )
    if device.type == "cpu":
        threads = torch.get_num_threads()
        return (
            f"CPU ({threads} thread{'s' if threads != 1 else ''}): fine for lessons 01–05 "
            "(CartPole trains in under a minute); Pong training runs only ~50–150 agent steps/s "
            "on a 2-core machine (1M steps: 2–6 hours), so use the pretrained checkpoint, the CLI "
            "in the background, or a GPU for lesson 10."
        )
    return f"{device}: an unusual device; expect no speed figures from this course."


def cpu_supports_bf16() -> bool:
    """True when this CPU computes bfloat16 natively (x86 AVX512-BF16 or AMX, Arm BF16).

    Read from ``/proc/cpuinfo`` (Linux); elsewhere, or when the file cannot be read, False, so the
    caller falls back to fp32. ``DQN_BF16=0`` in the environment forces False. Used by
    ``update_dtype`` (lesson 10's Pong preset trains in bfloat16 on such CPUs).
    """
    import os

    if os.environ.get("DQN_BF16") == "0":
        return False
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            text = f.read(1 << 20)
    except OSError:
        return False
    flags: set[str] = set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            flags.update(value.split())
    return bool(flags & {"avx512_bf16", "amx_bf16", "bf16"})


def update_dtype(precision: str, device: str | torch.device) -> torch.dtype | None:
    """The autocast dtype for the update: ``torch.bfloat16`` for ``precision="bf16"`` on a CPU that
    supports it, else None (plain fp32). GPUs keep fp32: their update is cheap already."""
    if precision == "bf16" and torch.device(device).type == "cpu" and cpu_supports_bf16():
        return torch.bfloat16
    return None
