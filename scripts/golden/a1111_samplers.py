"""Reference values for test/unit/samplers/*.test.ts: a numpy transcription of the samplers and
schedule types A1111 1.10 lists beyond those in a1111_sampling.py, written from the upstream
sources (k-diffusion `sampling.py`; A1111 `sd_schedulers.py`, `sd_samplers_extra.py`,
`sd_samplers_timesteps_impl.py`, `models/diffusion/uni_pc/uni_pc.py`), not from this project's
TypeScript. Needs numpy and scipy (scipy.stats.beta for the Beta schedule, scipy.integrate.quad
for LMS, as k-diffusion uses them).

    cd scripts/golden && python3 a1111_samplers.py

A "model" for the k-diffusion samplers is model(x, sigma) -> denoised (CompVisDenoiser over an eps
model); for the timestep samplers eps_model(x, t) -> eps. The eps model used for the printed values
is the exact one for Gaussian data with standard deviation S_DATA, seen through the model's sigma
table at the timestep it is given: eps(input, t) = input * sqrt(1 + s^2) * s / (S_DATA^2 + s^2)
with s = t_to_sigma(t). Noise: draw j is sin(j + 1 + 0.7 k); the SDE samplers' noise sampler is
sin(3 sigma + 5 sigma_next + 0.9 k).
"""
import math

import numpy as np
from scipy import integrate, stats

from a1111_sampling import (DiscreteSchedule, a1111_ddim_timesteps, alphas_cumprod, compvis_denoiser,
                            get_ancestral_step, get_sigmas_exponential, get_sigmas_karras)

S_DATA = 0.8
X_T = np.array([0.8, -0.6, 1.1])


def t_to_sigma_any(schedule, t):
    """DiscreteSchedule.t_to_sigma with t clamped into the table (the model's timestep input)."""
    t = min(max(float(t), 0.0), len(schedule.sigmas) - 1.0)
    return schedule.t_to_sigma(t)


def gaussian_eps_model(schedule):
    def eps(inp, t):
        s = t_to_sigma_any(schedule, t)
        return inp * (1 + s * s) ** 0.5 * s / (S_DATA ** 2 + s * s)
    return eps


class Draws:
    def __init__(self):
        self.j = 0

    def __call__(self):
        out = np.sin(self.j + 1 + 0.7 * np.arange(len(X_T)))
        self.j += 1
        return out


def noise_sampler(sigma, sigma_next):
    return np.sin(3 * sigma + 5 * sigma_next + 0.9 * np.arange(len(X_T)))


def to_d(x, sigma, denoised):
    return (x - denoised) / sigma


# --- schedules (A1111 sd_schedulers.py, k-diffusion) -------------------------------------------

def get_sigmas_polyexponential(n, sigma_min, sigma_max, rho=1.0):
    ramp = np.linspace(1, 0, n) ** rho
    sigmas = np.exp(ramp * (math.log(sigma_max) - math.log(sigma_min)) + math.log(sigma_min))
    return np.append(sigmas, 0.0)


def sgm_uniform(n, inner):
    start = inner.sigma_to_t(inner.sigma_max)
    end = inner.sigma_to_t(inner.sigma_min)
    sigs = [inner.t_to_sigma(ts) for ts in np.linspace(start, end, n + 1)[:-1]]
    return np.array(sigs + [0.0])


def kl_optimal(n, sigma_min, sigma_max):
    alpha_min = math.atan(sigma_min)
    alpha_max = math.atan(sigma_max)
    step_indices = np.arange(n + 1)
    return np.tan(step_indices / n * alpha_min + (1.0 - step_indices / n) * alpha_max)


def align_your_steps(n, sdxl):
    def loglinear_interp(t_steps, num_steps):
        xs = np.linspace(0, 1, len(t_steps))
        ys = np.log(t_steps[::-1])
        new_xs = np.linspace(0, 1, num_steps)
        new_ys = np.interp(new_xs, xs, ys)
        return np.exp(new_ys)[::-1].copy()

    if sdxl:
        sigmas = [14.615, 6.315, 3.771, 2.181, 1.342, 0.862, 0.555, 0.380, 0.234, 0.113, 0.029]
    else:
        sigmas = [14.615, 6.475, 3.861, 2.697, 1.886, 1.396, 0.963, 0.652, 0.399, 0.152, 0.029]
    if n != len(sigmas):
        return np.append(loglinear_interp(sigmas, n), [0.0])
    return np.array(sigmas + [0.0])


