import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { NodeFileSystem } from '../../../server/src/node/nodeFileSystem';
import {
  LoraKeyMap,
  LoraKeyMapError,
  LoraModule,
  isDiffusersModulePath,
  isLoraKeyMapError,
  kohyaUnetPath,
  mapLoraKeys,
} from '../../../server/src/render/lora/loraKeys';
import { deltaWeight } from '../../../server/src/render/lora/loraMath';
import { LoraTensor, readLoraTensors, resolveModule } from '../../../server/src/render/lora/loraTensors';
import { halfToNumber, isSafetensorsError, readSafetensorsHeader } from '../../../server/src/service/library/safetensors';
import { FIXTURES, readFixture } from '../fixtures';

const LORA = path.join(FIXTURES, 'lora');

function mapped(keys: Iterable<string>): LoraKeyMap {
  const result = mapLoraKeys(keys);
  if (isLoraKeyMapError(result)) throw new Error(result.error);
  return result;
}

function manifests(prefix: string): string[] {
  return fs.readdirSync(path.join(LORA, 'key_manifests')).filter((name) => name.startsWith(prefix) && name.endsWith('.keys.json'));
}

function byName(modules: readonly LoraModule[]): Map<string, LoraModule> {
  return new Map(modules.map((m) => [`${m.component}:${m.module}`, m]));
}

