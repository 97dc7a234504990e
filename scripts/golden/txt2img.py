#!/usr/bin/env python3
"""Golden renders for test/unit/render/txt2imgGolden.test.ts: A1111's txt2img loop transcribed in
numpy over the closed-form pipeline of server/src/render/testModel/transcribablePipeline.ts.

    python3 scripts/golden/txt2img.py <inputs folder> > test/golden/txt2img.json

The inputs folder is what scripts/golden/writeTxt2imgInputs.mjs writes (weights, token ids, noise;
see README.md here). What this script transcribes itself, from A1111's sources (1.10):
- prompt_parser.get_learned_conditioning_prompt_schedules for one [from:to:when] per AND part
  ('.' in when: a fraction of the steps, else a step; int(); capped at steps), and
  reconstruct_cond_batch / reconstruct_multicond_batch (the first entry with step <= end_at_step);
- sd_hijack_clip: BOS + tokens + EOS padded to 77 with EOS (SD1), one empty chunk for an empty
  text, chunks concatenated, emphasis 'Original' (z * multipliers, then * original_mean / new_mean);
- prompt_parser.stack_conds (AND parts padded with their last vector); CFGDenoiser.forward with
  A1111's default options (pad_cond_uncond off: a negative prompt of another length is run in its
  own UNet call, unpadded) and combine_denoised (uncond + (cond - uncond) * weight * scale, on the
  denoised latents);
- the samplers of a1111_sampling.py, initial latent = noise * sigmas[0] (DDIM: noise);
- decode_first_stage(x / 0.18215), then clamp((x + 1) / 2, 0, 1) * 255 truncated to uint8.
"""
import json
import os
import re
import sys

import numpy as np

import a1111_sampling as a

HERE = os.path.dirname(os.path.abspath(__file__))
VAE_SCALE = 0.18215
CONTEXT = 77


def load(folder):
    weights = {name[:-4]: np.load(os.path.join(folder, 'weights', name)) for name in os.listdir(os.path.join(folder, 'weights'))}
    with open(os.path.join(folder, 'tokens.json')) as f:
        tokens = json.load(f)
    with open(os.path.join(folder, 'noise.json')) as f:
        noise = json.load(f)
    return weights, tokens, noise


class Pipeline:
    def __init__(self, weights, tokens):
        self.w = weights
        self.tokens = tokens

    # --- networks (float32, as the ONNX graphs) ---

    def text_encoder(self, ids):
        w = self.w
        return (w['token_embedding'][ids] + w['position_embedding']) @ w['text_weight'] + w['text_bias']

    def unet(self, sample, t, context):
        w = self.w
        sample = sample.astype(np.float32)
        mean = context.astype(np.float64).mean(axis=0).astype(np.float32)
        channels = mean @ w['unet_context_weight'] + np.float32(t) * w['unet_timestep_weight']
        return w['unet_sample_scale'] * sample + channels[:, None, None]

    def vae_decoder(self, latent):
        w = self.w
        pixels = np.einsum('oc,chw->ohw', w['vae_weight'][:, :, 0, 0], latent.astype(np.float32)) + w['vae_bias'][:, None, None]
        return np.repeat(np.repeat(pixels, 8, axis=1), 8, axis=2)

    # --- conditioning ---

    def encode(self, text):
        """sd_hijack_clip.FrozenCLIPEmbedderWithCustomWordsBase.forward for one text: [77 * chunks, D]."""
        chunks = self.tokens['texts'][text] or [[]]
        bos, eos = self.tokens['bos'], self.tokens['eos']
        out = []
        for chunk in chunks:
            ids = [bos] + [t for t, _ in chunk] + [eos] * (CONTEXT - 1 - len(chunk))
            multipliers = np.array([1.0] + [m for _, m in chunk] + [1.0] * (CONTEXT - 1 - len(chunk)), dtype=np.float32)
            z = self.text_encoder(np.array(ids))
            original_mean = z.mean(dtype=np.float32)
            z = z * multipliers[:, None]
            new_mean = z.mean(dtype=np.float32)
            out.append(z * (original_mean / new_mean))
        return np.concatenate(out, axis=0)

    def schedule(self, spec, steps):
        """[(end_at_step, cond)] as get_learned_conditioning_prompt_schedules + get_learned_conditioning."""
        if 'edit' not in spec:
            return [(steps, self.encode(spec['text']))]
        before, after, when = spec['edit']
        v = float(when) * steps if '.' in when else float(when)
        end = min(steps, int(v))
        ends = sorted({steps} | ({end} if end >= 1 else set()))
        return [(s, self.encode(before if s <= end else after)) for s in ends]


def at(schedule, step):
    """reconstruct_cond_batch: the first entry whose end_at_step is at or after the step."""
    for end, cond in schedule:
        if step <= end:
            return cond
    return schedule[0][1]


def stack_conds(tensors):
    longest = max(t.shape[0] for t in tensors)
    return [t if t.shape[0] == longest else np.concatenate([t, np.repeat(t[-1:], longest - t.shape[0], axis=0)]) for t in tensors]