def simple_scheduler(n, inner):
    sigs = []
    ss = len(inner.sigmas) / n
    for x in range(n):
        sigs += [float(inner.sigmas[-(1 + int(x * ss))])]
    return np.array(sigs + [0.0])


def normal_scheduler(n, inner):
    start = inner.sigma_to_t(inner.sigma_max)
    end = inner.sigma_to_t(inner.sigma_min)
    timesteps = np.linspace(start, end, n)
    return np.array([inner.t_to_sigma(ts) for ts in timesteps] + [0.0])


def ddim_scheduler(n, inner):
    sigs = []
    ss = max(len(inner.sigmas) // n, 1)
    x = 1
    while x < len(inner.sigmas):
        sigs += [float(inner.sigmas[x])]
        x += ss
    return np.array(sigs[::-1] + [0.0])


def beta_scheduler(n, sigma_min, sigma_max, alpha=0.6, beta=0.6):
    timesteps = 1 - np.linspace(0, 1, n)
    timesteps = [stats.beta.ppf(x, alpha, beta) for x in timesteps]
    return np.array([sigma_min + (x * (sigma_max - sigma_min)) for x in timesteps] + [0.0])


# --- k-diffusion samplers ---------------------------------------------------------------------

def sample_heun(model, x, sigmas):
    for i in range(len(sigmas) - 1):
        sigma_hat = sigmas[i]
        denoised = model(x, sigma_hat)
        d = to_d(x, sigma_hat, denoised)
        dt = sigmas[i + 1] - sigma_hat
        if sigmas[i + 1] == 0:
            x = x + d * dt
        else:
            x_2 = x + d * dt
            denoised_2 = model(x_2, sigmas[i + 1])
            d_2 = to_d(x_2, sigmas[i + 1], denoised_2)
            d_prime = (d + d_2) / 2
            x = x + d_prime * dt
    return x


def sample_dpm_2(model, x, sigmas):
    for i in range(len(sigmas) - 1):
        sigma_hat = sigmas[i]
        denoised = model(x, sigma_hat)
        d = to_d(x, sigma_hat, denoised)
        if sigmas[i + 1] == 0:
            dt = sigmas[i + 1] - sigma_hat
            x = x + d * dt
        else:
            sigma_mid = math.exp(math.log(sigma_hat) + 0.5 * (math.log(sigmas[i + 1]) - math.log(sigma_hat)))
            dt_1 = sigma_mid - sigma_hat
            dt_2 = sigmas[i + 1] - sigma_hat
            x_2 = x + d * dt_1
            denoised_2 = model(x_2, sigma_mid)
            d_2 = to_d(x_2, sigma_mid, denoised_2)
            x = x + d_2 * dt_2
    return x


def sample_dpm_2_ancestral(model, x, sigmas, randn, eta=1.0, s_noise=1.0):
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i])
        sigma_down, sigma_up = get_ancestral_step(sigmas[i], sigmas[i + 1], eta=eta)
        d = to_d(x, sigmas[i], denoised)
        if sigma_down == 0:
            dt = sigma_down - sigmas[i]
            x = x + d * dt
        else:
            sigma_mid = math.exp(math.log(sigmas[i]) + 0.5 * (math.log(sigma_down) - math.log(sigmas[i])))
            dt_1 = sigma_mid - sigmas[i]
            dt_2 = sigma_down - sigmas[i]
            x_2 = x + d * dt_1
            denoised_2 = model(x_2, sigma_mid)
            d_2 = to_d(x_2, sigma_mid, denoised_2)
            x = x + d_2 * dt_2
            x = x + randn() * s_noise * sigma_up
    return x


def linear_multistep_coeff(order, t, i, j):
    if order - 1 > i:
        raise ValueError(f'Order {order} too high for step {i}')

    def fn(tau):
        prod = 1.
        for k in range(order):
            if j == k:
                continue
            prod *= (tau - t[i - k]) / (t[i - j] - t[i - k])
        return prod
    return integrate.quad(fn, t[i], t[i + 1], epsrel=1e-4)[0]


def sample_lms(model, x, sigmas, order=4):
    ds = []
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i])
        d = to_d(x, sigmas[i], denoised)
        ds.append(d)
        if len(ds) > order:
            ds.pop(0)
        cur_order = min(i + 1, order)
        coeffs = [linear_multistep_coeff(cur_order, sigmas, i, j) for j in range(cur_order)]
        x = x + sum(coeff * d for coeff, d in zip(coeffs, reversed(ds)))
    return x


