#!/usr/bin/env bash
# Back-translation (issue 14, step 3): monolingual Chinese -> synthetic English with a zh-en
# model, written as `format: parallel` sources (OUT/NAME.en, OUT/NAME.zh) for configs/bt.yaml
# (which finds them through $HANYI_BT=OUT). Tagged back-translation (Caswell et al. 2019):
# those sources have `synthetic: true`, so their English gets a tag in front when training.
#
#   scripts/backtranslate.sh MODEL OUT [SENTENCES_PER_SET] [BEAM] [SETS...]
#
# MODEL: a zh-en model directory or its CTranslate2 export (fastest: hanyi export
# --quantization int8). BEAM 1 (greedy) is ~3.5x faster than beam 4 on 2 CPU cores
# (measured: 21 vs 6 sentences/s on one core with an early zh-en model, whose long looping
# outputs make beam search slower still). $HANYI names the hanyi command (default: hanyi). Each set of ../shared/data/mono-zh is sampled reproducibly
# (shuf with a fixed random source); a set smaller than SENTENCES_PER_SET is used whole.
# Output lines that the model passed through (not English) are dropped later by `prepare`
# (filter "not_english").
set -euo pipefail
model=${1:?usage: scripts/backtranslate.sh MODEL OUT [N] [BEAM] [SETS...]}
out=${2:?usage: scripts/backtranslate.sh MODEL OUT [N] [BEAM] [SETS...]}
n=${3:-40000}
beam=${4:-4}
shift $(( $# < 4 ? $# : 4 ))
sets=("$@")
[ ${#sets[@]} -gt 0 ] || sets=(wikipedia laws docs-debian)
data=${HANYI_DATA:-$(dirname "$0")/../../shared/data}
hanyi=${HANYI:-hanyi}
mkdir -p "$out"
for set in "${sets[@]}"; do
  src="$data/mono-zh/$set/sentences.zh.xz"
  [ -f "$src" ] || { echo "backtranslate: $src not found" >&2; exit 2; }
  xzcat "$src" | shuf -n "$n" --random-source=<(yes) > "$out/$set.zh"
  echo "$set: $(wc -l < "$out/$set.zh") sentences -> $out/$set.en (beam $beam)" >&2
  start=$(date +%s)
  "$hanyi" translate --model "$model" -i "$out/$set.zh" -o "$out/$set.en" --beam "$beam"
  echo "$set: $(( $(date +%s) - start )) s" >&2
done
