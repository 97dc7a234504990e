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
values take at::normal_distribution<double> (float64 math cast to float32): bit for bit.
"""
import json
import os

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


def main():
    cases = []
    for seed, sizes in CASES:
        generator = torch.Generator().manual_seed(seed)
        calls = [[f32(v) for v in torch.randn(n, generator=generator).tolist()] for n in sizes]
        cases.append({"seed": seed, "sizes": sizes, "calls": calls})
    print(json.dumps({
        "about": "torch.Generator().manual_seed(seed); torch.randn(n, generator=g) for each n in sizes, float32 values to 9 significant digits; ATEN_CPU_CAPABILITY=default",
        "torch": torch.__version__,
        "cases": cases,
    }))


if __name__ == "__main__":
    main()
