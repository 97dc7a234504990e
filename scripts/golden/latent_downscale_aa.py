"""Reference values for test/unit/hires/latentUpscaleMutants.test.ts: torch.nn.functional.interpolate
with antialias=True when the output is smaller than the input (the filter widens by the scale), as
A1111's "Latent (antialiased)" / "Latent (bicubic antialiased)" run it. Run with Debian's torch:
/usr/bin/python3 scripts/golden/latent_downscale_aa.py"""
import torch
import torch.nn.functional as F

x = torch.arange(1, 9, dtype=torch.float32).pow(2).reshape(1, 1, 1, 8)  # 1, 4, 9, ..., 64
for mode in ("bilinear", "bicubic"):
    for out_w in (3, 5):
        y = F.interpolate(x, size=(1, out_w), mode=mode, antialias=True)
        print(mode, out_w, [float(v) for v in y.flatten()])
