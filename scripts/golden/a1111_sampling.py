"""A numpy transcription of what AUTOMATIC1111 runs between the UNet and the latent, written from
the upstream sources (not from this project's TypeScript) for the goldens in test/golden/ and the
tables in test/unit/render/schedulers.test.ts:

- LDM `make_beta_schedule('linear')` (diffusers 'scaled_linear'), alphas_cumprod stored as float32
  (the model buffer A1111 reads);
- k-diffusion `external.DiscreteSchedule` (sigma_to_t, t_to_sigma, get_sigmas), `CompVisDenoiser`,
  `CompVisVDenoiser`, `sampling.get_sigmas_karras`, `get_sigmas_exponential`, `get_ancestral_step`,
  `sample_euler`, `sample_euler_ancestral`, `sample_dpmpp_2m`;
- A1111 `sd_samplers_timesteps.CompVisSampler.get_timesteps` and `sd_samplers_timesteps_impl.ddim`
  (with `CompVisTimestepsDenoiser` / `CompVisTimestepsVDenoiser`), `sd_samplers_lcm`.

Scalars are float64 (numpy), latents whatever the caller passes. A "model" here is what k-diffusion
samplers call: model(x, sigma) -> denoised; a DDIM "model" returns eps: model(x, timestep) -> eps.
"""
import numpy as np


def linspace(start, end, n):
    return np.linspace(start, end, n, dtype=np.float64)


def alphas_cumprod(beta_start=0.00085, beta_end=0.012, n=1000, schedule='scaled_linear', trained=None):
    if trained is not None:
        betas = np.asarray(trained, dtype=np.float64)
    elif schedule == 'scaled_linear':
        betas = linspace(beta_start ** 0.5, beta_end ** 0.5, n) ** 2
    else:
        betas = linspace(beta_start, beta_end, n)
    return np.cumprod(1.0 - betas).astype(np.float32).astype(np.float64)


class DiscreteSchedule:
    """k-diffusion external.DiscreteSchedule over sigmas = sqrt((1 - ac) / ac), ascending."""

    def __init__(self, ac):
        self.sigmas = ((1 - ac) / ac) ** 0.5
        self.log_sigmas = np.log(self.sigmas)

    @property
    def sigma_min(self):
        return self.sigmas[0]

    @property
    def sigma_max(self):
        return self.sigmas[-1]

    def sigma_to_t(self, sigma):
        log_sigma = np.log(sigma)
        dists = log_sigma - self.log_sigmas
        # dists.ge(0).cumsum().argmax(): the last index at or below sigma, 0 when there is none.
        low_idx = min(int(np.argmax(np.cumsum(dists >= 0))), len(self.log_sigmas) - 2)
        high_idx = low_idx + 1
        low, high = self.log_sigmas[low_idx], self.log_sigmas[high_idx]
        w = np.clip((low - log_sigma) / (low - high), 0, 1)
        return (1 - w) * low_idx + w * high_idx

    def t_to_sigma(self, t):
        low_idx, high_idx, w = int(np.floor(t)), int(np.ceil(t)), t - np.floor(t)
        return np.exp((1 - w) * self.log_sigmas[low_idx] + w * self.log_sigmas[high_idx])

    def get_sigmas(self, n):
        t = linspace(len(self.sigmas) - 1, 0, n)
        return np.append([self.t_to_sigma(x) for x in t], 0.0)


class LcmSchedule(DiscreteSchedule):
    """A1111 sd_samplers_lcm.LCMCompVisDenoiser: the table on LCM's 50-step grid."""

    def __init__(self, ac, original_timesteps=50):
        timesteps = len(ac)
        self.skip_steps = timesteps // original_timesteps
        valid = np.zeros(original_timesteps)
        for x in range(original_timesteps):
            valid[original_timesteps - 1 - x] = ac[timesteps - 1 - x * self.skip_steps]
        super().__init__(valid)

    def sigma_to_t(self, sigma):
        return int(np.argmin(np.abs(np.log(sigma) - self.log_sigmas))) * self.skip_steps + (self.skip_steps - 1)

    def t_to_sigma(self, timestep):
        return super().t_to_sigma((timestep - (self.skip_steps - 1)) / self.skip_steps)

    def get_sigmas(self, n):
        t = linspace(self.sigma_to_t(self.sigma_max), self.sigma_to_t(self.sigma_min), n)
        return np.append([self.t_to_sigma(x) for x in t], 0.0)


def get_sigmas_karras(n, sigma_min, sigma_max, rho=7.0):
    ramp = linspace(0, 1, n)
    min_inv_rho = sigma_min ** (1 / rho)
    max_inv_rho = sigma_max ** (1 / rho)
    return np.append((max_inv_rho + ramp * (min_inv_rho - max_inv_rho)) ** rho, 0.0)


def get_sigmas_exponential(n, sigma_min, sigma_max):
    return np.append(np.exp(linspace(np.log(sigma_max), np.log(sigma_min), n)), 0.0)


def get_ancestral_step(sigma_from, sigma_to, eta=1.0):
    if not eta:
        return sigma_to, 0.0
    sigma_up = min(sigma_to, eta * (sigma_to ** 2 * (sigma_from ** 2 - sigma_to ** 2) / sigma_from ** 2) ** 0.5)
    sigma_down = (sigma_to ** 2 - sigma_up ** 2) ** 0.5
    return sigma_down, sigma_up


