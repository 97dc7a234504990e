"""Reference values for test/unit/samplers/samplerPathsMutants.test.ts: the paths of A1111's samplers
that a 10-step exponential schedule at the default eta and s_noise cannot tell apart (there every
step has the same h, so r = h_last / h = 1, and eta = s_noise = 1). Same transcriptions as
a1111_samplers.py (k-diffusion `sample_dpmpp_2m_sde`, `sample_dpmpp_3m_sde`; A1111
`sd_samplers_extra.restart_sampler`; `uni_pc.NoiseScheduleVP`), the same exact Gaussian denoiser
and the same noise (draw j is sin(j + 1 + 0.7 k); the SDE noise sampler sin(3 sigma + 5 sigma_next + 0.9 k)).

    cd scripts/golden && python3 sampler_paths.py

None of the functions used here needs scipy (a1111_samplers.py imports it at the top for the Beta
schedule and LMS): where it is not installed, a stand-in module lets the import go through.
"""
import importlib.util
import sys
import types

import numpy as np

if importlib.util.find_spec('scipy') is None:
    sys.modules['scipy'] = types.SimpleNamespace(integrate=None, stats=None)

from a1111_sampling import DiscreteSchedule, alphas_cumprod, compvis_denoiser, get_sigmas_karras  # noqa: E402
from a1111_samplers import (X_T, Draws, NoiseScheduleVP, fmt, gaussian_eps_model, restart_sampler,  # noqa: E402
                            sample_dpmpp_2m_sde, sample_dpmpp_3m_sde)


def main():
    ac = alphas_cumprod()
    sd = DiscreteSchedule(ac)
    model = compvis_denoiser(gaussian_eps_model(sd), sd)
    smin, smax = sd.sigma_min, sd.sigma_max
    karras = lambda n: get_sigmas_karras(n, smin, smax)
    discard = lambda s: np.concatenate([s[:-2], s[-1:]])

    print('# Karras 10 steps (h changes from step to step), eta 0.7, s_noise 0.6')
    for solver in ('midpoint', 'heun'):
        s = karras(10)
        print('dpmpp_2m_sde', solver, fmt(sample_dpmpp_2m_sde(model, X_T * s[0], s, eta=0.7, s_noise=0.6, solver_type=solver)))
    s = discard(karras(11))
    print('# Karras 10 steps (discarded), eta 0.5, s_noise 0.6')
    print('dpmpp_3m_sde', fmt(sample_dpmpp_3m_sde(model, X_T * s[0], s, eta=0.5, s_noise=0.6)))

    s = karras(36)
    x, n = restart_sampler(model, X_T * s[0], s, Draws())
    print('# restart, Karras 36 steps (restart_times 2 from 36)')
    print('restart 36', fmt(x), 'steps', n)
    s = get_sigmas_karras(20, 0.1, 1e6)
    _, n = restart_sampler(lambda x, sigma: x * 0, X_T * s[0], s, Draws())
    print('# restart, Karras 20 steps from 1e6 to 0.1: the sigma nearest 2 is the one nearest 0.1')
    print('restart 1e6..0.1 steps', n)

    ns = NoiseScheduleVP(ac)
    print('# UniPC sigmas, 10 steps: sqrt(1 - alpha_t^2) / alpha_t at t = linspace(1, 1/N, 11)')
    alphas = [ns.marginal_alpha(t) for t in np.linspace(1., 1. / ns.total_N, 11)]
    print('unipc sigmas', fmt([np.sqrt(1 - a * a) / a for a in alphas]))


if __name__ == '__main__':
    main()