sigma_fn = lambda t: math.exp(-t)
t_fn = lambda sigma: -math.log(sigma)


def sample_dpmpp_2s_ancestral(model, x, sigmas, randn, eta=1.0, s_noise=1.0):
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i])
        sigma_down, sigma_up = get_ancestral_step(sigmas[i], sigmas[i + 1], eta=eta)
        if sigma_down == 0:
            d = to_d(x, sigmas[i], denoised)
            dt = sigma_down - sigmas[i]
            x = x + d * dt
        else:
            t, t_next = t_fn(sigmas[i]), t_fn(sigma_down)
            r = 1 / 2
            h = t_next - t
            s = t + r * h
            x_2 = (sigma_fn(s) / sigma_fn(t)) * x - math.expm1(-h * r) * denoised
            denoised_2 = model(x_2, sigma_fn(s))
            x = (sigma_fn(t_next) / sigma_fn(t)) * x - math.expm1(-h) * denoised_2
        if sigmas[i + 1] > 0:
            x = x + randn() * s_noise * sigma_up
    return x


def sample_dpmpp_sde(model, x, sigmas, eta=1.0, s_noise=1.0, r=1 / 2):
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i])
        if sigmas[i + 1] == 0:
            d = to_d(x, sigmas[i], denoised)
            dt = sigmas[i + 1] - sigmas[i]
            x = x + d * dt
        else:
            t, t_next = t_fn(sigmas[i]), t_fn(sigmas[i + 1])
            h = t_next - t
            s = t + h * r
            fac = 1 / (2 * r)
            sd, su = get_ancestral_step(sigma_fn(t), sigma_fn(s), eta)
            s_ = t_fn(sd)
            x_2 = (sigma_fn(s_) / sigma_fn(t)) * x - math.expm1(t - s_) * denoised
            x_2 = x_2 + noise_sampler(sigma_fn(t), sigma_fn(s)) * s_noise * su
            denoised_2 = model(x_2, sigma_fn(s))
            sd, su = get_ancestral_step(sigma_fn(t), sigma_fn(t_next), eta)
            t_next_ = t_fn(sd)
            denoised_d = (1 - fac) * denoised + fac * denoised_2
            x = (sigma_fn(t_next_) / sigma_fn(t)) * x - math.expm1(t - t_next_) * denoised_d
            x = x + noise_sampler(sigma_fn(t), sigma_fn(t_next)) * s_noise * su
    return x


def sample_dpmpp_2m_sde(model, x, sigmas, eta=1.0, s_noise=1.0, solver_type='midpoint'):
    old_denoised = None
    h_last = None
    h = None
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i])
        if sigmas[i + 1] == 0:
            x = denoised
        else:
            t, s = -math.log(sigmas[i]), -math.log(sigmas[i + 1])
            h = s - t
            eta_h = eta * h
            x = sigmas[i + 1] / sigmas[i] * math.exp(-eta_h) * x + -math.expm1(-h - eta_h) * denoised
            if old_denoised is not None:
                r = h_last / h
                if solver_type == 'heun':
                    x = x + (-math.expm1(-h - eta_h) / (-h - eta_h) + 1) * (1 / r) * (denoised - old_denoised)
                elif solver_type == 'midpoint':
                    x = x + 0.5 * -math.expm1(-h - eta_h) * (1 / r) * (denoised - old_denoised)
            if eta:
                x = x + noise_sampler(sigmas[i], sigmas[i + 1]) * sigmas[i + 1] * math.sqrt(-math.expm1(-2 * eta_h)) * s_noise
        old_denoised = denoised
        h_last = h
    return x


def sample_dpmpp_3m_sde(model, x, sigmas, eta=1.0, s_noise=1.0):
    denoised_1, denoised_2 = None, None
    h, h_1, h_2 = None, None, None
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i])
        if sigmas[i + 1] == 0:
            x = denoised
        else:
            t, s = -math.log(sigmas[i]), -math.log(sigmas[i + 1])
            h = s - t
            h_eta = h * (eta + 1)
            x = math.exp(-h_eta) * x + -math.expm1(-h_eta) * denoised
            if h_2 is not None:
                r0 = h_1 / h
                r1 = h_2 / h
                d1_0 = (denoised - denoised_1) / r0
                d1_1 = (denoised_1 - denoised_2) / r1
                d1 = d1_0 + (d1_0 - d1_1) * r0 / (r0 + r1)
                d2 = (d1_0 - d1_1) / (r0 + r1)
                phi_2 = math.expm1(-h_eta) / h_eta + 1
                phi_3 = phi_2 / h_eta - 0.5
                x = x + phi_2 * d1 - phi_3 * d2
            elif h_1 is not None:
                r = h_1 / h
                d = (denoised - denoised_1) / r
                phi_2 = math.expm1(-h_eta) / h_eta + 1
                x = x + phi_2 * d
            if eta:
                x = x + noise_sampler(sigmas[i], sigmas[i + 1]) * sigmas[i + 1] * math.sqrt(-math.expm1(-2 * h * eta)) * s_noise
        denoised_1, denoised_2 = denoised, denoised_1
        h_1, h_2 = h, h_1
    return x


