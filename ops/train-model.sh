#!/usr/bin/env bash
# Trains the default model from scratch on this machine, as docs/MODEL.md describes, and writes it to
# models/default: the VAE (its decoder splitting channels into new frames), then the DiT on the float16 VAE's
# latents, then the float16 export and the measurements. Every stage resumes from its checkpoint when run again
# (kill it at any moment). Budgets in minutes: VAE_MINUTES (60), DIT_MINUTES (97) and IMAGE_MINUTES (23, the
# DiT's fine-tune on still images), three hours in all. Step counts were sized on the hosts of sessions 11–19
# (VAE 58–83 minutes, DiT 78–90, images 23); on a slower host a stage stops at its budget with a checkpoint, a
# little short of its steps. RUNS names the folder of the runs (runs/, git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '==> %s\n' "$*"; }
runs=${RUNS:-runs}
threads=$(nproc)

ops/setup.sh
say "building (release)"
swift build -c release >/dev/null
tessera=.build/release/tessera

say "training the VAE in $runs/vae (${VAE_MINUTES:-60} minutes at most)"
$tessera train vae --preset world --temporal-upsampling split --out "$runs/vae" --steps 16000 --batch 2 --crop 96 \
  --learning-rate 3e-4 --kl-weight 1e-4 --checkpoint-every 200 --minutes "${VAE_MINUTES:-60}" --threads "$threads"
$tessera train eval-vae --vae "$runs/vae" --clips 12 --frames 9 --sheet "$runs/vae/reconstruction.png" --threads "$threads"

say "exporting the VAE to $runs/vae-f16 (float16), the one the DiT learns and models/default ships"
$tessera train export --vae "$runs/vae" --out "$runs/vae-f16"

say "training the DiT in $runs/dit on the VAE's latents (${DIT_MINUTES:-97} minutes at most)"
$tessera train dit --vae "$runs/vae-f16" --out "$runs/dit" --steps 2450 --batch 8 --reuse 4 --frames 1,1,1,5,9,17,33 \
  --factorized-share 0.25 --learning-rate 5e-4 --checkpoint-every 20 --minutes "${DIT_MINUTES:-97}" --threads "$threads"

say "exporting the DiT and VAE to $runs/base (float16), the start of the fine-tune"
$tessera train export --dit "$runs/dit" --vae "$runs/vae-f16" --out "$runs/base"

say "fine-tuning the DiT on still images in $runs/dit-images (${IMAGE_MINUTES:-23} minutes at most)"
$tessera train dit --vae "$runs/base" --init "$runs/base" --out "$runs/dit-images" --steps 2600 --batch 8 --reuse 4 \
  --frames 1 --learning-rate 2e-4 --checkpoint-every 50 --minutes "${IMAGE_MINUTES:-23}" --threads "$threads"

say "exporting models/default (float16)"
$tessera train export --dit "$runs/dit-images" --vae "$runs/base" --out models/default

say "the DiT's loss with and without the caption on held-out clips"
$tessera train eval-dit --dit models/default --vae models/default --clips 12 --sheet "$runs/dit/estimates.png" --threads "$threads"

say "prompt adherence on eval/prompts.jsonl"
$tessera train eval-prompts --dit models/default --vae models/default --out "$runs/eval" --sheet "$runs/eval/prompts.png" --threads "$threads"
