"""Reference values for test/unit/samplers/brownianTreeMutants.test.ts: the SDE samplers' Brownian
noise as docs/rendering.md describes it (not torchsde's: see brownianTree.ts), written from the
published generators rather than from the TypeScript: per queried sigma, a stream keyed by the
seed's two 32-bit halves and the sigma's float64 words, mixed in by a splitmix-style Weyl step
(golden ratio increment, murmur3's fmix32 finalizer) after xor with word * 0x27d4eb2d; xoshiro128**
(Blackman & Vigna's reference xoshiro128starstar.c) seeded from four more mixes (the first forced
odd); Box-Muller from pairs, u1 = (next + 1) / (2^32 + 1), u2 = next / 2^32. Then W(sigma_min) = 0,
W(sigma_max) = sqrt(sigma_max - sigma_min) z, and a new point by the Brownian bridge, all in float32.

    python3 scripts/golden/brownian_noise.py
"""
import math
import struct

import numpy as np

M32 = 0xFFFFFFFF


def fmix_step(s):
    s = (s + 0x9E3779B9) & M32
    z = s
    z = ((z ^ (z >> 16)) * 0x85EBCA6B) & M32
    z = ((z ^ (z >> 13)) * 0xC2B2AE35) & M32
    return s, (z ^ (z >> 16)) & M32


def rotl(x, k):
    return ((x << k) | (x >> (32 - k))) & M32


def keyed_normal(words, n):
    s = 0x9E3779B9
    for w in words:
        s = (s ^ ((w * 0x27D4EB2D) & M32)) & M32
        s, s = fmix_step(s)
    state = []
    for _ in range(4):
        s, v = fmix_step(s)
        state.append(v)
    state[0] |= 1
    a, b, c, d = state

    def nxt():
        nonlocal a, b, c, d
        result = (rotl((b * 5) & M32, 7) * 9) & M32
        t = (b << 9) & M32
        c ^= a
        d ^= b
        b ^= c
        a ^= d
        c ^= t
        d = rotl(d, 11)
        return result

    out = np.zeros(n, dtype=np.float32)
    for i in range(0, n, 2):
        u1 = (nxt() + 1) / 4294967297
        u2 = nxt() / 4294967296
        r = math.sqrt(-2 * math.log(u1))
        out[i] = r * math.cos(2 * math.pi * u2)
        if i + 1 < n:
            out[i + 1] = r * math.sin(2 * math.pi * u2)
    return out


def float_words(v):
    hi, lo = struct.unpack('>II', struct.pack('>d', v))
    return [hi, lo]


def normal(seed, t, n):
    return keyed_normal([seed & M32, (seed // 2 ** 32) & M32] + float_words(t), n)


def main():
    n, smin, smax = 7, 0.03, 14.6
    for seed in (5, 5 + 2 ** 32):
        top = (normal(seed, smax, n) * np.float32(math.sqrt(smax - smin))).astype(np.float32)
        # W(10) bridged between W(0.03) = 0 and W(14.6); W(12) then between W(10) and W(14.6).
        def bridge(t, ta, tb, wa, wb):
            w = (t - ta) / (tb - ta)
            sd = math.sqrt((t - ta) * (tb - t) / (tb - ta))
            z = normal(seed, t, n).astype(np.float64)
            return np.array([wa[k] + w * (wb[k] - wa[k]) + sd * z[k] for k in range(n)], dtype=np.float32)
        w10 = bridge(10.0, smin, smax, np.zeros(n, dtype=np.float32).astype(np.float64), top.astype(np.float64))
        w12 = bridge(12.0, 10.0, smax, w10.astype(np.float64), top.astype(np.float64))
        inv = 1 / math.sqrt(abs(10.0 - smax))
        first = np.array([(float(w10[k]) - float(top[k])) * inv for k in range(n)], dtype=np.float32)
        inv2 = 1 / math.sqrt(abs(10.0 - 12.0))
        second = np.array([(float(w10[k]) - float(w12[k])) * inv2 for k in range(n)], dtype=np.float32)
        print(f'seed {seed}: noise(14.6, 10)', [float(v) for v in first])
        print(f'seed {seed}: noise(12, 10)', [float(v) for v in second])


if __name__ == '__main__':
    main()