describe('LoRA key mapping', () => {
  describe('kohya SD1.5 key manifests', () => {
    for (const file of manifests('sd15_kohya_')) {
      it(`${file}: every key maps to a diffusers module`, () => {
        const keys = Object.keys(readFixture<Record<string, unknown>>(`lora/key_manifests/${file}`));
        const map = mapped(keys);
        assert.deepStrictEqual(map.unmatched, []);
        assert.strictEqual(map.style, 'kohya');
        assert.strictEqual(map.modules.reduce((n, m) => n + m.sourceKeys.length, 0), keys.length);
        for (const m of map.modules) assert.ok(isDiffusersModulePath(m.component, m.module), m.module);

        // SD1.5's 16 transformer blocks × (8 attention + 2 feed-forward) + 16 × proj_in/proj_out, and
        // 12 CLIP layers × (q, k, v, out, fc1, fc2).
        const blocks: string[] = [];
        for (const level of [0, 1, 2]) for (const a of [0, 1]) blocks.push(`down_blocks.${level}.attentions.${a}`);
        blocks.push('mid_block.attentions.0');
        for (const level of [1, 2, 3]) for (const a of [0, 1, 2]) blocks.push(`up_blocks.${level}.attentions.${a}`);
        const expected = new Set<string>();
        for (const block of blocks) {
          expected.add(`unet:${block}.proj_in`);
          expected.add(`unet:${block}.proj_out`);
          const tb = `${block}.transformer_blocks.0`;
          for (const attn of ['attn1', 'attn2']) for (const p of ['to_q', 'to_k', 'to_v', 'to_out.0']) expected.add(`unet:${tb}.${attn}.${p}`);
          expected.add(`unet:${tb}.ff.net.0.proj`);
          expected.add(`unet:${tb}.ff.net.2`);
        }
        for (let layer = 0; layer < 12; layer++) {
          const base = `text_encoder:text_model.encoder.layers.${layer}`;
          for (const p of ['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj', 'self_attn.out_proj', 'mlp.fc1', 'mlp.fc2']) expected.add(`${base}.${p}`);
        }
        assert.strictEqual(expected.size, 192 + 72);
        assert.deepStrictEqual(new Set(byName(map.modules).keys()), expected);
        for (const m of map.modules) {
          assert.strictEqual(m.kind, 'lora');
          assert.deepStrictEqual(Object.keys(m.tensors).sort(), ['alpha', 'down', 'up']);
        }
      });
    }

    it('maps the examples exactly', () => {
      const map = byName(
        mapped([
          'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_down.weight',
          'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_up.weight',
          'lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight',
          'lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_up.weight',
        ]).modules,
      );
      const attn = map.get('unet:down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k');
      assert.ok(attn);
      assert.deepStrictEqual(attn.tensors, {
        down: 'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_down.weight',
        up: 'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_up.weight',
      });
      assert.ok(map.has('text_encoder:text_model.encoder.layers.0.self_attn.q_proj'));
    });
  });

  describe('kohya SDXL key manifests', () => {
    for (const file of manifests('sdxl_kohya_')) {
      it(`${file}: every key maps, compvis UNet names onto diffusers paths`, () => {
        const keys = Object.keys(readFixture<Record<string, unknown>>(`lora/key_manifests/${file}`));
        const map = mapped(keys);
        assert.deepStrictEqual(map.unmatched, []);
        for (const m of map.modules) assert.ok(isDiffusersModulePath(m.component, m.module), m.module);
        const count = (component: string) => map.modules.filter((m) => m.component === component).length;
        // CLIP-L 12 layers and OpenCLIP-bigG 32 layers, 6 modules each.
        assert.strictEqual(count('text_encoder'), 72);
        assert.strictEqual(count('text_encoder_2'), 192);
        // SDXL's attention blocks in diffusers terms, with their transformer depths.
        const depth = new Map<string, number>();
        for (const m of map.modules.filter((x) => x.component === 'unet')) {
          const match = /^(.*attentions\.\d+)\.(?:transformer_blocks\.(\d+)\.)?/.exec(m.module);
          assert.ok(match, m.module);
          depth.set(match[1], Math.max(depth.get(match[1]) ?? 0, match[2] === undefined ? 0 : Number(match[2]) + 1));
        }
        assert.deepStrictEqual(
          Object.fromEntries([...depth].sort()),
          Object.fromEntries(
            [
              ['down_blocks.1.attentions.0', 2],
              ['down_blocks.1.attentions.1', 2],
              ['down_blocks.2.attentions.0', 10],
              ['down_blocks.2.attentions.1', 10],
              ['mid_block.attentions.0', 10],
              ['up_blocks.0.attentions.0', 10],
              ['up_blocks.0.attentions.1', 10],
              ['up_blocks.0.attentions.2', 10],
              ['up_blocks.1.attentions.0', 2],
              ['up_blocks.1.attentions.1', 2],
              ['up_blocks.1.attentions.2', 2],
            ].sort(),
          ),
        );
        const names = byName(map.modules);
        assert.ok(names.has('unet:down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q'));
        assert.ok(names.has('text_encoder:text_model.encoder.layers.11.mlp.fc2'));
        assert.ok(names.has('text_encoder_2:text_model.encoder.layers.31.self_attn.out_proj'));
      });
    }

    it('converts compvis (SGM) UNet names by sd-scripts’ conversion table', () => {
      const cases: Array<[string, string]> = [
        ['input_blocks_4_1_transformer_blocks_0_attn1_to_q', 'down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q'],
        ['input_blocks_8_1_proj_in', 'down_blocks.2.attentions.1.proj_in'],
        ['input_blocks_1_0_in_layers_2', 'down_blocks.0.resnets.0.conv1'],
        ['input_blocks_2_0_out_layers_3', 'down_blocks.0.resnets.1.conv2'],
        ['input_blocks_4_0_skip_connection', 'down_blocks.1.resnets.0.conv_shortcut'],
        ['input_blocks_5_0_emb_layers_1', 'down_blocks.1.resnets.1.time_emb_proj'],
        ['input_blocks_3_0_op', 'down_blocks.0.downsamplers.0.conv'],
        ['input_blocks_6_0_op', 'down_blocks.1.downsamplers.0.conv'],
        ['input_blocks_0_0', 'conv_in'],
        ['middle_block_0_in_layers_2', 'mid_block.resnets.0.conv1'],
        ['middle_block_1_transformer_blocks_9_ff_net_0_proj', 'mid_block.attentions.0.transformer_blocks.9.ff.net.0.proj'],
        ['middle_block_1_proj_out', 'mid_block.attentions.0.proj_out'],
        ['middle_block_2_emb_layers_1', 'mid_block.resnets.1.time_emb_proj'],
        ['output_blocks_0_1_transformer_blocks_0_attn2_to_out_0', 'up_blocks.0.attentions.0.transformer_blocks.0.attn2.to_out.0'],
        ['output_blocks_5_1_proj_in', 'up_blocks.1.attentions.2.proj_in'],
        ['output_blocks_4_0_skip_connection', 'up_blocks.1.resnets.1.conv_shortcut'],
        ['output_blocks_2_2_conv', 'up_blocks.0.upsamplers.0.conv'],
        // SD1's first up level has no attention, so its upsampler sits at .1.
        ['output_blocks_2_1_conv', 'up_blocks.0.upsamplers.0.conv'],
        ['output_blocks_8_0_in_layers_0', 'up_blocks.2.resnets.2.norm1'],
        ['time_embed_0', 'time_embedding.linear_1'],
        ['time_embed_2', 'time_embedding.linear_2'],
        ['label_emb_0_0', 'add_embedding.linear_1'],
        ['label_emb_0_2', 'add_embedding.linear_2'],
        ['out_0', 'conv_norm_out'],
        ['out_2', 'conv_out'],
      ];
      for (const [kohya, diffusers] of cases) {
        assert.strictEqual(kohyaUnetPath(kohya), diffusers, kohya);
        assert.ok(isDiffusersModulePath('unet', diffusers), diffusers);
      }
      assert.strictEqual(kohyaUnetPath('input_blocks_3_1_proj_in'), undefined);
    });
  });

  describe('LyCORIS LoKr files (real tensors)', () => {
    const files = fs.readdirSync(path.join(LORA, 'lycoris')).filter((name) => name.endsWith('.safetensors'));

    for (const file of files) {
      it(`${file}: every key maps to a LoKr module`, async () => {
        const header = await readSafetensorsHeader(new NodeFileSystem(), path.join(LORA, 'lycoris', file));
        assert.ok(!isSafetensorsError(header));
        const map = mapped(header.tensors.map((t) => t.name));
        assert.deepStrictEqual(map.unmatched, []);
        // Each of the three files (ranks 4, 8, 16) adapts the same 350 modules.
        assert.deepStrictEqual(
          map.modules.reduce<Record<string, number>>((n, m) => ({ ...n, [m.component]: (n[m.component] ?? 0) + 1 }), {}),
          { text_encoder: 72, unet: 278 },
        );
        for (const m of map.modules) {
          assert.strictEqual(m.kind, 'lokr');
          assert.ok(isDiffusersModulePath(m.component, m.module), m.module);
        }
        const names = byName(map.modules);
        // The conv layers LoCon-style LyCORIS adapts too.
        for (const conv of ['down_blocks.0.resnets.0.conv1', 'down_blocks.0.downsamplers.0.conv', 'up_blocks.0.upsamplers.0.conv', 'up_blocks.3.resnets.2.conv_shortcut']) {
          assert.ok(names.has(`unet:${conv}`), conv);
        }
      });
    }

    it('ΔW of one module equals a naive kron of the factor products', async () => {
      const file = path.join(LORA, 'lycoris', 'smart_falcon_4_lokr.safetensors');
      const read = await readLoraTensors(new NodeFileSystem(), file);
      assert.ok(!('error' in read));
      const map = mapped(read.tensors.keys());
      const module = map.modules.find((m) => m.module === 'text_model.encoder.layers.0.mlp.fc1');
      assert.ok(module);
      const resolved = resolveModule(module, read.tensors);
      assert.ok(!('error' in resolved));

      // Independent reference: decode the F16 bytes with halfToNumber and multiply in fp64.
      const bytes = fs.readFileSync(file);
      const headerLength = Number(bytes.readBigUInt64LE(0));
      const json = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
      const raw = (name: string): { shape: number[]; values: number[] } => {
        const entry = json[`lora_te_text_model_encoder_layers_0_mlp_fc1.${name}`];
        assert.strictEqual(entry.dtype, 'F16');
        const values: number[] = [];
        for (let o = entry.data_offsets[0]; o < entry.data_offsets[1]; o += 2) values.push(halfToNumber(bytes.readUInt16LE(8 + headerLength + o)));
        return { shape: entry.shape, values };
      };
      const mm = (a: { shape: number[]; values: number[] }, b: { shape: number[]; values: number[] }) => {
        const [m, k] = a.shape;
        const n = b.shape[1];
        const out: number[] = [];
        for (let i = 0; i < m; i++)
          for (let j = 0; j < n; j++) {
            let sum = 0;
            for (let p = 0; p < k; p++) sum += a.values[i * k + p] * b.values[p * n + j];
            out.push(sum);
          }
        return { shape: [m, n], values: out };
      };
      const w1 = mm(raw('lokr_w1_a'), raw('lokr_w1_b'));
      const w2 = mm(raw('lokr_w2_a'), raw('lokr_w2_b'));
      const alpha = raw('alpha').values[0];
      const rank = raw('lokr_w2_b').shape[0];
      const multiplier = 0.8;
      const rows = w1.shape[0] * w2.shape[0];
      const cols = w1.shape[1] * w2.shape[1];
      assert.deepStrictEqual([rows, cols], [3072, 768]);
      const delta = deltaWeight(resolved, multiplier, [3072, 768]);
      assert.ok(delta instanceof Float32Array);
      let worst = 0;
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < cols; c++) {
          const a = w1.values[Math.floor(r / w2.shape[0]) * w1.shape[1] + Math.floor(c / w2.shape[1])];
          const b = w2.values[(r % w2.shape[0]) * w2.shape[1] + (c % w2.shape[1])];
          const expected = a * b * (alpha / rank) * multiplier;
          worst = Math.max(worst, Math.abs(delta[r * cols + c] - expected) / Math.max(1e-3, Math.abs(expected)));
        }
      }
      assert.ok(worst < 1e-5, `relative error ${worst}`);

      // A 3×3 conv module lands on its [out, in, 3, 3] weight.
      const conv = map.modules.find((m) => m.module === 'down_blocks.0.resnets.0.conv1');
      assert.ok(conv);
      const convResolved = resolveModule(conv, read.tensors);
      assert.ok(!('error' in convResolved));
      assert.ok(deltaWeight(convResolved as LoraModule<LoraTensor>, 1, [320, 320, 3, 3]) instanceof Float32Array);
      const wrong = deltaWeight(convResolved as LoraModule<LoraTensor>, 1, [640, 320, 3, 3]);
      assert.ok(!(wrong instanceof Float32Array));
      assert.match(wrong.error, /unet:down_blocks\.0\.resnets\.0\.conv1.*\[320, 2880\].*\[640, 320, 3, 3\]/);
    });
  });

  describe('other formats', () => {
    it('refuses cloneofsimo files, naming the format', async () => {
      for (const file of fs.readdirSync(path.join(LORA, 'cloneofsimo')).filter((n) => n.endsWith('.safetensors'))) {
        const header = await readSafetensorsHeader(new NodeFileSystem(), path.join(LORA, 'cloneofsimo', file));
        assert.ok(!isSafetensorsError(header));
        const result = mapLoraKeys(header.tensors.map((t) => t.name));
        assert.ok(isLoraKeyMapError(result), file);
        assert.strictEqual((result as LoraKeyMapError).format, 'cloneofsimo');
        assert.match((result as LoraKeyMapError).error, /cloneofsimo/);
        assert.strictEqual((result as LoraKeyMapError).unmatched.length, header.tensors.length);
      }
    });

    it('maps the diffusers attention-processor file onto attn1.to_k etc.', async () => {
      const header = await readSafetensorsHeader(new NodeFileSystem(), path.join(LORA, 'diffusers', 'catundchat_sd15_attnprocs_f32.safetensors'));
      assert.ok(!isSafetensorsError(header));
      const map = mapped(header.tensors.map((t) => t.name));
      assert.strictEqual(map.style, 'diffusers-attn-processor');
      assert.deepStrictEqual(map.unmatched, []);
      // 16 transformer blocks × 2 attentions × (q, k, v, out).
      assert.strictEqual(map.modules.length, 128);
      const names = byName(map.modules);
      const block = 'unet:down_blocks.0.attentions.0.transformer_blocks.0';
      for (const p of ['attn1.to_q', 'attn1.to_k', 'attn1.to_v', 'attn1.to_out.0', 'attn2.to_k']) assert.ok(names.has(`${block}.${p}`), p);
      assert.deepStrictEqual(names.get(`${block}.attn1.to_k`)?.tensors, {
        down: 'down_blocks.0.attentions.0.transformer_blocks.0.attn1.processor.to_k_lora.down.weight',
        up: 'down_blocks.0.attentions.0.transformer_blocks.0.attn1.processor.to_k_lora.up.weight',
      });
    });

    it('maps PEFT, diffusers and LyCORIS keys, and reports every key it cannot map', () => {
      const keys = [
        'unet.down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.lora_A.weight',
        'unet.down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.lora_B.weight',
        'unet.up_blocks.1.attentions.0.proj_in.lora.down.weight',
        'unet.up_blocks.1.attentions.0.proj_in.lora.up.weight',
        'text_encoder.text_model.encoder.layers.3.self_attn.v_proj.lora_A.weight',
        'text_encoder.text_model.encoder.layers.3.self_attn.v_proj.lora_B.weight',
        'text_encoder.text_model.encoder.layers.4.self_attn.to_out_lora.down.weight',
        'text_encoder.text_model.encoder.layers.4.self_attn.to_out_lora.up.weight',
        'text_encoder_2.text_model.encoder.layers.1.mlp.fc1.lora_linear_layer.down.weight',
        'text_encoder_2.text_model.encoder.layers.1.mlp.fc1.lora_linear_layer.up.weight',
        'lora_unet_mid_block_resnets_0_conv1.hada_w1_a',
        'lora_unet_mid_block_resnets_0_conv1.hada_w1_b',
        'lora_unet_mid_block_resnets_0_conv1.hada_w2_a',
        'lora_unet_mid_block_resnets_0_conv1.hada_w2_b',
        'lora_unet_mid_block_resnets_0_conv1.alpha',
        'lora_unet_conv_in.lora_down.weight',
        'lora_unet_conv_in.lora_up.weight',
        'lora_unet_conv_in.lora_mid.weight',
        'lora_unet_conv_in.dora_scale',
        'lora_unet_time_embedding_linear_1.diff',
        'lora_unet_time_embedding_linear_1.diff_b',
        'lora_te2_text_model_encoder_layers_0_mlp_fc2.lokr_w1',
        'lora_te2_text_model_encoder_layers_0_mlp_fc2.lokr_w2',
        // Not mappable, each for its own reason:
        'lora_unet_down_blocks_0_attentions_0_proj_in.oft_blocks',
        'lora_unet_down_blocks_0_attentions_0_proj_out.lora_up.weight',
        'lora_transformer_single_blocks_0_linear1.lora_down.weight',
        'lora_unet_down_blocks_0_nonsense_0.lora_down.weight',
        'emb_params',
        'unet:0:up',
        'something_else',
      ];
      const map = mapped(keys);
      const names = byName(map.modules);
      const kinds = Object.fromEntries([...names].map(([name, m]) => [name, m.kind]));
      assert.deepStrictEqual(kinds, {
        'unet:down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k': 'lora',
        'unet:up_blocks.1.attentions.0.proj_in': 'lora',
        'text_encoder:text_model.encoder.layers.3.self_attn.v_proj': 'lora',
        'text_encoder:text_model.encoder.layers.4.self_attn.out_proj': 'lora',
        'text_encoder_2:text_model.encoder.layers.1.mlp.fc1': 'lora',
        'unet:mid_block.resnets.0.conv1': 'loha',
        'unet:conv_in': 'lora',
        'unet:time_embedding.linear_1': 'full',
        'text_encoder_2:text_model.encoder.layers.0.mlp.fc2': 'lokr',
      });
      assert.deepStrictEqual(Object.keys(names.get('unet:conv_in')?.tensors ?? {}).sort(), ['doraScale', 'down', 'mid', 'up']);
      assert.deepStrictEqual(Object.keys(names.get('unet:time_embedding.linear_1')?.tensors ?? {}).sort(), ['diff', 'diffBias']);
      const reasons = Object.fromEntries(map.unmatched.map((u) => [u.key, u.reason]));
      assert.deepStrictEqual(Object.keys(reasons).sort(), keys.slice(23).sort());
      assert.match(reasons['lora_unet_down_blocks_0_attentions_0_proj_in.oft_blocks'], /OFT/);
      assert.match(reasons['lora_unet_down_blocks_0_attentions_0_proj_out.lora_up.weight'], /incomplete lora module/);
      assert.match(reasons['lora_transformer_single_blocks_0_linear1.lora_down.weight'], /unknown kohya prefix/);
      assert.match(reasons['lora_unet_down_blocks_0_nonsense_0.lora_down.weight'], /not a module/);
      assert.match(reasons['emb_params'], /embedding/);
      assert.match(reasons['unet:0:up'], /cloneofsimo/);
      assert.match(reasons['something_else'], /not a LoRA/);
    });

    it('reports the FLUX PEFT manifest as not for this model, key by key', () => {
      for (const file of manifests('flux_')) {
        const keys = Object.keys(readFixture<Record<string, unknown>>(`lora/key_manifests/${file}`));
        const map = mapped(keys);
        assert.strictEqual(map.modules.length, 0);
        assert.strictEqual(map.unmatched.length, keys.length);
      }
    });
  });
});
