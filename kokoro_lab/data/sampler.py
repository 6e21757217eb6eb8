"""A length-bucketed batch sampler whose order is a function of (seed, epoch) and can resume.

Global batches of `batch_size * num_replicas` clips are formed first (a seeded permutation, sorted
by length within windows of `bucket_batches` global batches so padding stays small, then the batch
order shuffled), and rank r takes slice r of each. So the clips a global batch holds do not depend
on how many processes share it: 1 process with batch 4 and 2 processes with batch 2 see the same
global batches. The state is (epoch, batches consumed); loading it makes the next iteration skip
what the interrupted run had consumed, which is what resuming mid-epoch needs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence

import torch
from torch.utils.data import DataLoader, Sampler

from kokoro_lab.errors import UserValueError


class BucketBatchSampler(Sampler[list[int]]):
    """Yields lists of dataset indices, `batch_size` per rank."""

    def __init__(
        self,
        lengths: Sequence[int],
        batch_size: int,
        num_replicas: int = 1,
        rank: int = 0,
        seed: int = 0,
        shuffle: bool = True,
        bucket_batches: int = 16,
        drop_last: bool = False,
    ):
        if batch_size < 1:
            raise UserValueError(f"batch_size must be >= 1, got {batch_size}")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank {rank} is outside 0..{num_replicas - 1}")
        self.lengths = list(lengths)
        self.batch_size, self.num_replicas, self.rank = batch_size, num_replicas, rank
        self.seed, self.shuffle, self.drop_last = seed, shuffle, drop_last
        self.bucket_batches = bucket_batches
        self.epoch = 0
        self._skip = 0
        self._yielded = 0
        if len(self) == 0:
            raise UserValueError(
                f"{len(self.lengths)} clips make no full global batch of "
                f"{self.global_batch_size} with drop_last=True: lower batch_size or add data"
            )

    @property
    def global_batch_size(self) -> int:
        return self.batch_size * self.num_replicas

    def __len__(self) -> int:
        n = len(self.lengths) / self.global_batch_size
        return math.floor(n) if self.drop_last else math.ceil(n)

    @property
    def sampler(self) -> BucketBatchSampler:
        """Lightning calls `loader.batch_sampler.sampler.set_epoch(epoch)` before each epoch;
        this batch sampler is its own index sampler."""
        return self

    def set_epoch(self, epoch: int) -> None:
        """Called by Lightning before each epoch; a new epoch drops any pending resume skip."""
        if epoch != self.epoch:
            self.epoch, self._skip = epoch, 0

    def global_batches(self, epoch: int) -> list[list[int]]:
        """Every global batch of `epoch`, in order (the same on every rank)."""
        g = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
        n, size = len(self.lengths), self.global_batch_size
        order = torch.randperm(n, generator=g).tolist() if self.shuffle else list(range(n))
        need = len(self) * size
        if need > n:  # pad the last global batch by wrapping around, so every rank gets a batch
            order = order + order[: need - n]
        order = order[:need]
        window = size * self.bucket_batches
        batches = []
        for start in range(0, need, window):
            chunk = sorted(order[start : start + window], key=lambda i: self.lengths[i])
            batches += [chunk[i : i + size] for i in range(0, len(chunk), size)]
        if self.shuffle:
            batches = [batches[i] for i in torch.randperm(len(batches), generator=g).tolist()]
        return batches

    def __iter__(self) -> Iterator[list[int]]:
        skip, self._skip = self._skip, 0
        self._yielded = skip
        b, r = self.batch_size, self.rank
        for batch in self.global_batches(self.epoch)[skip:]:
            self._yielded += 1
            yield batch[r * b : (r + 1) * b]

    def state_dict(self, consumed: int | None = None) -> dict:
        """{epoch, consumed}: `consumed` batches of this epoch were trained on (default: the
        number yielded so far, which runs ahead of training when the loader prefetches)."""
        return {"epoch": self.epoch, "consumed": self._yielded if consumed is None else consumed}

    def load_state_dict(self, state: dict) -> None:
        """Resume: the next iteration starts after the consumed batches of the saved epoch."""
        epoch, consumed = int(state["epoch"]), int(state["consumed"])
        if consumed >= len(self):  # saved at the end of an epoch: the next one starts fresh
            epoch, consumed = epoch + 1, 0
        self.epoch, self._skip = epoch, consumed


class ResumableDataLoader(DataLoader):
    """A DataLoader with `state_dict` / `load_state_dict` (Lightning saves them in checkpoints and
    restores them on resume) delegating to its BucketBatchSampler.

    `consumed` reports how many batches of the current epoch the training loop has actually
    used; Lightning prefetches, so the sampler's own count would be one ahead.
    """

    def __init__(self, *args, consumed: Callable[[], int | None] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.consumed = consumed

    def state_dict(self) -> dict:
        return self.batch_sampler.state_dict(self.consumed() if self.consumed else None)

    def load_state_dict(self, state: dict) -> None:
        self.batch_sampler.load_state_dict(state)
