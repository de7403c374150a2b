"""Modification IDs.

Every modification of a store takes the next ID from the store's ``IDGenerator``.  IDs are for users (to name a
modification, to see how far a store got); they wrap, so the store never orders anything by them: the journal
orders records by its own 64-bit sequence number.

A generator is a pure rule: ``first()`` is the ID of a store's first modification and ``after(last)`` the ID that
follows ``last``.  It holds no counter of its own; the store's ``last_id`` is the only state, which is why
numbering continues after a reopen and why a modification that fails consumes no ID.  Subclass it (or write any
object with these two methods) for another scheme; the IDs must be values the store's codec can encode.
"""

from __future__ import annotations

from typing import Any


def wrap_after(last: Any, minimum: int, maximum: int) -> int:
    """The ID after ``last`` in the cycle ``minimum .. maximum`` (``minimum`` for anything outside it).

    pre: minimum <= maximum
    post: minimum <= __return__ <= maximum
    post: __return__ == last + 1 if (type(last) is int and minimum <= last < maximum) else __return__ == minimum
    """
    if type(last) is not int or not minimum <= last < maximum:
        return minimum
    return last + 1


class IDGenerator:
    """IDs ``minimum, minimum + 1, ..., maximum``, then ``minimum`` again.

    >>> gen = IDGenerator(maximum=3)
    >>> [gen.first(), gen.after(1), gen.after(2), gen.after(3)]
    [1, 2, 3, 1]
    """

    def __init__(self, maximum: int = 2**32 - 1, minimum: int = 1) -> None:
        if not isinstance(maximum, int) or not isinstance(minimum, int) or isinstance(maximum, bool):
            raise TypeError("IDGenerator bounds must be integers")
        if minimum > maximum:
            raise ValueError(f"IDGenerator needs minimum <= maximum, got {minimum} > {maximum}")
        self.minimum = minimum
        self.maximum = maximum

    def first(self) -> int:
        """The ID of a store's first modification."""
        return self.minimum

    def after(self, last: Any) -> int:
        """The ID that follows ``last``, wrapping to ``minimum`` after ``maximum``.

        An ID outside the range (a store written with other bounds) restarts the cycle at ``minimum``.
        """
        return wrap_after(last, self.minimum, self.maximum)

    def __repr__(self) -> str:
        return f"IDGenerator(maximum={self.maximum}, minimum={self.minimum})"