class DPMSolver:
    def __init__(self, model):
        self.model = model

    def t(self, sigma):
        return -math.log(sigma)

    def sigma(self, t):
        return math.exp(-t)

    def eps(self, eps_cache, key, x, t):
        if key in eps_cache:
            return eps_cache[key], eps_cache
        eps = (x - self.model(x, self.sigma(t))) / self.sigma(t)
        return eps, {key: eps, **eps_cache}

    def dpm_solver_1_step(self, x, t, t_next, eps_cache=None):
        eps_cache = {} if eps_cache is None else eps_cache
        h = t_next - t
        eps, eps_cache = self.eps(eps_cache, 'eps', x, t)
        x_1 = x - self.sigma(t_next) * math.expm1(h) * eps
        return x_1, eps_cache

    def dpm_solver_2_step(self, x, t, t_next, r1=1 / 2, eps_cache=None):
        eps_cache = {} if eps_cache is None else eps_cache
        h = t_next - t
        eps, eps_cache = self.eps(eps_cache, 'eps', x, t)
        s1 = t + r1 * h
        u1 = x - self.sigma(s1) * math.expm1(r1 * h) * eps
        eps_r1, eps_cache = self.eps(eps_cache, 'eps_r1', u1, s1)
        x_2 = x - self.sigma(t_next) * math.expm1(h) * eps - self.sigma(t_next) / (2 * r1) * math.expm1(h) * (eps_r1 - eps)
        return x_2, eps_cache

    def dpm_solver_3_step(self, x, t, t_next, r1=1 / 3, r2=2 / 3, eps_cache=None):
        eps_cache = {} if eps_cache is None else eps_cache
        h = t_next - t
        eps, eps_cache = self.eps(eps_cache, 'eps', x, t)
        s1 = t + r1 * h
        s2 = t + r2 * h
        u1 = x - self.sigma(s1) * math.expm1(r1 * h) * eps
        eps_r1, eps_cache = self.eps(eps_cache, 'eps_r1', u1, s1)
        u2 = x - self.sigma(s2) * math.expm1(r2 * h) * eps - self.sigma(s2) * (r2 / r1) * (math.expm1(r2 * h) / (r2 * h) - 1) * (eps_r1 - eps)
        eps_r2, eps_cache = self.eps(eps_cache, 'eps_r2', u2, s2)
        x_3 = x - self.sigma(t_next) * math.expm1(h) * eps - self.sigma(t_next) / r2 * (math.expm1(h) / h - 1) * (eps_r2 - eps)
        return x_3, eps_cache

    def dpm_solver_fast(self, x, t_start, t_end, nfe, eta, s_noise, randn):
        m = math.floor(nfe / 3) + 1
        ts = np.linspace(t_start, t_end, m + 1)
        if nfe % 3 == 0:
            orders = [3] * (m - 2) + [2, 1]
        else:
            orders = [3] * (m - 1) + [nfe % 3]
        for i in range(len(orders)):
            eps_cache = {}
            t, t_next = ts[i], ts[i + 1]
            if eta:
                sd, su = get_ancestral_step(self.sigma(t), self.sigma(t_next), eta)
                t_next_ = min(t_end, self.t(sd))
                su = (self.sigma(t_next) ** 2 - self.sigma(t_next_) ** 2) ** 0.5
            else:
                t_next_, su = t_next, 0.
            eps, eps_cache = self.eps(eps_cache, 'eps', x, t)
            if orders[i] == 1:
                x, eps_cache = self.dpm_solver_1_step(x, t, t_next_, eps_cache=eps_cache)
            elif orders[i] == 2:
                x, eps_cache = self.dpm_solver_2_step(x, t, t_next_, eps_cache=eps_cache)
            else:
                x, eps_cache = self.dpm_solver_3_step(x, t, t_next_, eps_cache=eps_cache)
            x = x + su * s_noise * randn()
        return x

    def dpm_solver_adaptive(self, x, t_start, t_end, randn, order=3, rtol=0.05, atol=0.0078, h_init=0.05, pcoeff=0., icoeff=1., dcoeff=0., accept_safety=0.81, eta=0., s_noise=1.):
        s = t_start
        x_prev = x
        pid = PIDStepSizeController(h_init, pcoeff, icoeff, dcoeff, 1.5 if eta else order, accept_safety)
        info = {'steps': 0, 'nfe': 0, 'n_accept': 0, 'n_reject': 0}
        while s < t_end - 1e-5:
            eps_cache = {}
            t = min(t_end, s + pid.h)
            if eta:
                sd, su = get_ancestral_step(self.sigma(s), self.sigma(t), eta)
                t_ = min(t_end, self.t(sd))
                su = (self.sigma(t) ** 2 - self.sigma(t_) ** 2) ** 0.5
            else:
                t_, su = t, 0.
            eps, eps_cache = self.eps(eps_cache, 'eps', x, s)
            x_low, eps_cache = self.dpm_solver_2_step(x, s, t_, r1=1 / 3, eps_cache=eps_cache)
            x_high, eps_cache = self.dpm_solver_3_step(x, s, t_, eps_cache=eps_cache)
            delta = np.maximum(atol, rtol * np.maximum(np.abs(x_low), np.abs(x_prev)))
            error = np.linalg.norm((x_low - x_high) / delta) / x.size ** 0.5
            accept = pid.propose_step(error)
            if accept:
                x_prev = x_low
                x = x_high + su * s_noise * randn()
                s = t
                info['n_accept'] += 1
            else:
                info['n_reject'] += 1
            info['nfe'] += order
            info['steps'] += 1
        return x, info