def render(case, size, pipeline, noise_blocks):
    steps = case['steps']
    h, w = size['height'] // 8, size['width'] // 8
    parts = [(p['weight'], pipeline.schedule(p, steps)) for p in case['parts']]
    negative = pipeline.schedule(case['negative'], steps)
    blocks = iter(np.array(b, dtype=np.float32).reshape(4, h, w) for b in noise_blocks)
    first = next(blocks)
    randn = lambda: next(blocks)
    calls = []  # per step: {timestep, sample, contexts}
    counter = {'step': 0}

    def cfg(model_out, x, t):
        """CFGDenoiser.forward: model_out(x, t, context) for each AND part, then the negative prompt."""
        step = counter['step']
        conds = stack_conds([at(s, step) for _, s in parts])
        uncond = at(negative, step)
        outs = [model_out(x, t, c) for c in conds]
        out_uncond = model_out(x, t, uncond)
        record = calls[-1] if calls and calls[-1]['step'] == step else None
        assert record is not None
        record['contexts'] = [{'tokens': int(c.shape[0]), 'mean': [float(v) for v in c.astype(np.float64).mean(axis=0)]} for c in [*conds, uncond]]
        combined = out_uncond.copy()
        for (weight, _), out in zip(parts, outs):
            combined = combined + (out - out_uncond) * (weight * case['cfgScale'])
        counter['step'] += 1
        return combined

    def unet(sample, t, context):
        if not calls or calls[-1]['step'] != counter['step']:
            calls.append({'step': counter['step'], 'timestep': float(t), 'sample': [float(v) for v in sample.ravel()]})
        return pipeline.unet(sample, t, context).astype(np.float64)

    ac = a.alphas_cumprod()
    schedule = a.DiscreteSchedule(ac)
    sampler = case['sampler']
    if sampler == 'DDIM':
        x = a.ddim(lambda x, t: cfg(lambda x, t, c: unet(x, t, c), x, t), first.astype(np.float64), a.a1111_ddim_timesteps(steps), ac, randn)
    else:
        # CompVisDenoiser per UNet call; CFG combines the denoised latents.
        def denoised(x, sigma):
            c_in = 1 / (sigma ** 2 + 1) ** 0.5
            t = schedule.sigma_to_t(sigma)
            return cfg(lambda x, t, c: x + unet(x * c_in, t, c) * -sigma, x, t)

        if sampler == 'Euler':
            sigmas = schedule.get_sigmas(steps)
            x = a.sample_euler(denoised, first * sigmas[0], sigmas)
        elif sampler == 'Euler a':
            sigmas = schedule.get_sigmas(steps)
            x = a.sample_euler_ancestral(denoised, first * sigmas[0], sigmas, randn)
        elif sampler == 'DPM++ 2M':
            sigmas = a.get_sigmas_karras(steps, schedule.sigma_min, schedule.sigma_max)
            x = a.sample_dpmpp_2m(denoised, first * sigmas[0], sigmas)
        elif sampler == 'LCM':
            # CFGDenoiserLCM: CFG over LCMCompVisDenoiser's outputs (the UNet sees the grid timestep).
            lcm = a.LcmSchedule(ac)
            sigmas = lcm.get_sigmas(steps)
            x = a.sample_lcm(lambda x, sigma: cfg(lambda x, t, c: a.lcm_denoiser(lambda s, t: unet(s, t, c), lcm)(x, sigma), x, lcm.sigma_to_t(sigma)), first * sigmas[0], sigmas, randn)
        else:
            raise ValueError(f'no transcription of sampler {sampler}')

    latent = x / VAE_SCALE
    image = pipeline.vae_decoder(latent)
    # One value per latent cell: the decoder repeats each 8x8.
    grid = image[:, ::8, ::8]
    pixels = np.clip((grid.astype(np.float64) + 1) / 2, 0, 1) * 255
    return {
        **{k: case[k] for k in ['name', 'prompt', 'negativePrompt', 'steps', 'sampler', 'cfgScale', 'seed']},
        'width': size['width'],
        'height': size['height'],
        'unetCalls': [{k: c[k] for k in ['timestep', 'sample', 'contexts']} for c in calls],
        'decoderInput': [float(v) for v in latent.ravel()],
        'decoderOutput': [float(v) for v in grid.ravel()],
        'pixels': [float(v) for v in pixels.ravel()],
    }


def main():
    if len(sys.argv) != 2:
        sys.exit('usage: python3 scripts/golden/txt2img.py <folder written by writeTxt2imgInputs.mjs>')
    weights, tokens, noise = load(sys.argv[1])
    with open(os.path.join(HERE, 'txt2imgCases.json')) as f:
        cases = json.load(f)
    pipeline = Pipeline(weights, tokens)
    size = {'width': cases['width'], 'height': cases['height']}
    golden = {
        'about': 'Made by scripts/golden/txt2img.py (see scripts/golden/README.md) from txt2imgCases.json. Per case and UNet step: the '
                 'timestep, the UNet sample input (C, H, W order) and, per UNet call (AND parts, then the negative prompt), the '
                 'context length and its mean over the sequence; then the VAE decoder input, its output at each latent cell and '
                 "A1111's pixel value before truncation to uint8 (clamp((x + 1) / 2, 0, 1) * 255), in C, H, W order.",
        'numpy': np.__version__,
        # Which weights the goldens were made from: the test checks these first.
        'weightSums': {name: float(np.sum(w, dtype=np.float64)) for name, w in sorted(weights.items())},
        'cases': [render(case, size, pipeline, noise[str(case['seed'])]) for case in cases['cases']],
    }
    # One line per list of numbers: small diffs when a golden is regenerated.
    text = json.dumps(golden, indent=1)
    text = re.sub(r'\[\s*(-?[0-9][-+0-9.eE,\s]*?)\s*\]', lambda m: '[' + ', '.join(v.strip() for v in m.group(1).split(',')) + ']', text)
    sys.stdout.write(text + '\n')


if __name__ == '__main__':
    main()
