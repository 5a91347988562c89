#!/usr/bin/env bash
# Train the model on a lent GPU machine (the `device` tool) in one call, from scratch, with
# the one-piece slot symbols (issue 14: the next from-scratch model; issue 15: Markdown
# speed). Three steps, two of them here:
#
#   scripts/gpu.sh pack                   # here: .gpu/ = prepared data + wheels (~25 MB)
#   mv models/hanyi-en-zh /tmp/hanyi-shipped   # the tree that travels must be < 64 MiB
#   device run: command="LIMIT=500 bash scripts/gpu.sh train", carry=[".gpu"], timeout_s=575
#   mv /tmp/hanyi-shipped models/hanyi-en-zh
#   scripts/gpu.sh unpack FILES_AT runs/gpu   # here: the averaged model, float16
#
# `train` (there) installs the carried wheels, unpacks the data, trains stage 1
# (configs/large.yaml: every source, 12k-token batches, peak lr 1e-3) for 62% of LIMIT
# seconds and stage 2 (configs/large-everyday.yaml from stage 1's average: everyday sources
# up-weighted, 12k-token batches, peak lr 3e-4) for 24%, both fp32 with TF32 matmuls (bf16
# autocast measured ~7x slower there, docs/RESULTS.md "7th session"), and writes stage 2's
# average as float16 in parts of 15 MiB (what comes back: at most 8 files of 16 MiB) with
# both training logs. The data is data/large3: data/large's splits with the shipped
# vocabularies plus the 99 slot numbers as one piece each (configs/large-slots.yaml).
# Then, here: `hanyi export --format release --model runs/gpu/model --out DIR`,
# `hanyi evaluate --config configs/large-everyday.yaml --model DIR --by-length`, and
# bench/glossary.py + bench/document_speed.py before anything ships.
#
# INIT=DIR (a model carried along) skips stage 1 and trains stage 2 on from DIR (LR2: its
# peak lr, default 3e-4): a second call that continues the first one's model.
#
# Run `LIMIT=60 DEVICE=cpu bash scripts/gpu.sh train` here to check the script end to end
# on a CPU (minutes of training become seconds; OUT defaults to /tmp/hanyi-gpu-out).
set -euo pipefail
cd "$(dirname "$0")/.."
step=${1:?usage: scripts/gpu.sh pack | train | unpack FILES_AT RUN}
data=data/large3
binary="opencc==1.4.2 sentencex==1.0.32" pure="polib==1.2.0 srt==3.5.3"

pack() {
  local hanyi=${HANYI:-hanyi}
  [ -f "$data/stats.json" ] || "$hanyi" prepare configs/large-slots.yaml
  rm -rf .gpu && mkdir -p .gpu/whl .gpu/shared
  grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> .git/info/exclude
  cp -r ../shared/data/dev-general .gpu/shared/
  tar -cJf .gpu/data.tar.xz "$data"/{src.model,tgt.model,dev.*,test.*,stats.json,shards}
  # the packages hanyi needs that the GPU image lacks (/work/.library/device/KINDS.md):
  # OpenCC and sentencex are compiled (wheels for the image's Python 3.12), the rest pure Python
  # shellcheck disable=SC2086
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 -d .gpu/whl $binary
  # shellcheck disable=SC2086
  python3 -m pip wheel -q --no-deps -w .gpu/whl $pure
  du -sh .gpu
}

train() {
  local limit=${LIMIT:-500} device=${DEVICE:-cuda} out=${OUT:-/tmp/hanyi-gpu-out}
  local start=$SECONDS runs=${RUNS:-/tmp/hanyi-gpu-runs}
  mkdir -p "$out" && rm -rf "$runs"
  if [ "$device" != cpu ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
      --target /tmp/site .gpu/whl/*.whl
    export PYTHONPATH=/tmp/site:src
    tar -xJf .gpu/data.tar.xz
    nvidia-smi --query-gpu=name,memory.total --format=csv | tee "$out/gpu.txt"
  fi
  local py=${PYTHON:-python3} s1=$((limit * 62 / 100)) s2=$((limit * 24 / 100))
  local common=(--device "$device" --set "data.dir=$data" --set data.root=.gpu/shared
                --set tokenizer.slot_symbols=true --set train.tf32=true)
  # INIT=<carried model dir>: no stage 1; stage 2 goes on from that model for 75% of LIMIT
  # (e.g. a model an earlier call brought back, carried beside .gpu)
  if [ -n "${INIT:-}" ]; then s1=0 s2=$((limit * 75 / 100)); fi
  # stage 1: from scratch; minutes in the config are what the train loop may spend
  [ "$s1" -gt 0 ] && "$py" -m hanyi train configs/large.yaml --out "$runs/stage1" "${common[@]}" \
    --set "train.max_minutes=$(python3 -c "print($s1 / 60)")" --set train.save_every=500 \
    --set train.eval_every=100000 --set train.dev_bleu_sentences=200 \
    2>&1 | tr '\r' '\n' | grep -v 'step \[' | tee "$out/stage1.log"
  # stage 2: the everyday mix, from stage 1's average (its best with one checkpoint only)
  local init=${INIT:-$runs/stage1/averaged}
  [ -d "$init" ] || init=$runs/stage1/best
  "$py" -m hanyi train configs/large-everyday.yaml --out "$runs/stage2" "${common[@]}" \
    --set "train.init_from=$init" --set train.max_tokens=12000 --set "train.lr=${LR2:-3e-4}" \
    --set "train.max_minutes=$(python3 -c "print($s2 / 60)")" --set train.save_every=150 \
    --set train.eval_every=100000 --set train.dev_bleu_sentences=200 \
    2>&1 | tr '\r' '\n' | grep -v 'step \[' | tee "$out/stage2.log"
  # float16, as a release stores it, in parts that come back
  local final=$runs/stage2/averaged
  [ -d "$final" ] || final=$runs/stage2/best
  "$py" - "$final" "$runs/half" <<'EOF'
import sys, torch
from pathlib import Path
from hanyi.checkpoint import load_model_dir, write_model_files
m = load_model_dir(sys.argv[1])
out = Path(sys.argv[2]); out.mkdir(parents=True)
write_model_files(out, m.model, m.config, m.src_vocab, m.tgt_vocab, m.meta,
                  weights_dtype=torch.float16)
EOF
  tar -cf - -C "$runs" half | split -b 15M -d - "$out/model.tar.part"
  echo "gpu.sh train: done in $((SECONDS - start)) s; $(ls "$out" | tr '\n' ' ')"
}

unpack() {
  local files=${1:?usage: scripts/gpu.sh unpack FILES_AT RUN} run=${2:?RUN folder}
  mkdir -p "$run"
  cat "$files"/model.tar.part* | tar -xf - -C "$run"
  rm -rf "$run/model" && mv "$run/half" "$run/model"
  cp "$files"/*.log "$files"/gpu.txt "$run/" 2>/dev/null || true
  echo "gpu.sh: $run/model; next: hanyi export --format release --model $run/model --out DIR"
}

case $step in
  pack) pack ;;
  train) train ;;
  unpack) shift; unpack "$@" ;;
  *) echo "scripts/gpu.sh: unknown step $step (pack, train or unpack)" >&2; exit 2 ;;
esac
