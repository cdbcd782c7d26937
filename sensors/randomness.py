"""Reproducible randomness: seeds derived from (run seed, name) and counter-based hashes.

Python's ``hash()`` is salted per process, so seeds are derived with BLAKE2b
instead; a run with the same seed is identical in every process.
"""

from __future__ import annotations

import hashlib
import random

__all__ = ["derive_seed", "rng_for", "unit_hash"]

_MASK64 = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15


def derive_seed(seed: int, *names: str) -> int:
    """A 64-bit seed for the stream called ``names`` within run ``seed``."""
    text = "\x1f".join((str(seed), *names)).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big")


def rng_for(seed: int, *names: str) -> random.Random:
    """An independent generator per named stream (one per sensor, machine, truck)."""
    return random.Random(derive_seed(seed, *names))


def unit_hash(key: int, n: int) -> float:
    """A uniform number in [0, 1) that depends only on (key, n) (splitmix64).

    Used where a draw must not depend on how often or in which order something
    was sampled, e.g. whether part number ``n`` of a machine is scrap.
    """
    z = (key + (n + 1) * _GOLDEN) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    z ^= z >> 31
    return (z >> 11) * (1.0 / (1 << 53))
