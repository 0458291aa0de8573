# Shared by the measurement scripts (measure-ingest.sh, soak.sh): builds the release `tacit` into
# TACIT_SCRATCH (default .build), sets `bin` to it, sources env.sh, and defines `free_port`.
# Source it from the checkout's root.
scratch="${TACIT_SCRATCH:-.build}"
swift build -c release --scratch-path "$scratch" --product tacit >/dev/null
bin="$PWD/$scratch/release/tacit"
. scripts/env.sh
port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() { local p=$(( 20000 + RANDOM % 20000 )); while port_taken "$p"; do p=$(( 20000 + RANDOM % 20000 )); done; echo "$p"; }
