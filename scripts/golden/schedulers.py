#!/usr/bin/env python3
"""Prints the reference values that test/unit/render/schedulers.test.ts asserts, computed with the
numpy transcription in a1111_sampling.py (usage: scripts/golden/README.md). The test keeps them
pasted so that each assertion reads with its numbers; rerun this after changing the transcription
and compare."""
import json
import math

import numpy as np

import a1111_sampling as a

SD = a.DiscreteSchedule(a.alphas_cumprod())
V_PREDICTION = SD  # the same table; v only changes the denoiser


def floats(values):
    return [float(v) for v in values]


def toy_runs():
    """The toy loops of 'samplers: against the numpy transcription of the A1111/k-diffusion loops'."""
    x0 = np.array([0.8, -0.6, 1.1])
    k = np.arange(3)
    toy = lambda x, t: 0.3 * x + 0.05 * math.cos(t / 200) * (k + 1)

    def draws():
        j = [0]

        def randn():
            out = np.sin(j[0] + 1 + k * 0.7)
            j[0] += 1
            return out

        return randn

    ac = a.alphas_cumprod()
    lcm = a.LcmSchedule(ac)
    uniform = SD.get_sigmas(10)
    karras = a.get_sigmas_karras(10, SD.sigma_min, SD.sigma_max)
    eps = a.compvis_denoiser(toy, SD)
    v = a.compvis_denoiser(toy, SD, v_prediction=True)
    ts = a.a1111_ddim_timesteps(10)
    lcm_sigmas = lcm.get_sigmas(4)
    return {
        'Euler, uniform 10': a.sample_euler(eps, x0 * uniform[0], uniform),
        'Euler a, uniform 10': a.sample_euler_ancestral(eps, x0 * uniform[0], uniform, draws()),
        'DPM++ 2M, uniform 10': a.sample_dpmpp_2m(eps, x0 * uniform[0], uniform),
        'DPM++ 2M, Karras 10': a.sample_dpmpp_2m(eps, x0 * karras[0], karras),
        'DPM++ 2M, Karras 10, v': a.sample_dpmpp_2m(v, x0 * karras[0], karras),
        'Euler, uniform 10, v': a.sample_euler(v, x0 * uniform[0], uniform),
        'DDIM 10': a.ddim(toy, x0, ts, ac, draws()),
        'DDIM 10, v': a.ddim(toy, x0, ts, ac, draws(), v_prediction=True),
        'DDIM 10, eta 1': a.ddim(toy, x0, ts, ac, draws(), eta=1.0),
        'LCM 4': a.sample_lcm(a.lcm_denoiser(toy, lcm), x0 * lcm_sigmas[0], lcm_sigmas, draws()),
    }


def main():
    ac = a.alphas_cumprod()
    lcm = a.LcmSchedule(ac)
    lcm4 = lcm.get_sigmas(4)
    tables = {
        'alphas_cumprod[0, 1, 499, 998, 999]': floats(ac[[0, 1, 499, 998, 999]]),
        'sigma_min, sigma_max, sigmas[500]': floats([SD.sigma_min, SD.sigma_max, SD.sigmas[500]]),
        'get_sigmas(20)': floats(SD.get_sigmas(20)),
        'get_sigmas_karras(20)': floats(a.get_sigmas_karras(20, SD.sigma_min, SD.sigma_max)),
        'get_sigmas_exponential(20)': floats(a.get_sigmas_exponential(20, SD.sigma_min, SD.sigma_max)),
        'sigma_to_t': [[s, float(SD.sigma_to_t(s))] for s in [14.6146, 1.0, 0.5, 0.03, 0.0292, 0.01, 20]],
        'ddim_timesteps(20)': [int(t) for t in a.a1111_ddim_timesteps(20)],
        'lcm get_sigmas(4)': floats(lcm4),
        'lcm timesteps(4)': [lcm.sigma_to_t(s) for s in lcm4[:-1]],
        'get_ancestral_step(sigmas[0], sigmas[1])': floats(a.get_ancestral_step(SD.get_sigmas(20)[0], SD.get_sigmas(20)[1])),
        'toy loops': {name: floats(x) for name, x in toy_runs().items()},
    }
    print(json.dumps(tables, indent=1))


if __name__ == '__main__':
    main()
