"""What this CPU can multiply fast: the facts every fast path chooses itself by.

torch's capability string ("AVX2", "AVX512", ...) names the vector width its own kernels use, not
the matrix units: an AVX512 machine with `avx512_bf16` and `avx512_vnni` reports plain "AVX512".
oneDNN, which runs our convolutions, uses those units, so the choice reads the CPU's flags (from
/proc/cpuinfo on Linux) and, for bf16, torch's own check that oneDNN has bf16 kernels here.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass

#: Flags that tell the int8 (VNNI: u8 x s8 dot products in one instruction) and bf16 stories.
REPORTED_FLAGS = (
    "avx2",
    "avx512f",
    "avx512_vnni",
    "avx_vnni",
    "avx512_bf16",
    "amx_bf16",
    "amx_int8",
)


@dataclass(frozen=True)
class CpuFeatures:
    """`capability`: torch's string; `flags`: the REPORTED_FLAGS this CPU has; `int8_dot`: a
    VNNI or AMX int8 unit; `bf16`: oneDNN runs bf16 kernels here (AVX512-BF16 or AMX)."""

    capability: str
    flags: tuple[str, ...]
    int8_dot: bool
    bf16: bool

    def as_dict(self) -> dict:
        return {**asdict(self), "flags": list(self.flags)}

    @property
    def kind(self) -> str:
        """The kind of CPU a fast-path rule is written for: "amx", "avx512_bf16_vnni",
        "avx512_vnni", "avx_vnni", "avx512", "avx2" or "other"."""
        has = set(self.flags)
        if "amx_int8" in has or "amx_bf16" in has:
            return "amx"
        if "avx512_vnni" in has:
            return "avx512_bf16_vnni" if "avx512_bf16" in has else "avx512_vnni"
        if "avx_vnni" in has:
            return "avx_vnni"
        if "avx512f" in has:
            return "avx512"
        return "avx2" if "avx2" in has else "other"


def cpu_flags(cpuinfo: str | None = None) -> tuple[str, ...]:
    """The REPORTED_FLAGS in /proc/cpuinfo's first `flags` line (or in `cpuinfo`'s text); empty
    where there is none (not Linux)."""
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo", encoding="utf-8") as f:
                cpuinfo = f.read()
        except OSError:
            return ()
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            present = set(line.split(":", 1)[1].split())
            return tuple(f for f in REPORTED_FLAGS if f in present)
    return ()


@functools.cache
def cpu_features() -> CpuFeatures:
    """This machine's CpuFeatures (read once)."""
    import torch

    flags = cpu_flags()
    bf16_kernels = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return CpuFeatures(
        capability=torch.backends.cpu.get_cpu_capability(),
        flags=flags,
        int8_dot=any(f in flags for f in ("avx512_vnni", "avx_vnni", "amx_int8")),
        bf16=bf16_kernels and any(f in flags for f in ("avx512_bf16", "amx_bf16")),
    )
