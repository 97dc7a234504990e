"""Reference values for test/unit/samplers/scheduleOptionsMutants.test.ts, churnMutants.test.ts and
timestepsMutants.test.ts: the schedule types with A1111's options set (rho, Beta alpha/beta, one
step, many steps), scipy's beta.ppf at the ends of its range, k-diffusion's Algorithm 2 churn in
`sample_euler`, and A1111's DDIM timesteps. Written from the upstream Python (k-diffusion
`sampling.py` as A1111 pins it, A1111 `sd_schedulers.py`, `sd_samplers_timesteps.py`), reusing
the transcriptions in a1111_sampling.py and a1111_samplers.py. Needs numpy and scipy.

    cd scripts/golden && python3 a1111_schedule_options.py
"""
import numpy as np
from scipy import stats

from a1111_sampling import DiscreteSchedule, a1111_ddim_timesteps, alphas_cumprod, compvis_denoiser, get_sigmas_exponential, get_sigmas_karras
from a1111_samplers import Draws, X_T, align_your_steps, beta_scheduler, fmt, gaussian_eps_model, get_sigmas_polyexponential


def sample_euler_churn(model, x, sigmas, randn, s_churn=0., s_tmin=0., s_tmax=float('inf'), s_noise=1.):
    """k-diffusion `sample_euler` (Algorithm 2) at A1111's pinned commit: eps is drawn on every step."""
    for i in range(len(sigmas) - 1):
        gamma = min(s_churn / (len(sigmas) - 1), 2 ** 0.5 - 1) if s_tmin <= sigmas[i] <= s_tmax else 0.
        eps = randn() * s_noise
        sigma_hat = sigmas[i] * (gamma + 1)
        if gamma > 0:
            x = x + eps * (sigma_hat ** 2 - sigmas[i] ** 2) ** 0.5
        denoised = model(x, sigma_hat)
        d = (x - denoised) / sigma_hat
        x = x + d * (sigmas[i + 1] - sigma_hat)
    return x


def main():
    ac = alphas_cumprod()
    sd = DiscreteSchedule(ac)
    smin, smax = sd.sigma_min, sd.sigma_max
    model = compvis_denoiser(gaussian_eps_model(sd), sd)

    print('# schedules with options, SD 1.5 table')
    print('beta 1 step', fmt(beta_scheduler(1, smin, smax)))
    print('align_your_steps 1 step', fmt(align_your_steps(1, False)))
    b50 = beta_scheduler(50, smin, smax, alpha=2.0)
    print('beta 50 alpha 2 [0, 1, 24, 48, 49, 50]', fmt(b50[[0, 1, 24, 48, 49, 50]]))
    print('exponential 10 (rho ignored)', fmt(get_sigmas_exponential(10, smin, smax)))
    print('polyexponential 10 rho 2', fmt(get_sigmas_polyexponential(10, smin, smax, rho=2.0)))
    print('beta 10 alpha 0.3 beta 0.7', fmt(beta_scheduler(10, smin, smax, alpha=0.3, beta=0.7)))
    print('beta 10 alpha 0.6 beta 5', fmt(beta_scheduler(10, smin, smax, alpha=0.6, beta=5.0)))
    print('ppf (1, .6, 5) (0.01, 0.01, .6) (1e-10, .5, 5) (0.3, 0.3, 0.7)',
          fmt([stats.beta.ppf(1, 0.6, 5), stats.beta.ppf(0.01, 0.01, 0.6), stats.beta.ppf(1e-10, 0.5, 5), stats.beta.ppf(0.3, 0.3, 0.7)]))

    print('# Euler with churn, Karras 10, Gaussian data, x_T = X_T * sigma_0, draws sin(j + 1 + 0.7k)')
    s = get_sigmas_karras(10, smin, smax)
    print('karras 10 sigmas [2], [5]', fmt([s[2], s[5]]))
    print('churn 1, window [s5, s2], s_noise 0.7',
          fmt(sample_euler_churn(model, X_T * s[0], s, Draws(), s_churn=1.0, s_tmin=s[5], s_tmax=s[2], s_noise=0.7)))
    print('churn 20, no window', fmt(sample_euler_churn(model, X_T * s[0], s, Draws(), s_churn=20.0)))

    print('# A1111 DDIM timesteps')
    for steps in (10, 600, 1000):
        ts = a1111_ddim_timesteps(steps)
        print(steps, 'steps: length', len(ts), 'first', ts[:3], 'last', ts[-3:])
    ts = a1111_ddim_timesteps(10)
    a = ac[ts][::-1]
    print('ddim 10 sigmas (sqrt((1 - a) / a), top down)', fmt(((1 - a) / a) ** 0.5))


if __name__ == '__main__':
    main()
