"""Our PL-BERT ALBERT equals transformers' AlbertModel (a test-only dependency), same weights."""

from __future__ import annotations

import torch
from transformers import AlbertConfig as HFAlbertConfig
from transformers import AlbertModel

from kokoro_lab.config import AlbertConfig
from kokoro_lab.modules.albert import Albert


def test_albert_matches_transformers_with_padding():
    cfg = AlbertConfig(
        embedding_size=16,
        hidden_size=32,
        num_attention_heads=4,
        intermediate_size=64,
        num_hidden_layers=3,
    )
    hf = AlbertModel(
        HFAlbertConfig(
            vocab_size=178,
            embedding_size=16,
            hidden_size=32,
            num_attention_heads=4,
            intermediate_size=64,
            num_hidden_layers=3,
            max_position_embeddings=512,
        )
    ).eval()
    ours = Albert(cfg).eval()
    ours.load_state_dict(hf.state_dict(), strict=True)
    tokens = torch.randint(1, 178, (2, 11), generator=torch.Generator().manual_seed(0))
    mask = torch.ones(2, 11, dtype=torch.long)
    mask[1, 7:] = 0
    with torch.no_grad():
        ref = hf(tokens, attention_mask=mask).last_hidden_state
        out = ours(tokens, mask.bool())
    torch.testing.assert_close(out[0], ref[0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out[1, :7], ref[1, :7], atol=1e-5, rtol=1e-5)
    with torch.no_grad():  # padding does not change the valid positions
        solo = ours(tokens[1:, :7])
    torch.testing.assert_close(out[1, :7], solo[0], atol=1e-5, rtol=1e-5)