def a1111_ddim_timesteps(steps, n=1000, offset=1):
    return np.clip(np.arange(0, n, n // steps) + offset, 0, n - 1)


# --- denoisers: eps (or v) model -> denoised, as k-diffusion's wrappers ---------------------

def compvis_denoiser(eps_model, schedule, v_prediction=False):
    """CompVisDenoiser (c_out = -sigma, c_in = 1/sqrt(sigma^2+1)) or CompVisVDenoiser (sigma_data 1)."""

    def denoise(x, sigma, **kwargs):
        c_in = 1 / (sigma ** 2 + 1) ** 0.5
        out = eps_model(x * c_in, schedule.sigma_to_t(sigma), **kwargs)
        if not v_prediction:
            return x + out * -sigma
        c_skip = 1 / (sigma ** 2 + 1)
        c_out = -sigma / (sigma ** 2 + 1) ** 0.5
        return out * c_out + x * c_skip

    return denoise


def lcm_denoiser(eps_model, lcm):
    """LCMCompVisDenoiser.forward: CompVis eps denoising, then get_scaled_out (sigma_data 0.5, x10)."""

    def denoise(x, sigma, **kwargs):
        c_in = 1 / (sigma ** 2 + 1) ** 0.5
        t = lcm.sigma_to_t(sigma)
        eps = eps_model(x * c_in, t, **kwargs)
        output = x + eps * -sigma
        scaled = t * 10.0
        c_skip = 0.5 ** 2 / (scaled ** 2 + 0.5 ** 2)
        c_out = scaled / (scaled ** 2 + 0.5 ** 2) ** 0.5
        return c_out * output + c_skip * x

    return denoise


# --- samplers ------------------------------------------------------------------------------

def sample_euler(model, x, sigmas, callback=None):
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i])
        d = (x - denoised) / sigmas[i]
        x = x + d * (sigmas[i + 1] - sigmas[i])
        if callback:
            callback(i, x)
    return x


def sample_euler_ancestral(model, x, sigmas, randn, eta=1.0, s_noise=1.0, callback=None):
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i])
        sigma_down, sigma_up = get_ancestral_step(sigmas[i], sigmas[i + 1], eta)
        d = (x - denoised) / sigmas[i]
        x = x + d * (sigma_down - sigmas[i])
        if sigmas[i + 1] > 0:
            x = x + randn() * s_noise * sigma_up
        if callback:
            callback(i, x)
    return x


def sample_dpmpp_2m(model, x, sigmas, callback=None):
    sigma_fn = lambda t: np.exp(-t)
    t_fn = lambda sigma: -np.log(sigma)
    old_denoised = None
    with np.errstate(divide='ignore'):
        for i in range(len(sigmas) - 1):
            denoised = model(x, sigmas[i])
            t, t_next = t_fn(sigmas[i]), t_fn(sigmas[i + 1])
            h = t_next - t
            if old_denoised is None or sigmas[i + 1] == 0:
                x = (sigma_fn(t_next) / sigma_fn(t)) * x - np.expm1(-h) * denoised
            else:
                h_last = t - t_fn(sigmas[i - 1])
                r = h_last / h
                denoised_d = (1 + 1 / (2 * r)) * denoised - (1 / (2 * r)) * old_denoised
                x = (sigma_fn(t_next) / sigma_fn(t)) * x - np.expm1(-h) * denoised_d
            old_denoised = denoised
            if callback:
                callback(i, x)
    return x


def sample_lcm(model, x, sigmas, randn, callback=None):
    for i in range(len(sigmas) - 1):
        x = model(x, sigmas[i])
        if sigmas[i + 1] > 0:
            x = x + sigmas[i + 1] * randn()
        if callback:
            callback(i, x)
    return x


def ddim(eps_model, x, timesteps, ac, randn, eta=0.0, v_prediction=False, callback=None):
    """A1111 sd_samplers_timesteps_impl.ddim; eps_model(x, t) is the (CFG-combined) eps."""
    alphas = ac[timesteps]
    alphas_prev = ac[np.concatenate([[0], timesteps[:-1]])]
    sqrt_one_minus_alphas = np.sqrt(1 - alphas)
    sigmas = eta * np.sqrt((1 - alphas_prev) / (1 - alphas) * (1 - alphas / alphas_prev))
    for i in range(len(timesteps) - 1):
        index = len(timesteps) - 1 - i
        e_t = eps_model(x, timesteps[index])
        if v_prediction:
            e_t = np.sqrt(alphas[index]) * e_t + np.sqrt(1 - alphas[index]) * x
        a_t, a_prev, sigma_t = alphas[index], alphas_prev[index], sigmas[index]
        pred_x0 = (x - sqrt_one_minus_alphas[index] * e_t) / np.sqrt(a_t)
        dir_xt = np.sqrt(1.0 - a_prev - sigma_t ** 2) * e_t
        # A1111 draws the noise on every step, also when sigma_t is 0.
        noise = sigma_t * randn()
        x = np.sqrt(a_prev) * pred_x0 + dir_xt + noise
        if callback:
            callback(i, x)
    return x
