"""A1111's initial latent noise and the draws after it (modules/rng.py `ImageRNG.first` and `next`) for
`RNG: CPU`, run on torch itself, for test/unit/rng/imageRngReference.test.ts. Prints JSON:

    /usr/bin/python3 scripts/golden/image_rng.py > test/golden/image_rng.json

Made with Debian's python3-torch 1.13.1 (the same file byte for byte). Transcribed from A1111's
rng.py with `randn_source` = "CPU": `randn(seed, shape)` seeds torch's global generator and draws
from it (a fresh generator's first draw), `randn(seed, shape, generator=g)` draws from the image's
own generator, `create_generator(seed)` is a CPU torch.Generator; `slerp` runs on float32 tensors
as A1111's does. The cases are the seed resize's crop and pad on each axis (the noise of `Seed
resize from` smaller than the image on one axis and larger on the other, both ways round, and one
axis alone), a variation seed on resized noise, and ENSD's restarted generators over a batch.
ATEN_CPU_CAPABILITY=default picks torch's portable randn kernel, which the engine transcribes (see
torch_randn.py).
"""
import json
import os

os.environ["ATEN_CPU_CAPABILITY"] = "default"

import torch  # noqa: E402  (after the capability is set)


def seeded_randn(seed, shape):
    """A1111's randn(seed, shape) without a generator: torch.manual_seed, then the global generator."""
    torch.manual_seed(seed)
    return torch.randn(shape)


def slerp(val, low, high):
    """A1111's slerp: norms and dot products over dim 1 of one image's [C, H, W] tensor."""
    low_unit = low / torch.norm(low, dim=1, keepdim=True)
    high_unit = high / torch.norm(high, dim=1, keepdim=True)
    dot = (low_unit * high_unit).sum(1)
    if dot.mean() > 0.9995:
        return low * val + high * (1 - val)
    omega = torch.acos(dot)
    sin_omega = torch.sin(omega)
    return (torch.sin((1.0 - val) * omega) / sin_omega).unsqueeze(1) * low + (torch.sin(val * omega) / sin_omega).unsqueeze(1) * high


class CpuImageRng:
    """ImageRNG with randn_source CPU; ensd is shared.opts.eta_noise_seed_delta."""

    def __init__(self, shape, seeds, subseeds, subseed_strength, resize_w, resize_h, ensd):
        self.shape = tuple(shape)
        self.seeds = seeds
        self.subseeds = subseeds
        self.subseed_strength = subseed_strength
        self.resize_w = resize_w
        self.resize_h = resize_h
        self.ensd = ensd
        self.generators = [torch.Generator("cpu").manual_seed(int(s)) for s in seeds]
        self.started = False

    def first(self):
        if self.resize_h <= 0 or self.resize_w <= 0:
            noise_shape = self.shape
        else:
            noise_shape = (self.shape[0], self.resize_h // 8, self.resize_w // 8)
        images = []
        for i, seed in enumerate(self.seeds):
            generator = self.generators[i]
            subnoise = None
            if self.subseeds is not None and self.subseed_strength != 0:
                subnoise = seeded_randn(self.subseeds[i] if i < len(self.subseeds) else 0, noise_shape)
            if noise_shape == self.shape:
                noise = torch.randn(self.shape, generator=generator)
            else:
                noise = seeded_randn(seed, noise_shape)
            if subnoise is not None:
                noise = slerp(self.subseed_strength, noise, subnoise)
            if noise_shape != self.shape:
                x = torch.randn(self.shape, generator=generator)
                # Python floor division: an odd difference leaves the extra row or column at the end.
                dx = (self.shape[2] - noise_shape[2]) // 2
                dy = (self.shape[1] - noise_shape[1]) // 2
                w = noise_shape[2] if dx >= 0 else noise_shape[2] + 2 * dx
                h = noise_shape[1] if dy >= 0 else noise_shape[1] + 2 * dy
                tx, ty = max(dx, 0), max(dy, 0)
                sx, sy = max(-dx, 0), max(-dy, 0)
                x[:, ty:ty + h, tx:tx + w] = noise[:, sy:sy + h, sx:sx + w]
                noise = x
            images.append(noise)
        if self.ensd:
            self.generators = [torch.Generator("cpu").manual_seed(int(s + self.ensd)) for s in self.seeds]
        return torch.stack(images)

    def next(self):
        if not self.started:
            self.started = True
            return self.first()
        return torch.stack([torch.randn(self.shape, generator=g) for g in self.generators])


# (name, latent shape [4, H/8, W/8], seeds, subseeds, strength, Seed resize from (w, h), ENSD, draws)
CASES = [
    # 40x48 from 24x80 (latent 3 wide, 10 high): wider target (dx 1: padded), shorter target (dy -2: cropped).
    ("wider and shorter than the resize source", [4, 6, 5], [7], None, 0, (24, 80), 0, 1),
    # 48x40 from 88x16 (11 wide, 2 high): narrower (dx -3, an odd difference), taller (dy 1).
    ("narrower and taller than the resize source", [4, 5, 6], [9], None, 0, (88, 16), 0, 1),
    # One axis alone: 32x32 from 32x64 (height 8 from 4: dy -2), and from 16x32 (width 2 from 4: dx 1).
    ("only the height resized (cropped)", [4, 4, 4], [3], None, 0, (32, 64), 0, 1),
    ("only the width resized (padded)", [4, 4, 4], [3], None, 0, (16, 32), 0, 1),
    # A variation seed blends the resize source's noise before it is pasted (slerp over noise_shape).
    ("variation seed on resized noise", [4, 6, 5], [7], [11], 0.3, (24, 80), 0, 2),
    # ENSD: the draws after the first come from seed + delta, one generator per image, every draw.
    ("ENSD over a batch of 2, three draws", [4, 3, 4], [5, 6], [0, 1], 0, (0, 0), 31337, 3),
]


def f32(x):
    # 9 significant digits name a float32 exactly.
    return float(f"{x:.9g}")


def main():
    cases = []
    for name, shape, seeds, subseeds, strength, (resize_w, resize_h), ensd, draws in CASES:
        rng = CpuImageRng(shape, seeds, subseeds, strength, resize_w, resize_h, ensd)
        out = [[f32(v) for v in rng.next().flatten().tolist()] for _ in range(draws)]
        cases.append({
            "name": name,
            "shape": shape,
            "seeds": seeds,
            "subseeds": subseeds,
            "subseedStrength": strength,
            "seedResizeFrom": {"width": resize_w, "height": resize_h},
            "etaNoiseSeedDelta": ensd,
            "draws": out,
        })
    print(json.dumps({
        "about": "A1111 modules/rng.py ImageRNG (randn_source CPU) transcribed on torch: draws[k] is the k-th next() of the batch, [batch, 4, H/8, W/8] flattened in C order, float32 to 9 significant digits; ATEN_CPU_CAPABILITY=default",
        "torch": torch.__version__,
        "cases": cases,
    }))


if __name__ == "__main__":
    main()
