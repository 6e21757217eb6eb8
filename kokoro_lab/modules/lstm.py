"""A bidirectional LSTM over padded batches. Axes: b batch, t time, c channels.

Packing makes each item's backward pass start at its own last valid step, exactly as if it ran
alone; it costs time, so it is used only when the batch really has padding.
"""

from __future__ import annotations

from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


def run_lstm(lstm: nn.LSTM, x: Tensor, valid: Tensor | None) -> Tensor:
    """x (b, t, c_in), valid (b, t) -> (b, t, c_out) with zeros at padded steps."""
    if valid is None or bool(valid.all()):
        return lstm(x)[0]
    lengths = valid.sum(-1).cpu()
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    out, _ = pad_packed_sequence(lstm(packed)[0], batch_first=True, total_length=x.shape[1])
    return out
