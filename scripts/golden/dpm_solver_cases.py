"""Reference values for test/unit/samplers/dpmSolverMutants.test.ts: k-diffusion's DPM fast and DPM
adaptive (the DPMSolver transcription in a1111_samplers.py, written from k-diffusion's sampling.py)
on the cases the first golden run leaves out: a step count divisible by 3 (orders 3, ..., 2, 1), one
that leaves 2 (a final second-order step), Eta 0, Sigma noise 0.5, and the `denoised` each step hands
the callback (A1111's live preview), which k-diffusion computes as x - sigma(t) * eps.

    cd scripts/golden && python3 dpm_solver_cases.py

Same model, start latent and draws as a1111_samplers.py (Gaussian data, X_T * sigma_max, draw j is
sin(j + 1 + 0.7 k)).
"""
import math

from a1111_samplers import DPMSolver, Draws, X_T, fmt, gaussian_eps_model
from a1111_sampling import DiscreteSchedule, alphas_cumprod, compvis_denoiser


class RecordingSolver(DPMSolver):
    """Records k-diffusion's callback `denoised` (x - sigma(t) * eps at each step's first eps)."""

    def __init__(self, model):
        super().__init__(model)
        self.denoised = []
        self.calls = 0

    def eps(self, eps_cache, key, x, t):
        if key not in eps_cache:
            self.calls += 1
        eps, cache = super().eps(eps_cache, key, x, t)
        if key == 'eps' and key not in eps_cache:
            self.denoised.append(x - self.sigma(t) * eps)
        return eps, cache


def main():
    sd = DiscreteSchedule(alphas_cumprod())
    model = compvis_denoiser(gaussian_eps_model(sd), sd)
    t_start, t_end = -math.log(sd.sigma_max), -math.log(sd.sigma_min)
    x_t = X_T * sd.sigma_max
    for nfe, eta, s_noise in ((9, 1.0, 1.0), (11, 1.0, 0.5), (10, 0.0, 1.0)):
        solver = RecordingSolver(model)
        x = solver.dpm_solver_fast(x_t, t_start, t_end, nfe, eta, s_noise, Draws())
        print(f'dpm_fast nfe={nfe} eta={eta} s_noise={s_noise} calls={solver.calls} steps={len(solver.denoised)}')
        print('  x', fmt(x))
        print('  denoised[0]', fmt(solver.denoised[0]))
        print('  denoised[-1]', fmt(solver.denoised[-1]))
    for eta in (0.0, 1.0):
        solver = RecordingSolver(model)
        x, info = solver.dpm_solver_adaptive(x_t, t_start, t_end, Draws(), eta=eta)
        print(f'dpm_adaptive eta={eta} calls={solver.calls}', info)
        print('  x', fmt(x))
        print('  denoised[0]', fmt(solver.denoised[0]))
        print('  denoised[-1]', fmt(solver.denoised[-1]))


if __name__ == '__main__':
    main()