class PIDStepSizeController:
    def __init__(self, h, pcoeff, icoeff, dcoeff, order=1, accept_safety=0.81, eps=1e-8):
        self.h = h
        self.b1 = (pcoeff + icoeff + dcoeff) / order
        self.b2 = -(pcoeff + 2 * dcoeff) / order
        self.b3 = dcoeff / order
        self.accept_safety = accept_safety
        self.eps = eps
        self.errs = []

    def limiter(self, x):
        return 1 + math.atan(x - 1)

    def propose_step(self, error):
        inv_error = 1 / (float(error) + self.eps)
        if not self.errs:
            self.errs = [inv_error, inv_error, inv_error]
        self.errs[0] = inv_error
        factor = self.errs[0] ** self.b1 * self.errs[1] ** self.b2 * self.errs[2] ** self.b3
        factor = self.limiter(factor)
        accept = factor >= self.accept_safety
        if accept:
            self.errs[2] = self.errs[1]
            self.errs[1] = self.errs[0]
        self.h *= factor
        return accept


def restart_sampler(model, x, sigmas, randn, s_noise=1.):
    def heun_step(x, old_sigma, new_sigma, second_order=True):
        denoised = model(x, old_sigma)
        d = to_d(x, old_sigma, denoised)
        dt = new_sigma - old_sigma
        if new_sigma == 0 or not second_order:
            x = x + d * dt
        else:
            x_2 = x + d * dt
            denoised_2 = model(x_2, new_sigma)
            d_2 = to_d(x_2, new_sigma, denoised_2)
            d_prime = (d + d_2) / 2
            x = x + d_prime * dt
        return x

    steps = sigmas.shape[0] - 1
    if steps >= 20:
        restart_steps = 9
        restart_times = 1
        if steps >= 36:
            restart_steps = steps // 4
            restart_times = 2
        sigmas = get_sigmas_karras(steps - restart_steps * restart_times, sigmas[-2].item(), sigmas[0].item())
        restart_list = {0.1: [restart_steps + 1, restart_times, 2]}
    else:
        restart_list = {}
    restart_list = {int(np.argmin(abs(sigmas - key), axis=0)): value for key, value in restart_list.items()}
    step_list = []
    for i in range(len(sigmas) - 1):
        step_list.append((sigmas[i], sigmas[i + 1]))
        if i + 1 in restart_list:
            restart_steps, restart_times, restart_max = restart_list[i + 1]
            min_idx = i + 1
            max_idx = int(np.argmin(abs(sigmas - restart_max), axis=0))
            if max_idx < min_idx:
                sigma_restart = get_sigmas_karras(restart_steps, sigmas[min_idx].item(), sigmas[max_idx].item())[:-1]
                while restart_times > 0:
                    restart_times -= 1
                    step_list.extend(zip(sigma_restart[:-1], sigma_restart[1:]))
    last_sigma = None
    for old_sigma, new_sigma in step_list:
        if last_sigma is None:
            last_sigma = old_sigma
        elif last_sigma < old_sigma:
            x = x + randn() * s_noise * (old_sigma ** 2 - last_sigma ** 2) ** 0.5
        x = heun_step(x, old_sigma, new_sigma)
        last_sigma = new_sigma
    return x, len(step_list)


