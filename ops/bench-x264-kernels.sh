#!/usr/bin/env bash
# What holding libx264 to its AVX2 kernels costs (VideoWriter does, since session 25: its AVX-512 kernels read
# memory they never wrote, so the bytes depended on the heap). Encodes the same raw 1920x1080 frames with the
# ffmpeg command line, x264 choosing its kernels against `-x264-params asm=AVX2`, alternately, back to back,
# and prints each side's median wall and CPU seconds and their ratio. Usage: ops/bench-x264-kernels.sh [pairs]
set -euo pipefail
pairs=${1:-5}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
echo "==> 48 raw 1920x1080 frames (ffmpeg testsrc2 with noise) in $scratch"
ffmpeg -v error -f lavfi -i "testsrc2=size=1920x1080:rate=24,noise=alls=12:allf=t" -frames:v 48 -pix_fmt rgb24 -f rawvideo "$scratch/raw.rgb"
encode() {  # $1 = label, rest = extra x264 arguments; prints "wall cpu"
  local label=$1; shift
  /usr/bin/time -f "%e %U %S" -o "$scratch/time" ffmpeg -v error -nostdin -y -f rawvideo -pix_fmt rgb24 -s 1920x1080 -r 24 \
    -i "$scratch/raw.rgb" -c:v libx264 -preset medium -crf 18 -pix_fmt yuv420p -threads 2 "$@" "$scratch/$label.mp4"
  awk '{ printf "%.2f %.2f\n", $1, $2 + $3 }' "$scratch/time"
}
: > "$scratch/auto"; : > "$scratch/avx2"
for i in $(seq "$pairs"); do
  if (( i % 2 )); then encode auto >> "$scratch/auto"; encode avx2 -x264-params asm=AVX2 >> "$scratch/avx2"
  else encode avx2 -x264-params asm=AVX2 >> "$scratch/avx2"; encode auto >> "$scratch/auto"; fi
  echo "    pair $i/$pairs: x264's choice $(tail -1 "$scratch/auto") | AVX2 $(tail -1 "$scratch/avx2") (wall s, CPU s)"
done
python3 - "$scratch" <<'PY'
import statistics, sys
d = sys.argv[1]
rows = {k: [tuple(map(float, l.split())) for l in open(f"{d}/{k}")] for k in ("auto", "avx2")}
med = {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v)) for k, v in rows.items()}
print(f"x264's own choice: median {med['auto'][0]:.2f} s wall, {med['auto'][1]:.2f} s CPU")
print(f"asm=AVX2:          median {med['avx2'][0]:.2f} s wall, {med['avx2'][1]:.2f} s CPU")
print(f"AVX2 / own choice: wall {med['avx2'][0] / med['auto'][0]:.3f}, CPU {med['avx2'][1] / med['auto'][1]:.3f}")
PY
echo "last files: x264's choice $(stat -c %s "$scratch/auto.mp4") bytes, AVX2 $(stat -c %s "$scratch/avx2.mp4") bytes"
