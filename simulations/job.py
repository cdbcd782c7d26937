"""A lot of units of one product moving through a factory."""

from __future__ import annotations

__all__ = ["Job"]


class Job:
    """An order released as one lot; it travels whole from machine to machine.

    ``created`` is when the order arrived (factory lead time starts), ``entered``
    when it was released to its line (line lead time starts). ``qty`` shrinks as
    units are scrapped.
    """

    __slots__ = ("id", "product", "qty", "work_factor", "created", "entered")

    def __init__(self, id: int, product: str, qty: int, work_factor: float, created: float):
        if qty < 1:
            raise ValueError(f'"qty" must be >= 1 (got {qty!r})')
        self.id = id
        self.product = product
        self.qty = qty
        self.work_factor = work_factor
        self.created = created
        self.entered = created

    def __repr__(self) -> str:
        return f"Job({self.id}, {self.product!r}, qty={self.qty})"
