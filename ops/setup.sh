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

if ! command -v swift >/dev/null 2>&1; then
  echo "error: swift is not on PATH; Tessera needs Swift 6 (this machine kind ships it under /opt/swift)" >&2
  exit 1
fi
say "toolchain: $(swift --version 2>&1 | head -1)"
