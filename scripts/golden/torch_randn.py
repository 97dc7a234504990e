"""What torch's CPU generator gives for A1111's `RNG: CPU` noise: torch.manual_seed(seed) then
torch.randn(n) calls on that one generator, float32. Prints JSON (test/golden/torch_randn.json):

    /usr/bin/python3 scripts/golden/torch_randn.py > test/golden/torch_randn.json

Made with Debian's python3-torch 1.13.1. torch picks its CPU kernel at run time; on an AVX2 machine
randn of 16 or more values goes through normal_fill_AVX2, whose log and sincos are avx_mathfun's
polynomials (up to ~1.6e-6 away from the exact functions). The engine transcribes the portable
normal_fill_16 (std::log, std::cos, std::sin in float), so this script asks torch for that kernel
(ATEN_CPU_CAPABILITY=default, read when torch loads). glibc's logf/cosf/sinf are not correctly
rounded, so even that kernel can be a few float32 ulps from the engine's correctly rounded functions
(98.5% of values equal, the rest 1 to 3 ulps apart): the test allows 3 ulps there. Fewer than 16
values take at::normal_distribution<double> (float64 math cast to float32): bit for bit. There torch
1.13 takes log(1 - u2) where 2.x (A1111's torch) and the engine take log1p(-u2): the script
recomputes those calls both ways from numpy's MT19937, checks the 1.13 way is torch's output bit for
bit, and stops if the 2.x way differs for a case (none of 4,500 values of seeds 0-299 does).
"""
import json
import math
import os
import sys

import numpy as np

os.environ["ATEN_CPU_CAPABILITY"] = "default"

import torch  # noqa: E402  (after the capability is set)

# Seeds: 0 and 1; the largest 32-bit seed; seeds past 2^32 (a seed plus ENSD, 2^53 - 1: torch keeps
# the low 32 bits); 4294967295 + 31337 is the largest seed A1111 draws plus the usual ENSD.
SEEDS = [0, 1, 4294967295, 4294967296 + 5, 2**53 - 1, 4294967295 + 31337]

# (seed, sizes of successive randn calls on one generator)
CASES = (
    # The seed's low 32 bits: the scalar path (3) and the 16-wide path with a redrawn tail (20).
    [(s, [3]) for s in SEEDS]
    + [(s, [20]) for s in SEEDS]
    # The scalar path: one value, an odd count (its cached sine is left over), the largest scalar call.
    + [(0, [1]), (42, [15])]
    # A cached sine carried into the next scalar call, then normal_fill going on with the engine
    # (the cache is not used by normal_fill and stays for a later scalar call).
    + [(0, [3, 5, 20]), (7, [1, 17, 1])]
    # Lengths that are not a multiple of 16: the last 16 slots get 16 fresh uniforms.
    + [(0, [17]), (1, [31]), (2, [33]), (3, [100])]
    # A redrawn tail, then another call: the engine must be exactly 16 uniforms further on.
    + [(5, [17, 16]), (5, [40, 3])]
    # Past 624 outputs: the Mersenne Twister's second twist (700 + 16 uniforms, then 30 more).
    + [(11, [700, 30])]
)


def f32(x):
    # 9 significant digits name a float32 exactly.
    return float(f"{x:.9g}")


def scalar_path(seed, sizes, radius_log):
    """The calls' scalar-path values (None for a normal_fill call) as at::normal_distribution<double>
    makes them from numpy's own MT19937 (legacy init_genrand seeding, torch's engine), with
    radius_log(u2) for log(1 - u2)."""
    engine = np.random.MT19937()
    engine._legacy_seeding(seed & 0xFFFFFFFF)

    def uniform53():
        hi, lo = (int(w) for w in engine.random_raw(2))
        return (((hi << 32) | lo) & ((1 << 53) - 1)) / 2.0**53

    cached = None
    calls = []
    for n in sizes:
        if n >= 16:
            engine.random_raw(n + (16 if n % 16 else 0))  # normal_fill: a 24-bit uniform each, the tail again
            calls.append(None)
            continue
        values = []
        for _ in range(n):
            if cached is not None:
                values.append(np.float32(cached))
                cached = None
                continue
            u1, u2 = uniform53(), uniform53()
            r = math.sqrt(-2.0 * radius_log(u2))
            theta = 2.0 * math.pi * u1
            cached = r * math.sin(theta)
            values.append(np.float32(r * math.cos(theta)))
        calls.append(values)
    return calls


# torch 1.13 (this torch) takes log(1 - u2); torch 2.x, which A1111 runs, and the engine take
# log1p(-u2). A scalar-path case is a reference for both only where the two give the same float32s.
TORCH_1_13_LOG = lambda u2: math.log(1.0 - u2)  # noqa: E731
TORCH_2_LOG = lambda u2: math.log1p(-u2)  # noqa: E731


def main():
    cases = []
    for seed, sizes in CASES:
        generator = torch.Generator().manual_seed(seed)
        tensors = [torch.randn(n, generator=generator) for n in sizes]
        old, new = scalar_path(seed, sizes, TORCH_1_13_LOG), scalar_path(seed, sizes, TORCH_2_LOG)
        for tensor, mine, theirs in zip(tensors, old, new):
            if mine is None:
                continue
            # The transcription is torch 1.13's own path, bit for bit, or the check below means nothing.
            if tensor.numpy().tolist() != [float(v) for v in mine]:
                sys.exit(f"seed {seed} {sizes}: the scalar path is not torch's")
            if mine != theirs:
                sys.exit(f"seed {seed} {sizes}: torch 1.13 and 2.x differ here; pick another case")
        calls = [[f32(v) for v in tensor.tolist()] for tensor in tensors]
        cases.append({"seed": seed, "sizes": sizes, "calls": calls})
    print(json.dumps({
        "about": "torch.Generator().manual_seed(seed); torch.randn(n, generator=g) for each n in sizes, float32 values to 9 significant digits; ATEN_CPU_CAPABILITY=default; calls under 16 values checked equal under torch 1.13's log(1 - u2) and 2.x's log1p(-u2)",
        "torch": torch.__version__,
        "cases": cases,
    }))


if __name__ == "__main__":
    main()
