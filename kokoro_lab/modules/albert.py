"""PL-BERT: the phoneme-level ALBERT of StyleTTS 2 (Li et al. 2023; Lan et al. 2019 for ALBERT).

Axes: b batch, t tokens, e embedding (128), d hidden (768), h heads, k head width.
Our own implementation, parameter names identical to `transformers.AlbertModel` so the official
`bert` state dict loads strictly. ALBERT shares one transformer layer across all
`num_hidden_layers` applications; the embedding is factorized (128 -> 768).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

from kokoro_lab.config import AlbertConfig


class AlbertEmbeddings(nn.Module):
    """tokens (b, t) -> (b, t, e): word + position + token-type (always type 0) embeddings."""

    def __init__(self, cfg: AlbertConfig):
        super().__init__()
        self.word_embeddings = nn.Embedding(cfg.vocab_size, cfg.embedding_size, padding_idx=0)
        self.position_embeddings = nn.Embedding(cfg.max_position_embeddings, cfg.embedding_size)
        self.token_type_embeddings = nn.Embedding(cfg.type_vocab_size, cfg.embedding_size)
        self.LayerNorm = nn.LayerNorm(cfg.embedding_size, eps=cfg.layer_norm_eps)
        self.dropout = nn.Dropout(0.1)

    def forward(self, tokens: Tensor) -> Tensor:
        t = tokens.shape[1]
        if t > self.position_embeddings.num_embeddings:
            raise ValueError(
                f"{t} tokens exceed PL-BERT's {self.position_embeddings.num_embeddings} positions:"
                " split the text into shorter chunks (kokoro_lab.text.chunking does this)"
            )
        x = self.word_embeddings(tokens) + self.position_embeddings.weight[:t]
        x = x + self.token_type_embeddings.weight[0]
        return self.dropout(self.LayerNorm(x))


class AlbertAttention(nn.Module):
    """Post-norm self-attention: x (b, t, d), key_valid (b, t) -> (b, t, d)."""

    def __init__(self, cfg: AlbertConfig):
        super().__init__()
        d = cfg.hidden_size
        self.heads = cfg.num_attention_heads
        self.query, self.key, self.value = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)
        self.dense = nn.Linear(d, d)
        self.LayerNorm = nn.LayerNorm(d, eps=cfg.layer_norm_eps)
        self.dropout_p = 0.1

    def forward(self, x: Tensor, key_valid: Tensor | None) -> Tensor:
        q, k, v = (
            rearrange(proj(x), "b t (h k) -> b h t k", h=self.heads)
            for proj in (self.query, self.key, self.value)
        )
        mask = None if key_valid is None else rearrange(key_valid, "b t -> b 1 1 t")
        ctx = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=self.dropout_p if self.training else 0.0
        )
        ctx = rearrange(ctx, "b h t k -> b t (h k)")
        return self.LayerNorm(x + F.dropout(self.dense(ctx), 0.1, self.training))


class AlbertLayer(nn.Module):
    """Attention then a GELU (tanh approximation, `gelu_new`) feed-forward, both post-norm."""

    def __init__(self, cfg: AlbertConfig):
        super().__init__()
        self.attention = AlbertAttention(cfg)
        self.ffn = nn.Linear(cfg.hidden_size, cfg.intermediate_size)
        self.ffn_output = nn.Linear(cfg.intermediate_size, cfg.hidden_size)
        self.full_layer_layer_norm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)

    def forward(self, x: Tensor, key_valid: Tensor | None) -> Tensor:
        """x (b, t, d) -> (b, t, d)."""
        a = self.attention(x, key_valid)
        h = self.ffn_output(F.gelu(self.ffn(a), approximate="tanh"))
        return self.full_layer_layer_norm(F.dropout(h, 0.1, self.training) + a)


class AlbertLayerGroup(nn.Module):
    def __init__(self, cfg: AlbertConfig):
        super().__init__()
        self.albert_layers = nn.ModuleList([AlbertLayer(cfg)])


class AlbertTransformer(nn.Module):
    """(b, t, e) -> (b, t, d): factorized projection, then the shared layer applied N times."""

    def __init__(self, cfg: AlbertConfig):
        super().__init__()
        self.num_hidden_layers = cfg.num_hidden_layers
        self.embedding_hidden_mapping_in = nn.Linear(cfg.embedding_size, cfg.hidden_size)
        self.albert_layer_groups = nn.ModuleList([AlbertLayerGroup(cfg)])

    def forward(self, x: Tensor, key_valid: Tensor | None) -> Tensor:
        x = self.embedding_hidden_mapping_in(x)
        layer = self.albert_layer_groups[0].albert_layers[0]
        for _ in range(self.num_hidden_layers):
            x = layer(x, key_valid)
        return x


class Albert(nn.Module):
    """PL-BERT: tokens (b, t), valid (b, t) -> hidden states (b, t, d).

    `pooler` is part of the official checkpoint layout but Kokoro never uses it.
    """

    def __init__(self, cfg: AlbertConfig):
        super().__init__()
        self.config = cfg
        self.embeddings = AlbertEmbeddings(cfg)
        self.encoder = AlbertTransformer(cfg)
        self.pooler = nn.Linear(cfg.hidden_size, cfg.hidden_size)

    def forward(self, tokens: Tensor, valid: Tensor | None = None) -> Tensor:
        key_valid = None if valid is None or bool(valid.all()) else valid
        return self.encoder(self.embeddings(tokens), key_valid)


def init_albert_(module: Albert, std: float = 0.02) -> None:
    """BERT-style initialization for training from scratch (normal(0, 0.02), zero biases)."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, 0.0, std)
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)
    with torch.no_grad():
        module.embeddings.word_embeddings.weight[0].zero_()
