"""A1111's NV generator (modules/rng_philox.py, `Generator.randn`) in numpy, for the reference values
of test/unit/rng/philoxReference.test.ts. Prints JSON:

    /usr/bin/python3 scripts/golden/philox.py

Written from rng_philox.py with the same numpy dtypes (numpy 1.x, as A1111 pins it): Philox 4x32-10
on uint32 words, key = the seed as a uint64 viewed as two uint32 words (low first), counter =
[call number, 0, element index, 0], and Box–Muller's sine output from the first two words, where
uint32 words times the float32 constants promote to float64 and the result is cast to float32.
Checks itself against rng_philox.py's docstring vector (A1111's published output for seed 0) before
printing anything.
"""
import json
import sys

import numpy as np

MULTIPLIERS = (0xD2511F53, 0xCD9E8D57)
WEYL = (0x9E3779B9, 0xBB67AE85)
# float32 arrays, as in rng_philox.py: the array-times-array products below promote to float64.
INV_2_32 = np.array([2.3283064e-10], dtype=np.float32)
INV_2_32_TIMES_2PI = np.array([2.3283064e-10 * 6.2831855], dtype=np.float32)


def hi_lo(product):
    """(high word, low word) of each uint64 product."""
    return (product >> np.uint64(32)).astype(np.uint32), (product & np.uint64(0xFFFFFFFF)).astype(np.uint32)


def philox_4x32_10(counter, key):
    c0, c1, c2, c3 = (w.copy() for w in counter)
    k0, k1 = key[0].copy(), key[1].copy()
    for round_index in range(10):
        hi0, lo0 = hi_lo(c0.astype(np.uint64) * np.uint64(MULTIPLIERS[0]))
        hi2, lo2 = hi_lo(c2.astype(np.uint64) * np.uint64(MULTIPLIERS[1]))
        c0, c1, c2, c3 = hi2 ^ c1 ^ k0, lo2, hi0 ^ c3 ^ k1, lo0
        if round_index < 9:
            k0 = k0 + np.uint32(WEYL[0])
            k1 = k1 + np.uint32(WEYL[1])
    return c0, c1, c2, c3


def box_muller_first(x, y):
    """The sine output only; x, y uint32 arrays."""
    u = x * INV_2_32 + INV_2_32 / 2
    v = y * INV_2_32_TIMES_2PI + INV_2_32_TIMES_2PI / 2
    assert u.dtype == np.float64 and v.dtype == np.float64 and (INV_2_32 / 2).dtype == np.float32
    return (np.sqrt(-2.0 * np.log(u)) * np.sin(v)).astype(np.float32)


class Generator:
    def __init__(self, seed):
        self.seed = seed
        self.calls = 0

    def randn(self, n):
        counter = np.zeros((4, n), dtype=np.uint32)
        counter[0] = self.calls
        counter[2] = np.arange(n, dtype=np.uint32)
        self.calls += 1
        key_words = np.full(n, self.seed, dtype=np.uint64).view(np.uint32).reshape(-1, 2).T
        words = philox_4x32_10(counter, key_words)
        return box_muller_first(words[0], words[1])


def f32(x):
    # 9 significant digits name a float32 exactly.
    return float(f"{x:.9g}")


DOCSTRING_SEED0_3x4 = [
    -0.92466259, -0.42534415, -2.6438457, 0.14518388, -0.12086647, -0.57972564,
    -0.62285122, -0.32838709, -1.07454231, -0.36314407, -1.67105067, 2.26550497,
]


def main():
    docstring = Generator(0).randn(12)
    if np.max(np.abs(docstring - np.array(DOCSTRING_SEED0_3x4))) > 1e-6:
        sys.exit(f"not rng_philox.py: seed 0 gives {docstring.tolist()}")

    calls = []
    for seed in [0, 1, 2**32 + 7, 2**53 - 1]:
        generator = Generator(seed)
        calls.append({"seed": seed, "first": [f32(v) for v in generator.randn(6)], "second": [f32(v) for v in generator.randn(6)], "third": [f32(v) for v in generator.randn(2)]})

    # Words where Box–Muller's half-step offsets show after float32 rounding: x = 0 leaves u the
    # offset alone; y = 0 and y = 2^32 - 1 put v within half a step of 0 and 2π, where sin(v) is
    # about ±v.
    words = [(0, 0), (0, 0xFFFFFFFF), (0, 0x40000000), (1, 0), (0xFFFFFFFF, 0x40000000), (0x80000000, 0), (0x12345678, 0xFFFFFFFF), (0x9ABCDEF0, 0xC0000000)]
    box_muller = [
        {"x": x, "y": y, "value": f32(box_muller_first(np.array([x], dtype=np.uint32), np.array([y], dtype=np.uint32))[0])}
        for x, y in words
    ]
    print(json.dumps({"numpy": np.__version__, "calls": calls, "boxMuller": box_muller}, indent=1))


if __name__ == "__main__":
    main()
