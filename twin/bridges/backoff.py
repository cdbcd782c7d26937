"""Exponential back-off between reconnection attempts (pure: it only computes delays)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

__all__ = ["Backoff"]


@dataclass
class Backoff:
    """``next()`` gives 0.5, 1, 2, 4 ... up to ``maximum`` seconds, with jitter; ``reset()`` after a success.

    Jitter (up to ``jitter`` of the delay) keeps many bridges from reconnecting in step
    after a shared outage.
    """

    initial: float = 0.5
    maximum: float = 30.0
    jitter: float = 0.1
    rng: random.Random = field(default_factory=random.Random)
    _current: float = field(default=0.0, init=False)

    def __post_init__(self) -> None:
        if not 0 < self.initial <= self.maximum:
            raise ValueError(f'"initial" must be > 0 and <= "maximum", got {self.initial} and {self.maximum}')
        if not 0 <= self.jitter < 1:
            raise ValueError(f'"jitter" must be in [0, 1), got {self.jitter}')

    def next(self) -> float:
        self._current = self.initial if self._current == 0 else min(self._current * 2, self.maximum)
        return self._current * (1 - self.jitter * self.rng.random())

    def reset(self) -> None:
        self._current = 0.0
