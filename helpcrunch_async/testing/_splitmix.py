"""The splitmix64 finaliser every synthetic record is drawn from: one 64-bit hash each."""

from __future__ import annotations

MASK = (1 << 64) - 1
# Added per index before mixing (the golden ratio in 64 bits): indices far apart in hash.
GOLDEN = 0x9E3779B97F4A7C15
MIX_1 = 0xBF58476D1CE4E5B9
MIX_2 = 0x94D049BB133111EB


def mix(z: int) -> int:
    """Return the splitmix64 finaliser of ``z``: a handful of integer ops, good avalanche."""
    z = ((z ^ (z >> 30)) * MIX_1) & MASK
    z = ((z ^ (z >> 27)) * MIX_2) & MASK
    return z ^ (z >> 31)