# --- A1111 timestep samplers ------------------------------------------------------------------

def ddim_cfgpp(eps_and_uncond, x, timesteps, ac):
    """ddim_cfgpp with eta 0: eps_and_uncond(x, t) -> (e_t at cfg scale/12.5, uncond eps)."""
    alphas = ac[timesteps]
    alphas_prev = ac[np.concatenate([[0], timesteps[:-1]])]
    sqrt_one_minus_alphas = np.sqrt(1 - alphas)
    sigmas = 0.0 * np.sqrt((1 - alphas_prev) / (1 - alphas) * (1 - alphas / alphas_prev))
    for i in range(len(timesteps) - 1):
        index = len(timesteps) - 1 - i
        e_t, last_noise_uncond = eps_and_uncond(x, timesteps[index])
        a_t, a_prev, sigma_t = alphas[index], alphas_prev[index], sigmas[index]
        pred_x0 = (x - sqrt_one_minus_alphas[index] * e_t) / math.sqrt(a_t)
        dir_xt = math.sqrt(1. - a_prev - sigma_t ** 2) * last_noise_uncond
        x = math.sqrt(a_prev) * pred_x0 + dir_xt
    return x


def plms(eps_model, x, timesteps, ac):
    alphas = ac[timesteps]
    alphas_prev = ac[np.concatenate([[0], timesteps[:-1]])]
    sqrt_one_minus_alphas = np.sqrt(1 - alphas)
    old_eps = []

    def get_x_prev_and_pred_x0(x, e_t, index):
        a_t = alphas[index]
        a_prev = alphas_prev[index]
        pred_x0 = (x - sqrt_one_minus_alphas[index] * e_t) / math.sqrt(a_t)
        dir_xt = math.sqrt(1. - a_prev) * e_t
        return math.sqrt(a_prev) * pred_x0 + dir_xt, pred_x0

    for i in range(len(timesteps) - 1):
        index = len(timesteps) - 1 - i
        ts = timesteps[index]
        t_next = timesteps[max(index - 1, 0)]
        e_t = eps_model(x, ts)
        if len(old_eps) == 0:
            x_prev, pred_x0 = get_x_prev_and_pred_x0(x, e_t, index)
            e_t_next = eps_model(x_prev, t_next)
            e_t_prime = (e_t + e_t_next) / 2
        elif len(old_eps) == 1:
            e_t_prime = (3 * e_t - old_eps[-1]) / 2
        elif len(old_eps) == 2:
            e_t_prime = (23 * e_t - 16 * old_eps[-1] + 5 * old_eps[-2]) / 12
        else:
            e_t_prime = (55 * e_t - 59 * old_eps[-1] + 37 * old_eps[-2] - 9 * old_eps[-3]) / 24
        x_prev, pred_x0 = get_x_prev_and_pred_x0(x, e_t_prime, index)
        old_eps.append(e_t)
        if len(old_eps) >= 4:
            old_eps.pop(0)
        x = x_prev
    return x


class NoiseScheduleVP:
    def __init__(self, ac):
        log_alphas = 0.5 * np.log(ac)
        self.total_N = len(log_alphas)
        self.T = 1.
        self.t_array = np.linspace(0., 1., self.total_N + 1)[1:]
        self.log_alpha_array = log_alphas

    def marginal_log_mean_coeff(self, t):
        xp, yp = self.t_array, self.log_alpha_array
        # interpolate_fn: linear, extended with the outermost segments.
        k = int(np.clip(np.searchsorted(xp, t) - 1, 0, len(xp) - 2))
        return yp[k] + (t - xp[k]) * (yp[k + 1] - yp[k]) / (xp[k + 1] - xp[k])

    def marginal_alpha(self, t):
        return math.exp(self.marginal_log_mean_coeff(t))

    def marginal_std(self, t):
        return math.sqrt(1. - math.exp(2. * self.marginal_log_mean_coeff(t)))

    def marginal_lambda(self, t):
        log_mean_coeff = self.marginal_log_mean_coeff(t)
        log_std = 0.5 * math.log(1. - math.exp(2. * log_mean_coeff))
        return log_mean_coeff - log_std


