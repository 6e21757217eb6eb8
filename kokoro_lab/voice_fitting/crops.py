"""Which clip and which stretch of it each fitting step decodes.

Every step decodes one random clip, or a random crop of at most `crop_frames` duration frames
(600 samples each) of it. The default decodes whole clips: the decoder's AdaIN layers normalize
over time, so a crop decoded on its own is not the same stretch of the whole clip's decoding, and
fitting crops biases the style (docs/finetune_voice.md). Item i is drawn from a generator seeded
with (seed, i): a run resumed from a checkpoint sees the same clips and crops.
"""

from __future__ import annotations

import torch
from torch.utils.data import Dataset


class CropDataset(Dataset):
    """`length` items {clip, start, frames, prosody_clips}: clip index, first frame and length
    of a crop, and `prosody_clips` more clip indices for the (cheap) prosody losses."""

    def __init__(
        self,
        frames: list[int],
        length: int,
        crop_frames: int,
        seed: int = 0,
        prosody_clips: int = 0,
    ):
        self.frames = list(frames)
        self.prosody_clips = prosody_clips
        self.length = length
        self.crop_frames = crop_frames
        self.seed = seed

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, int]:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + index)
        clip = int(torch.randint(len(self.frames), (1,), generator=g))
        f = self.frames[clip]
        n = min(self.crop_frames, f)
        start = int(torch.randint(f - n + 1, (1,), generator=g))
        extra = torch.randint(len(self.frames), (self.prosody_clips,), generator=g)
        return {"clip": clip, "start": start, "frames": n, "prosody_clips": extra}


class ClipIndex(Dataset):
    """Validation: the indices of the clips rendered and scored at each validation."""

    def __init__(self, indices: list[int]):
        self.indices = indices

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> int:
        return self.indices[index]
