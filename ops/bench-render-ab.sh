#!/usr/bin/env bash
# Renders the same prompt with two models, alternated, and prints each render's stage times and peak RSS:
#   ops/bench-render-ab.sh BASELINE_MODEL CANDIDATE_MODEL [ROUNDS] [DURATION]
# Each model folder holds dit.* and vae.* (as models/default does; an older one can be taken out of git with
# `git show REV:models/default/FILE`). Needs a release build; run it on a quiet machine and compare medians.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -lt 2 ]; then
  echo "usage: $0 BASELINE_MODEL CANDIDATE_MODEL [ROUNDS] [DURATION]" >&2
  exit 2
fi
baseline=$1 candidate=$2 rounds=${3:-2} duration=${4:-5}
tessera=.build/release/tessera
[ -x "$tessera" ] || { echo "$tessera is missing: run swift build -c release first" >&2; exit 2; }
for model in "$baseline" "$candidate"; do
  for file in dit.json dit.safetensors vae.json vae.safetensors; do
    [ -f "$model/$file" ] || { echo "$model/$file is missing: a model folder holds dit.* and vae.*" >&2; exit 2; }
  done
done

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for round in $(seq 1 "$rounds"); do
  for model in "$baseline" "$candidate"; do
    echo "==> round $round, $model ($(date +%T))"
    if ! /usr/bin/time -f "wall %e s, peak RSS %M KB" "$tessera" render "a red ball bouncing" --out "$out/video.mp4" \
      --duration "$duration" --seed 100 --dit "$model" --vae "$model" > "$out/log" 2>&1; then
      tr '\r' '\n' < "$out/log" | tail -5 >&2
      echo "the render with $model failed" >&2
      exit 1
    fi
    tr '\r' '\n' < "$out/log" | grep -E "^(full_decode|wall)"
  done
done
