#!/usr/bin/env bash
# Train the model on a lent GPU machine (the `device` tool) in one call, from scratch, with
# the one-piece slot symbols (issue 14: the next from-scratch model; issue 15: Markdown
# speed). Three steps, two of them here:
#
#   scripts/gpu.sh pack                   # here: .gpu/ = prepared data, mono-zh, wheels (~30 MB)
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
# peak lr, default 3e-4): a second call that continues the first one's model. STEPS2=N
# stops stage 2 after N updates (if its minutes have not run out first): an experiment arm
# with exactly the updates of the run it is compared with.
#
# DATA, CONFIG1, CONFIG2: the prepared data and the two stages' configs (default
# data/large3, configs/large.yaml, configs/large-everyday.yaml).
#
# Back-translation with a reverse model trained here (issue 14, step 3), two calls:
#   A: `LIMIT=420 bash scripts/gpu.sh bt` (carry .gpu, packed with the monolingual Chinese
#      of .gpu/mono): trains zh-en from scratch on DATA (CONFIG1 read the other way) for
#      half of LIMIT, scores it on FLORES dev zh->en, then back-translates .gpu/mono/*.zh.xz
#      (beam 4, or BT_TOPK=K: top-K sampling; BT_BATCH sentences a batch: 512) in
#      order (Wikipedia whole, then the laws, sampled) in chunks until 95% of LIMIT;
#      returns bt.tar.xz and the reverse model (float16 parts). MONO: the mono-zh sets
#      (`pack` copies them; default "wikipedia laws"; MONO_MAX=N: a random N sentences of
#      each set at most, so that a carried model and the data fit the 64 MiB); INIT=DIR
#      (`pack-init runs/bt/zh-en .init`, carried too): the reverse model goes on from that
#      one instead of from scratch.
#      Here: `scripts/gpu.sh unpack-bt FILES_AT runs/bt`, then
#      `HANYI_BT=runs/bt/bt hanyi prepare configs/large-bt.yaml` (data/large-bt) and
#      `DATA=data/large-bt scripts/gpu.sh pack`.
#   B: `DATA=data/large-bt CONFIG1=configs/large-bt.yaml CONFIG2=configs/large-bt-everyday.yaml
#      LIMIT=500 bash scripts/gpu.sh train`: the two stages from scratch on real + tagged
#      synthetic pairs, against the shipped model's first call (LIMIT=500 on data/large3).
#   or B': what the shipped model's stage 4 did (A and B' fit one session's 15 minutes):
#      `scripts/gpu.sh pack-init MODEL .init` (rm -rf .gpu/mono: not needed), then
#      `DATA=data/large-bt CONFIG2=configs/large-bt-everyday.yaml INIT=.init LR2=2e-4
#      LIMIT=380 bash scripts/gpu.sh train` with carry [".gpu", ".init"]: the model
#      continued on real + tagged synthetic pairs for 75% of LIMIT.
#
# Run `LIMIT=60 DEVICE=cpu bash scripts/gpu.sh train` here to check the script end to end on
# a CPU (minutes of training become seconds; OUT defaults to /tmp/hanyi-gpu-out); for `bt`
# also EVAL_LINES=20 CHUNK=20 (FLORES lines scored, sentences per back-translated chunk).
set -euo pipefail
cd "$(dirname "$0")/.."
step=${1:?usage: scripts/gpu.sh pack | pack-init MODEL DIR | train | bt | unpack FILES_AT RUN | unpack-bt FILES_AT RUN}
data=${DATA:-data/large3} config1=${CONFIG1:-configs/large.yaml}
config2=${CONFIG2:-configs/large-everyday.yaml}
# back-translated in this order (CCTV news: study use only); MONO="laws docs-debian" e.g.
mono_sets=${MONO:-wikipedia laws}
binary="opencc==1.4.2 sentencex==1.0.32" pure="polib==1.2.0 srt==3.5.3"

