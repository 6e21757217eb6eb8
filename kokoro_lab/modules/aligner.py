"""Text-speech aligner, learned with the model: RAD-TTS alignment learning (Badlani et al. 2022,
"One TTS Alignment To Rule Them All"), which Kokoro's training needed but did not release.

Axes: b batch, t tokens, f alignment frames (600 samples = two mel frames), m mel bins,
c channels.

Keys come from the tokens, queries from pairs of mel frames (so one query per Kokoro duration
frame); the soft alignment is a softmax over tokens of -temperature * ||q - k||^2 plus the log of
a beta-binomial prior that favours the diagonal early in training. The forward-sum (CTC) loss
trains it from scratch with no durations; monotonic alignment search (Glow-TTS, Kim et al. 2020)
turns it into integer durations, the targets of Kokoro's duration predictor.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

from kokoro_lab.modules.masking import zero_invalid

#: Mel frames per alignment frame: Kokoro's duration frame is two 300-sample mel hops.
MEL_FRAMES_PER_STEP = 2


def beta_binomial_log_prior(
    token_lengths: Tensor, frame_lengths: Tensor, t: int, f: int, scaling: float = 1.0
) -> Tensor:
    """(b,), (b,) -> log prior (b, f, t): frame i of F favours token ~ i * T / F.

    The prior of RAD-TTS: token k at frame i ~ BetaBinomial(T - 1, scaling * i, scaling *
    (F + 1 - i)), i = 1..F. Padded cells are 0 (they are masked afterwards).
    """
    n = (token_lengths - 1).clamp(min=0).to(torch.float64)[:, None, None]
    big_f = frame_lengths.to(torch.float64)[:, None, None]
    k = torch.arange(t, dtype=torch.float64)[None, None, :]
    i = torch.arange(1, f + 1, dtype=torch.float64)[None, :, None]
    a = scaling * i
    b = (scaling * (big_f + 1 - i)).clamp(min=1e-3)
    k_ok = torch.minimum(k, n)

    def lbeta(x: Tensor, y: Tensor) -> Tensor:
        return torch.lgamma(x) + torch.lgamma(y) - torch.lgamma(x + y)

    log_comb = torch.lgamma(n + 1) - torch.lgamma(k_ok + 1) - torch.lgamma(n - k_ok + 1)
    log_p = log_comb + lbeta(k_ok + a, n - k_ok + b) - lbeta(a, b)
    valid = (k <= n) & (i <= big_f)
    return torch.where(valid, log_p, torch.zeros_like(log_p)).float()


def reference_log_prior(durations: Tensor, frames: int, band: float = 2.0) -> Tensor:
    """Reference durations (b, t) -> log prior (b, f, t): frame i favours the tokens whose
    reference span is near it, a Gaussian around each span's centre with a standard deviation
    of half its length plus `band` frames, normalized over tokens."""
    d = durations.float()
    centre = torch.cumsum(d, -1) - d / 2  # (b, t)
    sigma = d / 2 + band
    i = torch.arange(frames, device=d.device, dtype=d.dtype)[None, :, None] + 0.5
    score = -0.5 * ((i - centre[:, None, :]) / sigma[:, None, :]) ** 2
    score = score.masked_fill(rearrange(durations == 0, "b t -> b 1 t"), float("-inf"))
    return F.log_softmax(score, dim=-1)


class AlignmentEncoder(nn.Module):
    """tokens (b, t), normalized log-mel (b, m, 2f), valids -> log alignment (b, f, t).

    Returns (log_attn, logits): `log_attn` is log P(token | frame) after the prior and masking
    (what monotonic alignment search reads); `logits` are the prior-weighted scores before the
    final renormalization (what the forward-sum loss reads, as in RAD-TTS).
    """

    def __init__(
        self,
        n_token: int,
        n_mels: int = 80,
        channels: int = 256,
        attention_channels: int = 80,
        temperature: float = 5e-4,
        prior_scaling: float = 1.0,
    ):
        super().__init__()
        self.temperature = temperature
        self.prior_scaling = prior_scaling
        self.embedding = nn.Embedding(n_token, channels)
        self.key_proj = nn.ModuleList(
            [
                nn.Conv1d(channels, 2 * channels, 3, padding=1),
                nn.Conv1d(2 * channels, attention_channels, 1),
            ]
        )
        query_in = n_mels * MEL_FRAMES_PER_STEP
        self.query_proj = nn.ModuleList(
            [
                nn.Conv1d(query_in, 2 * query_in, 3, padding=1),
                nn.Conv1d(2 * query_in, attention_channels, 1),
                nn.Conv1d(attention_channels, attention_channels, 1),
            ]
        )

    @staticmethod
    def _stack(convs: nn.ModuleList, x: Tensor, valid: Tensor) -> Tensor:
        """Convs with ReLU between them; padded steps are zeroed before each conv so a padded
        batch gives every item exactly what it would get alone."""
        for i, conv in enumerate(convs):
            x = conv(zero_invalid(x, valid))
            if i + 1 < len(convs):
                x = F.relu(x)
        return x

    def forward(
        self, tokens: Tensor, mel: Tensor, token_valid: Tensor, frame_valid: Tensor
    ) -> tuple[Tensor, Tensor]:
        """tokens (b, t), mel (b, m, 2f), token_valid (b, t), frame_valid (b, f)."""
        f = frame_valid.shape[1]
        q_in = rearrange(mel[..., : MEL_FRAMES_PER_STEP * f], "b m (f two) -> b (m two) f", two=2)
        keys = self._stack(
            self.key_proj, rearrange(self.embedding(tokens), "b t c -> b c t"), token_valid
        )
        queries = self._stack(self.query_proj, q_in, frame_valid)
        # ||q - k||^2 expanded, so no (b, f, t, c) tensor is built
        dist = (
            rearrange(queries.square().sum(1), "b f -> b f 1")
            + rearrange(keys.square().sum(1), "b t -> b 1 t")
            - 2 * torch.einsum("bcf,bct->bft", queries, keys)
        )
        scores = -self.temperature * dist  # (b, f, t)
        mask = rearrange(frame_valid, "b f -> b f 1") & rearrange(token_valid, "b t -> b 1 t")
        scores = scores.masked_fill(~rearrange(token_valid, "b t -> b 1 t"), float("-inf"))
        logits = F.log_softmax(scores, dim=-1)
        if self.prior_scaling > 0:
            logits = logits + beta_binomial_log_prior(
                token_valid.sum(-1), frame_valid.sum(-1), tokens.shape[1], f, self.prior_scaling
            ).to(scores.device)
        logits = logits.masked_fill(~mask, float("-inf"))
        log_attn = F.log_softmax(logits, dim=-1).masked_fill(~mask, float("-inf"))
        return log_attn, logits


def _mas_one(log_p: np.ndarray) -> np.ndarray:
    """log_p (f, t) with f >= t -> durations (t,): the monotonic path of highest total log_p
    that starts at token 0, ends at token t - 1 and moves at most one token per frame."""
    f, t = log_p.shape
    value = np.full((f, t), -np.inf)
    value[0, 0] = log_p[0, 0]
    stay_or_move = np.empty(t)
    for i in range(1, f):
        prev = value[i - 1]
        stay_or_move[0] = prev[0]
        np.maximum(prev[1:], prev[:-1], out=stay_or_move[1:])
        value[i] = stay_or_move + log_p[i]
    durations = np.zeros(t, dtype=np.int64)
    j = t - 1
    for i in range(f - 1, -1, -1):
        durations[j] += 1
        if i > 0 and j > 0 and (j == i or value[i - 1, j - 1] >= value[i - 1, j]):
            j -= 1
    return durations


@torch.no_grad()
def monotonic_alignment(log_attn: Tensor, token_lengths: Tensor, frame_lengths: Tensor) -> Tensor:
    """log_attn (b, f, t), lengths (b,) -> integer durations (b, t), 0 at padded tokens; each
    item's durations sum to its frame count and give every real token at least one frame."""
    lp = log_attn.detach().float().cpu().numpy()
    # Replace -inf by a large negative so that sums stay comparable (cells off the path only).
    lp = np.nan_to_num(lp, neginf=-1e4)
    out = torch.zeros(log_attn.shape[0], log_attn.shape[2], dtype=torch.long)
    for b, (t, f) in enumerate(zip(token_lengths.tolist(), frame_lengths.tolist())):
        if f < t:
            raise ValueError(f"item {b}: {f} frames cannot align {t} tokens (needs f >= t)")
        out[b, :t] = torch.from_numpy(_mas_one(lp[b, :f, :t]))
    return out.to(log_attn.device)


def durations_to_path(durations: Tensor, frames: int) -> Tensor:
    """durations (b, t) -> hard alignment (b, f, t) one-hot per frame (0 past each item's end)."""
    ends = torch.cumsum(durations, dim=1)
    starts = ends - durations
    pos = torch.arange(frames, device=durations.device)[None, :, None]
    return ((pos >= starts[:, None, :]) & (pos < ends[:, None, :])).to(torch.float32)
