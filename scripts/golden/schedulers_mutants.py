#!/usr/bin/env python3
"""Prints the reference values that test/unit/samplers/schedulersMutants.test.ts asserts, from the
numpy transcriptions in a1111_sampling.py and a1111_samplers.py (written from k-diffusion and A1111,
not from this project's TypeScript):

- k-diffusion DiscreteSchedule.sigma_to_t on a table with two equal entries (a trained_betas config
  whose second beta is too small to move alphas_cumprod in float32): the last equal entry wins;
- DPM fast as A1111's KDiffusionSampler runs it: txt2img integrates over the model's table
  (model_wrap.sigmas[0], [-1]) whatever the schedule; sample_img2img integrates from sigma_sched[0]
  to sigma_sched[-2] with n = len(sigma_sched) - 1;
- kl_optimal with the penultimate sigma discarded (torch.cat([sigmas[:-2], sigmas[-1:]])).

    cd scripts/golden && python3 schedulers_mutants.py   (numpy and scipy, as a1111_samplers.py)
"""
import math

import numpy as np

from a1111_sampling import DiscreteSchedule, alphas_cumprod, get_sigmas_karras
from a1111_samplers import X_T, DPMSolver, Draws, compvis_denoiser, gaussian_eps_model, kl_optimal, sgm_uniform


def fmt(values):
    return '[' + ', '.join(repr(float(v)) for v in values) + ']'


def main():
    dup = DiscreteSchedule(alphas_cumprod(trained=[0.5, 1e-9, 0.5, 0.5]))
    print('# trained_betas [0.5, 1e-9, 0.5, 0.5]')
    print('sigmas', fmt(dup.sigmas))
    print('sigma_to_t(1, 1.5, 2)', fmt([dup.sigma_to_t(s) for s in (1.0, 1.5, 2.0)]))

    ac = alphas_cumprod()
    sd = DiscreteSchedule(ac)
    model = compvis_denoiser(gaussian_eps_model(sd), sd)
    smin, smax = sd.sigma_min, sd.sigma_max
    t = lambda s: -math.log(s)

    print('# DPM fast, eta 1, Gaussian data')
    sgm = sgm_uniform(10, sd)
    x = DPMSolver(model).dpm_solver_fast(X_T * sgm[0], t(smax), t(smin), 10, 1.0, 1.0, Draws())
    print('txt2img sgm_uniform 10', fmt(x))
    karras = get_sigmas_karras(10, smin, smax)
    sched = karras[4:]
    x = DPMSolver(model).dpm_solver_fast(X_T * sched[0], t(sched[0]), t(sched[-2]), len(sched) - 1, 1.0, 1.0, Draws())
    print('img2img karras 10 from 4: sigma_sched', fmt(sched))
    print('img2img karras 10 from 4', fmt(x))
    sched = karras[9:]
    x = DPMSolver(model).dpm_solver_fast(X_T * sched[0], t(sched[0]), t(sched[-2]), len(sched) - 1, 1.0, 1.0, Draws())
    print('img2img karras 10 from 9', fmt(x), 'x_T * sigma', fmt(X_T * sched[0]))

    kl = kl_optimal(5, smin, smax)
    print('# kl_optimal(5) with the penultimate sigma discarded', fmt(np.concatenate([kl[:-2], kl[-1:]])))


if __name__ == '__main__':
    main()
