#!/usr/bin/env bash
# One-step set-up for a fresh Debian machine: installs missing packages, builds, then runs
#   ./setup.sh demo       the main demo (GPT-2 XL training on an H100)
#   ./setup.sh test       the test suite (Release build)
#   ./setup.sh sanitize   the test suite under AddressSanitizer + UndefinedBehaviorSanitizer
#   ./setup.sh bench      the simulator's speed benchmark
#   ./setup.sh fuzz [min] the input fuzz harness for [min] minutes (default 10; docs/robustness.md)
set -euo pipefail
cd "$(dirname "$0")"
mode=${1:-demo}
jobs=$(nproc 2>/dev/null || echo 2)

packages=(cmake g++ make pkg-config libsystemc-dev libboost-graph-dev libyaml-cpp-dev libfmt-dev
          catch2 libcli11-dev nlohmann-json3-dev python3)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

build() {  # build <dir> <target> <cmake args...>
  local dir=$1 target=$2
  shift 2
  cmake -S . -B "$dir" "$@" >/dev/null
  cmake --build "$dir" -j "$jobs" --target "$target"
}

case "$mode" in
  demo)
    build build orrery -DCMAKE_BUILD_TYPE=Release  # the CLI only, not the test suite
    ./build/orrery run --system h100-sxm --workload examples/gpt2-xl-training/train.yaml \
      --report build/demo-report.json --trace build/demo-trace.json
    echo "report: build/demo-report.json   trace (open in ui.perfetto.dev): build/demo-trace.json"
    ;;
  test)
    build build all -DCMAKE_BUILD_TYPE=Release
    ctest --test-dir build --output-on-failure -j "$jobs"
    ;;
  sanitize)
    build build-asan all -DCMAKE_BUILD_TYPE=RelWithDebInfo -DORRERY_SANITIZE=ON
    ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
      ctest --test-dir build-asan --output-on-failure -j "$jobs"
    ;;
  bench)
    build build orrery -DCMAKE_BUILD_TYPE=Release
    ./build/orrery bench
    ;;
  fuzz)
    build build orrery -DCMAKE_BUILD_TYPE=Release
    # Runs the sanitizer build too when build-asan/orrery exists (./setup.sh sanitize builds it).
    python3 tools/fuzz/fuzz.py --minutes "${2:-10}" --jobs "$jobs" --seed "$(date +%s)"
    ;;
  *)
    echo "usage: $0 demo|test|sanitize|bench|fuzz [minutes]" >&2
    exit 2
    ;;
esac
