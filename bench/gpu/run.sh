#!/bin/bash
# On the device machine (see prepare.sh): the merge bench on the CPU, and the LoRA render bench on WebGPU and
# the CPU, on one generated SD1.5-sized model. A baseline build carried as .gpu/old-out (another commit's `out`)
# runs too, in the same call, for before/after numbers. Logs go to $OUT.
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
if [ -e /dev/nvidia0 ]; then
  # Unpacked into / on the throw-away device machine only: never run this part on your own machine.
  for f in .gpu/*.deb; do dpkg -x "$f" /; done; ldconfig
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
  nvidia-smi -L
fi
mkdir -p /tmp/nodebin && xz -T0 -dc .gpu/node.xz > /tmp/nodebin/node && chmod +x /tmp/nodebin/node
export PATH=/tmp/nodebin:$PATH
rm -rf /tmp/nm && cp -r .gpu/nm /tmp/nm && xz -T0 -dc .gpu/libonnxruntime.so.1.xz > /tmp/nm/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1
export NODE_PATH=/tmp/nm
echo "cores $(nproc); node $(node --version); $(grep MemTotal /proc/meminfo)"
M=${BENCH_MODEL:-/tmp/sd15m}
if [ ! -e $M/unet/model.onnx ]; then
  t=$(date +%s)
  node -e "const g=require('./out/server/src/render/testModel/generateModel'); g.generateTinyPipeline('$M', {...g.SD15_SIZED, tokenizerFrom: '.gpu'})" || exit 1
  echo "generated SD15_SIZED in $(( $(date +%s) - t )) s"
fi
trees=out; [ -d .gpu/old-out ] && trees="out .gpu/old-out"
for tree in $trees; do
  echo "== merge bench ($tree), products on cpu"
  MERGE_BENCH_MODEL=$M timeout 120 node $tree/bench/merge.bench.js 2>&1 | tee -a "$OUT/merge.log"
done
runs="out:webgpu out:cpu"; [ -d .gpu/old-out ] && runs="$runs .gpu/old-out:cpu"
for run in $runs; do
  echo "== LoRA render bench (${run%%:*}) on ${run##*:}"
  LORA_BENCH_MODEL=$M LORA_BENCH_DEVICE=${run##*:} timeout 120 node ${run%%:*}/bench/loraRender.bench.js 2>&1 | tee -a "$OUT/loraRender.log"
done
