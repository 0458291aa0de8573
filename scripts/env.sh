# Source this file (`. scripts/env.sh`) to run Tacit, its tests, kcat or the broker from this checkout.
#
# It puts .tools/lib first on LD_LIBRARY_PATH: that folder holds librdkafka 2.16 (fetched by
# scripts/setup.sh from the confluent-kafka wheel) as librdkafka.so.1. Debian's librdkafka 2.0.2
# cannot talk to the Tansu test broker (ApiVersion handshake fails); 2.16 is ABI-compatible within
# the .so.1 soname, so binaries linked against the system library pick the newer one up at run time.
# Production against Apache Kafka does not need this.
_tacit_root="$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/.." && pwd)"
export TACIT_ROOT="$_tacit_root"
case ":${LD_LIBRARY_PATH:-}:" in
  ":$_tacit_root/.tools/lib:"*) ;;   # already first
  *) export LD_LIBRARY_PATH="$_tacit_root/.tools/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" ;;
esac
export PATH="$_tacit_root/.tools/bin:$PATH"
unset _tacit_root