def unipc(eps_model, x, steps, ac, order=3, lower_order_final=True):
    """UniPC.sample(method='multistep', skip_type='time_uniform', variant='bh1', predict_x0=True)."""
    ns = NoiseScheduleVP(ac)

    def model_fn(x, t):
        noise = eps_model(x, (t - 1. / ns.total_N) * 1000.)
        return (x - ns.marginal_std(t) * noise) / ns.marginal_alpha(t)

    def update(x, model_prev_list, t_prev_list, t, order, use_corrector=True):
        t_prev_0 = t_prev_list[-1]
        lambda_prev_0 = ns.marginal_lambda(t_prev_0)
        lambda_t = ns.marginal_lambda(t)
        model_prev_0 = model_prev_list[-1]
        sigma_prev_0, sigma_t = ns.marginal_std(t_prev_0), ns.marginal_std(t)
        alpha_t = math.exp(ns.marginal_log_mean_coeff(t))
        h = lambda_t - lambda_prev_0
        rks = []
        D1s = []
        for i in range(1, order):
            t_prev_i = t_prev_list[-(i + 1)]
            model_prev_i = model_prev_list[-(i + 1)]
            lambda_prev_i = ns.marginal_lambda(t_prev_i)
            rk = (lambda_prev_i - lambda_prev_0) / h
            rks.append(rk)
            D1s.append((model_prev_i - model_prev_0) / rk)
        rks.append(1.)
        rks = np.array(rks)
        R = []
        b = []
        hh = -h
        h_phi_1 = math.expm1(hh)
        h_phi_k = h_phi_1 / hh - 1
        factorial_i = 1
        B_h = hh
        for i in range(1, order + 1):
            R.append(np.power(rks, i - 1))
            b.append(h_phi_k * factorial_i / B_h)
            factorial_i *= (i + 1)
            h_phi_k = h_phi_k / hh - 1 / factorial_i
        R = np.stack(R)
        b = np.array(b)
        if len(D1s) > 0:
            D1s = np.stack(D1s, axis=0)
            rhos_p = np.array([0.5]) if order == 2 else np.linalg.solve(R[:-1, :-1], b[:-1])
        else:
            D1s = None
        if use_corrector:
            rhos_c = np.array([0.5]) if order == 1 else np.linalg.solve(R, b)
        model_t = None
        x_t_ = sigma_t / sigma_prev_0 * x - alpha_t * h_phi_1 * model_prev_0
        pred_res = np.einsum('k,kc->c', rhos_p, D1s) if D1s is not None else 0
        x_t = x_t_ - alpha_t * B_h * pred_res
        if use_corrector:
            model_t = model_fn(x_t, t)
            corr_res = np.einsum('k,kc->c', rhos_c[:-1], D1s) if D1s is not None else 0
            D1_t = (model_t - model_prev_0)
            x_t = x_t_ - alpha_t * B_h * (corr_res + rhos_c[-1] * D1_t)
        return x_t, model_t

    t_0 = 1. / ns.total_N
    t_T = ns.T
    timesteps = np.linspace(t_T, t_0, steps + 1)
    vec_t = timesteps[0]
    model_prev_list = [model_fn(x, vec_t)]
    t_prev_list = [vec_t]
    for init_order in range(1, order):
        vec_t = timesteps[init_order]
        x, model_x = update(x, model_prev_list, t_prev_list, vec_t, init_order, use_corrector=True)
        if model_x is None:
            model_x = model_fn(x, vec_t)
        model_prev_list.append(model_x)
        t_prev_list.append(vec_t)
    for step in range(order, steps + 1):
        vec_t = timesteps[step]
        step_order = min(order, steps + 1 - step) if lower_order_final else order
        use_corrector = step != steps
        x, model_x = update(x, model_prev_list, t_prev_list, vec_t, step_order, use_corrector=use_corrector)
        for i in range(order - 1):
            t_prev_list[i] = t_prev_list[i + 1]
            model_prev_list[i] = model_prev_list[i + 1]
        t_prev_list[-1] = vec_t
        if step < steps:
            if model_x is None:
                model_x = model_fn(x, vec_t)
            model_prev_list[-1] = model_x
    return x


def fmt(values):
    return '[' + ', '.join(repr(float(v)) for v in values) + ']'