pack() {
  local hanyi=${HANYI:-hanyi}
  if [ ! -f "$data/stats.json" ]; then
    [ "$data" = data/large3 ] || { echo "gpu.sh pack: $data is not prepared" >&2; exit 2; }
    "$hanyi" prepare configs/large-slots.yaml
  fi
  rm -rf .gpu && mkdir -p .gpu/whl .gpu/shared
  grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> .git/info/exclude
  cp -r ../shared/data/dev-general .gpu/shared/
  mkdir -p .gpu/mono
  for set in $mono_sets; do
    if [ -n "${MONO_MAX:-}" ]; then  # a sample, the same one every time (a fixed random source)
      xz -dc "../shared/data/mono-zh/$set/sentences.zh.xz" \
        | shuf -n "$MONO_MAX" --random-source=<(yes) | xz -T0 > ".gpu/mono/$set.zh.xz"
    else
      cp "../shared/data/mono-zh/$set/sentences.zh.xz" ".gpu/mono/$set.zh.xz"
    fi
  done
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

setup() {  # there: the carried wheels and data; OUT and RUNS made empty; `common`: what
  # every training run here is given (the caller declares it local)
  common=(--device "$device" --set "data.dir=$data" --set data.root=.gpu/shared
          --set tokenizer.slot_symbols=true --set train.tf32=true
          --set train.eval_every=100000 --set train.dev_bleu_sentences=200)
  mkdir -p "$out" && rm -rf "$runs"
  if [ "$device" != cpu ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
      --target /tmp/site .gpu/whl/*.whl
    export PYTHONPATH=/tmp/site:src
    tar -xJf .gpu/data.tar.xz
    nvidia-smi --query-gpu=name,memory.total --format=csv | tee "$out/gpu.txt"
  fi
}

unpack_init() {  # a carried model's weights may come xz-compressed (42 MB of float16
  # weights and the data do not fit the 64 MiB that travels; compressed they do):
  # `pack-init MODEL DIR` here
  if [ -f "${INIT:-}/model.safetensors.xz" ]; then xz -dT0 "$INIT/model.safetensors.xz"; fi
}

half() {  # the model in $1 as float16 (as a release stores it), in parts of 15 MiB: $2.tar.partNN
  "$py" - "$1" "$runs/half" <<'EOF'
import sys, torch
from pathlib import Path
from hanyi.checkpoint import load_model_dir, write_model_files
m = load_model_dir(sys.argv[1])
out = Path(sys.argv[2]); out.mkdir(parents=True)
write_model_files(out, m.model, m.config, m.src_vocab, m.tgt_vocab, m.meta,
                  weights_dtype=torch.float16)
EOF
  tar -cf - -C "$runs" half | split -b 15M -d - "$2.tar.part"
  rm -rf "$runs/half"
}

train() {
  local limit=${LIMIT:-500} device=${DEVICE:-cuda} out=${OUT:-/tmp/hanyi-gpu-out}
  local start=$SECONDS runs=${RUNS:-/tmp/hanyi-gpu-runs} common
  setup
  local py=${PYTHON:-python3} s1=$((limit * 62 / 100)) s2=$((limit * 24 / 100))
  # INIT=<carried model dir>: no stage 1; stage 2 goes on from that model for 75% of LIMIT
  # (e.g. a model an earlier call brought back, carried beside .gpu)
  if [ -n "${INIT:-}" ]; then s1=0 s2=$((limit * 75 / 100)); fi
  unpack_init
  # stage 1: from scratch; minutes in the config are what the train loop may spend
  [ "$s1" -gt 0 ] && "$py" -m hanyi train "$config1" --out "$runs/stage1" "${common[@]}" \
    --set "train.max_minutes=$(python3 -c "print($s1 / 60)")" --set train.save_every=500 \
    2>&1 | tr '\r' '\n' | grep -v 'step \[' | tee "$out/stage1.log"
  # stage 2: the everyday mix, from stage 1's average (its best with one checkpoint only)
  local init=${INIT:-$runs/stage1/averaged}
  [ -d "$init" ] || init=$runs/stage1/best
  "$py" -m hanyi train "$config2" --out "$runs/stage2" "${common[@]}" \
    --set "train.init_from=$init" --set train.max_tokens=12000 --set "train.lr=${LR2:-3e-4}" \
    --set "train.max_minutes=$(python3 -c "print($s2 / 60)")" --set train.save_every=150 \
    ${STEPS2:+--set "train.max_steps=$STEPS2"} \
    2>&1 | tr '\r' '\n' | grep -v 'step \[' | tee "$out/stage2.log"
  # float16, as a release stores it, in parts that come back
  local final=$runs/stage2/averaged
  [ -d "$final" ] || final=$runs/stage2/best
  half "$final" "$out/model"
  echo "gpu.sh train: done in $((SECONDS - start)) s; $(ls "$out" | tr '\n' ' ')"
}

bt() {
  local limit=${LIMIT:-420} device=${DEVICE:-cuda} out=${OUT:-/tmp/hanyi-gpu-out}
  local start=$SECONDS runs=${RUNS:-/tmp/hanyi-gpu-runs} py=${PYTHON:-python3} common
  setup
  # the reverse model: stage 1's recipe, Chinese -> English, from scratch or (INIT=DIR, a
  # reverse model carried along) on from DIR
  local from=()
  if [ -n "${INIT:-}" ]; then unpack_init; from=(--set "train.init_from=$INIT"); fi
  "$py" -m hanyi train "$config1" --out "$runs/zh-en" "${common[@]}" "${from[@]}" \
    --set direction=zh-en \
    --set "train.max_minutes=$(python3 -c "print($limit * 50 / 100 / 60)")" \
    --set train.save_every=500 \
    2>&1 | tr '\r' '\n' | grep -v 'step \[' | tee "$out/zh-en.log"
  local model=$runs/zh-en/averaged
  [ -d "$model" ] || model=$runs/zh-en/best
  local flores=.gpu/shared/dev-general/flores-dev n=${EVAL_LINES:-997}  # fewer: a CPU check
  head -n "$n" "$flores/dev.zh" > "$runs/flores.zh" && head -n "$n" "$flores/dev.en" > "$runs/flores.en"
  "$py" -m hanyi evaluate --model "$model" --engine torch --device "$device" --by-length \
    --src "$runs/flores.zh" --ref "$runs/flores.en" 2>&1 | tee "$out/zh-en-flores.txt"
  # back-translate until 95% of LIMIT (a chunk at a time: what is done stays done)
  mkdir -p "$runs/bt"
  "$py" - "$model" "$device" "$runs/bt" $((start + limit * 95 / 100 - SECONDS)) "${CHUNK:-4000}" \
    "${BT_BATCH:-512}" "${BT_TOPK:-}" $mono_sets \
    2>&1 <<'EOF' | tee "$out/bt.log"
import lzma, random, sys, time
from pathlib import Path
from hanyi.inference import Translator
model, device, folder, seconds = sys.argv[1], sys.argv[2], Path(sys.argv[3]), float(sys.argv[4])
size, batch, topk, sets = int(sys.argv[5]), int(sys.argv[6]), sys.argv[7], sys.argv[8:]
# BT_TOPK=K: greedy search drawing from the K most probable tokens (0: from all), seed 1
sample = ["decode.beam_size=1", f"decode.sampling_topk={topk}", "decode.sampling_seed=1"]
deadline = time.monotonic() + seconds
t = Translator.load(model, device=device, engine="torch",
                    overrides=[f"decode.batch_size={batch}", *(sample if topk else [])])
for name in sets:
    lines = lzma.open(f".gpu/mono/{name}.zh.xz", "rt", encoding="utf-8").read().splitlines()
    random.Random(1).shuffle(lines)  # a sample, if time runs out, not the file's first part
    done = 0
    with open(folder / f"{name}.zh", "w", encoding="utf-8") as zh, \
         open(folder / f"{name}.en", "w", encoding="utf-8") as en:
        for i in range(0, len(lines), size):
            if time.monotonic() > deadline:
                break
            chunk = lines[i:i + size]
            out = t.translate(chunk)
            zh.writelines(s + "\n" for s in chunk)
            en.writelines(o.text.replace("\n", " ") + "\n" for o in out)
            done += len(chunk)
    print(f"{name}: {done} of {len(lines)} sentences back-translated", flush=True)
EOF
  tar -cJf "$out/bt.tar.xz" -C "$runs" bt
  half "$model" "$out/zh-en"
  echo "gpu.sh bt: done in $((SECONDS - start)) s; $(ls "$out" | tr '\n' ' ')"
}

unpack_bt() {
  local files=${1:?usage: scripts/gpu.sh unpack-bt FILES_AT RUN} run=${2:?RUN folder}
  mkdir -p "$run"
  tar -xJf "$files/bt.tar.xz" -C "$run"
  cat "$files"/zh-en.tar.part* | tar -xf - -C "$run"
  rm -rf "$run/zh-en" && mv "$run/half" "$run/zh-en"
  cp "$files"/*.log "$files"/*.txt "$run/" 2>/dev/null || true
  echo "gpu.sh: $run/bt (NAME.zh, NAME.en) and $run/zh-en; next:" \
       "HANYI_BT=$run/bt hanyi prepare configs/large-bt.yaml"
}

pack_init() {  # here: MODEL (a model folder) copied to DIR for INIT=DIR, weights xz-compressed
  local model=${1:?usage: scripts/gpu.sh pack-init MODEL DIR} dir=${2:?DIR}
  rm -rf "$dir" && mkdir -p "$dir"
  cp "$model"/{config.yaml,meta.json,src.model,tgt.model} "$dir/"
  xz -T0 -c "$model/model.safetensors" > "$dir/model.safetensors.xz"
  grep -qx "/$dir/" .git/info/exclude 2>/dev/null || echo "/$dir/" >> .git/info/exclude
  du -sh "$dir"
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
  bt) bt ;;
  unpack) shift; unpack "$@" ;;
  unpack-bt) shift; unpack_bt "$@" ;;
  pack-init) shift; pack_init "$@" ;;
  *) echo "scripts/gpu.sh: unknown step $step (pack, pack-init, train, bt, unpack or unpack-bt)" >&2; exit 2 ;;
esac
