"""Length-bucketed batches, formed from the whole input before they are shared out.

A batch holds lines of one voice, language, speed and input kind (one `Pipeline` speaks it),
of similar length, so padding wastes little. Batches are cut from the whole corpus, ordered
longest first and dealt round-robin to the ranks: a line's batch (hence its padding and its
audio) does not depend on how many processes run, and every line is in exactly one batch of
exactly one rank (Lightning's DistributedSampler would repeat lines to even the ranks out).
Text is measured in characters (no G2P before sharing out), phonemes in symbols.
"""

from __future__ import annotations

from collections.abc import Sequence

from kokoro_lab.synthesis.corpus import Utterance


def _group(u: Utterance) -> tuple:
    return (u.voice, u.lang or "", u.speed, u.phonemes)


def length_batches(utterances: Sequence[Utterance], batch_size: int) -> list[list[Utterance]]:
    """Utterances -> batches of at most `batch_size` of one group and similar length, longest
    batch first (ties: by the group and first line, so the order is fixed by the input)."""
    assert batch_size >= 1
    groups: dict[tuple, list[Utterance]] = {}
    for u in utterances:
        groups.setdefault(_group(u), []).append(u)
    batches = []
    for members in groups.values():
        ordered = sorted(members, key=lambda u: (len(u.content), u.line, u.id))
        batches += [ordered[i : i + batch_size] for i in range(0, len(ordered), batch_size)]

    def order(batch: list[Utterance]) -> tuple:
        longest = max(len(u.content) for u in batch)
        return (-longest * len(batch), str(_group(batch[0])), batch[0].line, batch[0].id)

    return sorted(batches, key=order)


def shard(items: Sequence, rank: int, world_size: int) -> list:
    """The items rank `rank` of `world_size` takes: every world_size-th, from its rank."""
    assert 0 <= rank < world_size
    return list(items[rank::world_size])