def main():
    ac = alphas_cumprod()
    sd = DiscreteSchedule(ac)
    eps = gaussian_eps_model(sd)
    model = compvis_denoiser(eps, sd)
    smin, smax = sd.sigma_min, sd.sigma_max
    karras = lambda n: get_sigmas_karras(n, smin, smax)
    expo = lambda n: get_sigmas_exponential(n, smin, smax)
    uniform = lambda n: sd.get_sigmas(n)
    discard = lambda s: np.concatenate([s[:-2], s[-1:]])

    print('# schedules, 10 steps, SD 1.5 table')
    print('polyexponential', fmt(get_sigmas_polyexponential(10, smin, smax)))
    print('sgm_uniform', fmt(sgm_uniform(10, sd)))
    print('kl_optimal', fmt(kl_optimal(10, smin, smax)))
    print('align_your_steps', fmt(align_your_steps(10, False)))
    print('align_your_steps 11', fmt(align_your_steps(11, False)))
    print('align_your_steps sdxl 20', fmt(align_your_steps(20, True)))
    print('simple', fmt(simple_scheduler(10, sd)))
    print('normal', fmt(normal_scheduler(10, sd)))
    print('ddim', fmt(ddim_scheduler(10, sd)))
    print('ddim 30', len(ddim_scheduler(30, sd)), fmt(ddim_scheduler(30, sd)[:3]))
    print('beta', fmt(beta_scheduler(10, smin, smax)))
    print('beta ppf', fmt([stats.beta.ppf(q, 0.6, 0.6) for q in (0.001, 0.1, 0.25, 0.5, 0.9, 0.999)]))

    print('# samplers, 10 steps, Gaussian data (s = %g), x_T = %s * sigma_0' % (S_DATA, X_T))
    cases = [
        ('heun uniform', lambda: sample_heun(model, X_T * uniform(10)[0], uniform(10))),
        ('dpm2 karras(discard)', lambda: sample_dpm_2(model, X_T * karras(11)[0], discard(karras(11)))),
        ('dpm2_a karras(discard)', lambda: sample_dpm_2_ancestral(model, X_T * karras(11)[0], discard(karras(11)), Draws())),
        ('lms uniform', lambda: sample_lms(model, X_T * uniform(10)[0], uniform(10))),
        ('dpmpp_2s_a karras', lambda: sample_dpmpp_2s_ancestral(model, X_T * karras(10)[0], karras(10), Draws())),
        ('dpmpp_sde karras', lambda: sample_dpmpp_sde(model, X_T * karras(10)[0], karras(10))),
        ('dpmpp_2m_sde exponential', lambda: sample_dpmpp_2m_sde(model, X_T * expo(10)[0], expo(10))),
        ('dpmpp_2m_sde_heun exponential', lambda: sample_dpmpp_2m_sde(model, X_T * expo(10)[0], expo(10), solver_type='heun')),
        ('dpmpp_3m_sde exponential(discard)', lambda: sample_dpmpp_3m_sde(model, X_T * expo(11)[0], discard(expo(11)))),
        ('dpm_fast', lambda: DPMSolver(model).dpm_solver_fast(X_T * uniform(10)[0], -math.log(smax), -math.log(smin), 10, 1.0, 1.0, Draws())),
        ('restart karras 10', lambda: restart_sampler(model, X_T * karras(10)[0], karras(10), Draws())[0]),
        ('plms', lambda: plms(eps, X_T * 1.0, a1111_ddim_timesteps(10), ac)),
        ('unipc', lambda: unipc(eps, X_T * 1.0, len(a1111_ddim_timesteps(10)), ac)),
        ('ddim_cfgpp', lambda: ddim_cfgpp(lambda x, t: (eps(x, t), 0.5 * eps(x, t)), X_T * 1.0, a1111_ddim_timesteps(10), ac)),
    ]
    for name, f in cases:
        print(name, fmt(f()))
    x, info = DPMSolver(model).dpm_solver_adaptive(X_T * uniform(10)[0], -math.log(smax), -math.log(smin), Draws(), eta=1.0)
    print('dpm_adaptive', fmt(x), info)
    x, n = restart_sampler(model, X_T * karras(20)[0], karras(20), Draws())
    print('restart karras 20', fmt(x), 'steps', n)
    x, n = restart_sampler(model, X_T * karras(40)[0], karras(40), Draws())
    print('restart karras 40', fmt(x), 'steps', n)
    print('lms coeffs step 5 of karras 10', fmt([linear_multistep_coeff(4, karras(10), 5, j) for j in range(4)]))


if __name__ == '__main__':
    main()
