"""Weight-normalized convolutions with the official `weight_g` / `weight_v` parameter names.

Axes: b batch, c channels, t time. Weight norm (Salimans & Kingma 2016): W = g * v / ||v||, the
norm over every dim except 0. Official Kokoro checkpoints store (g, v); kokoro-onnx exports fold W.

Folding: `fold()` rewrites (g, v) to (||W||, W), which keeps W = g * v / ||v|| exactly, and lets
inference use `v` directly with no per-call renormalization. Any later in-place change of g or v
(an optimizer step, `load_state_dict`) bumps their version counters and silently unfolds.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def norm_except_dim0(w: Tensor) -> Tensor:
    """w (o, ...) -> (o, 1, ..., 1): L2 norm over every dim but the first."""
    return torch.linalg.vector_norm(w, dim=tuple(range(1, w.dim())), keepdim=True)


def _effective(v: Tensor, g: Tensor) -> Tensor:
    """g * v / ||v|| through the same kernel as torch.nn.utils.weight_norm (bit-identical)."""
    return torch._weight_norm(v, g, 0)


class _WeightNormMixin(nn.Module):
    weight_g: nn.Parameter
    weight_v: nn.Parameter

    def _init_weight_norm(self, weight: Tensor) -> None:
        self.weight_g = nn.Parameter(norm_except_dim0(weight.detach()).clone())
        self.weight_v = nn.Parameter(weight.detach().clone())
        self._folded_versions: tuple[int, int] | None = None
        self._row_mask: Tensor | None = None

    def _versions(self) -> tuple[int, int]:
        return (self.weight_g._version, self.weight_v._version)

    @torch.no_grad()
    def fold(self) -> None:
        """Make v hold W itself (and g its norm) so inference can skip the renormalization.

        Rows with g = 0 (an int8 export can round a whole row to zero) keep their v, since a
        zero v would make g * v / ||v|| = 0/0 once unfolded; folded inference masks them.
        """
        w = _effective(self.weight_v, self.weight_g)
        live = self.weight_g != 0
        self.weight_v.copy_(torch.where(live, w, self.weight_v))
        self.weight_g.copy_(torch.where(live, norm_except_dim0(w), self.weight_g))
        self._row_mask = None if bool(live.all()) else live.to(w.dtype)
        self._folded_versions = self._versions()

    def _still_folded(self) -> bool:
        """Whether g and v are unchanged since `fold()`. Under torch.compile the version counters
        cannot be read in the graph: a compiled module is taken to be frozen (weights loaded
        before compiling, as for any compiled inference module)."""
        return torch.compiler.is_compiling() or self._folded_versions == self._versions()

    def weight(self) -> Tensor:
        """The effective weight W = g * v / ||v||."""
        needs_grad = torch.is_grad_enabled() and (
            self.weight_g.requires_grad or self.weight_v.requires_grad
        )
        if not needs_grad and self._folded_versions is not None and self._still_folded():
            return self.weight_v if self._row_mask is None else self.weight_v * self._row_mask
        return _effective(self.weight_v, self.weight_g)


class WNConv1d(_WeightNormMixin):
    """Weight-normalized Conv1d: x (b, c_in, t) -> (b, c_out, t')."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int = 0,
        dilation: int = 1,
        groups: int = 1,
        bias: bool = True,
    ):
        super().__init__()
        conv = nn.Conv1d(in_channels, out_channels, kernel_size, stride, padding, dilation, groups)
        self._init_weight_norm(conv.weight)
        self.bias = nn.Parameter(conv.bias.detach().clone()) if bias else None
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups

    def forward(self, x: Tensor) -> Tensor:
        return F.conv1d(
            x, self.weight(), self.bias, self.stride, self.padding, self.dilation, self.groups
        )


class WNConvTranspose1d(_WeightNormMixin):
    """Weight-normalized ConvTranspose1d (weight (c_in, c_out / groups, k), g over dim 0)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int = 0,
        output_padding: int = 0,
        groups: int = 1,
    ):
        super().__init__()
        conv = nn.ConvTranspose1d(
            in_channels, out_channels, kernel_size, stride, padding, output_padding, groups
        )
        self._init_weight_norm(conv.weight)
        self.bias = nn.Parameter(conv.bias.detach().clone())
        self.stride, self.padding, self.output_padding = stride, padding, output_padding
        self.groups = groups

    def forward(self, x: Tensor) -> Tensor:
        """x (b, c_in, t) -> (b, c_out, (t - 1) * stride - 2 * padding + k + output_padding)."""
        return F.conv_transpose1d(
            x, self.weight(), self.bias, self.stride, self.padding, self.output_padding, self.groups
        )


def fold_weight_norm(module: nn.Module) -> int:
    """Fold every weight-normed conv below `module`; returns how many were folded."""
    count = 0
    for m in module.modules():
        if isinstance(m, _WeightNormMixin):
            m.fold()
            count += 1
    return count
