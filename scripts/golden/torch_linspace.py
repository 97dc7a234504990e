"""Reference values for test/unit/samplers/linspaceMutants.test.ts: torch.linspace in float64 on the
CPU (k-diffusion builds its sigma and time grids with it), printed with repr so that every bit shows.

    /usr/bin/python3 scripts/golden/torch_linspace.py     # Debian's python3-torch 1.13
"""
import torch

for start, end, n in ((0.1, 0.7, 5), (0.0, 1.0, 4), (0.3, 2.9, 7), (999.0, 0.0, 7), (2.5, 9.0, 1)):
    values = torch.linspace(start, end, n, dtype=torch.float64).tolist()
    print(f'linspace({start}, {end}, {n})', '[' + ', '.join(repr(v) for v in values) + ']')
