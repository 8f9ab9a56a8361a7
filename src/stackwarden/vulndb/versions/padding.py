"""A sort key for sequences compared as if padded with zeros forever (RubyGems, Maven, ...).

Comparing `[1, "a"]` with `[1, "a", 0, "b"]` under zero padding compares the padding 0 with the
second sequence's 0 and then with "b", so a plain tuple of the elements with a terminator is not
enough: the result depends on the next element that is not zero. The key therefore groups each
non-zero element with the count of zeros before it, and ranks the groups so that tuple order
equals padded order (`is_string` says which elements sort below zero, such as qualifiers).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

_BELOW_ZERO, _END, _ABOVE_ZERO = 0, 1, 2
END = (_END,)


def zero_padded_key(elements: Iterable[Any], is_zero: Callable[[Any], bool],
                    below_zero: Callable[[Any], bool],
                    value: Callable[[Any], Any] = lambda e: e) -> tuple:
    """A tuple ordering like the element sequence padded with zeros.

    `below_zero(e)` says whether a non-zero element sorts below zero (then elements below zero
    are ordered by `value`, as are those above zero).
    """
    key: list[tuple] = []
    zeros = 0
    for element in elements:
        if is_zero(element):
            zeros += 1
            continue
        if below_zero(element):
            # Facing padding zeros, a sequence with an element below zero sooner is smaller.
            key.append((_BELOW_ZERO, zeros, value(element)))
        else:
            # ... and one with an element above zero sooner is larger.
            key.append((_ABOVE_ZERO, -zeros, value(element)))
        zeros = 0
    key.append(END)
    return tuple(key)
