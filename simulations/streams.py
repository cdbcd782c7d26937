"""Independent, reproducible random streams, one per source of randomness.

Every source (arrivals of a factory, processing at a machine, its failures, its
repairs, ...) draws from its own generator, keyed by the seed, the replication
number and the source's *name*. Two scenarios run with the same seed and
replication therefore see the same stream at every source they share (common
random numbers), even when one scenario adds a machine or a truck; a different
``salt`` gives statistically independent streams for the same names.
"""

from __future__ import annotations

import hashlib

import numpy as np

__all__ = ["RandomStreams", "stream_key"]


def stream_key(name: str) -> tuple[int, int]:
    """A stable 64-bit key for a source name (Python's ``hash`` is salted per process)."""
    digest = hashlib.blake2b(name.encode("utf-8"), digest_size=8).digest()
    v = int.from_bytes(digest, "little")
    return v & 0xFFFFFFFF, v >> 32


class RandomStreams:
    """Factory of ``numpy`` generators for one replication.

    ``seed`` and ``replication`` must be integers >= 0; ``salt`` (>= 0) separates
    otherwise identical experiments, e.g. independent streams per scenario.
    """

    __slots__ = ("seed", "replication", "salt", "_issued")

    def __init__(self, seed: int, replication: int = 0, salt: int = 0):
        for name, v in (("seed", seed), ("replication", replication), ("salt", salt)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f'"{name}" must be an integer >= 0 (got {v!r})')
        self.seed = seed
        self.replication = replication
        self.salt = salt
        self._issued: set[str] = set()

    def rng(self, name: str) -> np.random.Generator:
        """The generator of the source called ``name``; each name may be asked for once."""
        if name in self._issued:
            # Two consumers of one stream would silently break common random numbers.
            raise ValueError(f"random stream {name!r} was already issued")
        self._issued.add(name)
        lo, hi = stream_key(name)
        seq = np.random.SeedSequence(entropy=self.seed, spawn_key=(self.replication, self.salt, lo, hi))
        return np.random.Generator(np.random.PCG64(seq))
