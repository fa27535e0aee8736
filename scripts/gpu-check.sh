#!/bin/bash
# One command for a lent GPU machine (docs/benchmarks.md, "On a GPU machine"): what it needs is
# built here, carried there in one folder, and run there in one call.
#
#   scripts/gpu-check.sh prepare [DIR [BUILD]]
#                                        here: build the GPU tests, the benchmark and every
#                                        kernel's CUDA variant for Hopper (sm_90/sm_90a + PTX,
#                                        plus each older path a test forces), staged in DIR
#                                        (default gpu-check/, git-ignored), from the build tree
#                                        BUILD (default build/, configured when missing)
#   scripts/gpu-check.sh run [DIR]       there, from DIR alone: the GPU, driver and clocks; every
#                                        GPU test (a skip is a failure); a compute-sanitizer
#                                        subset; every kernel benchmark (JSON); one summary line
#                                        per kernel. Results go to $OUT when set, else DIR/results.
#
# Without a CUDA device, `run` fails with "no CUDA device" (never a pass).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
mode=${1:-}
# The staged copy (DIR/scripts/gpu-check.sh) defaults to its own folder.
default_stage=$root/gpu-check
[ -f "$root/manifest.txt" ] && default_stage=$root
stage=$(realpath -m "${2:-$default_stage}")
variant=kget1-cu130-x86_64-linux

usage() {
  echo "usage: $0 prepare|run [DIR]" >&2
  exit 2
}

# ---------------------------------------------------------------------------------------------
# prepare (this machine: the toolchain, no GPU needed)

# Copies an executable without its debug information, with the shared libraries it needs that a
# machine with glibc and libstdc++ may lack (Google Benchmark, ...).
stage_program() {
  local program=$1 library
  strip --strip-debug -o "$stage/bin/$(basename "$program")" "$program"
  while read -r library; do
    case "$(basename "$library")" in
    libc.so.* | libm.so.* | libstdc++.so.* | libgcc_s.so.* | libdl.so.* | libpthread.so.* | \
      librt.so.* | ld-linux*) ;;
    *) cp -L "$library" "$stage/lib/system/" ;;
    esac
  done < <(ldd "$program" | awk '/=> \// { print $3 }')
}

# kget build of one kernel's CUDA variant for the given capabilities; the library into
# DIR/lib/cuda/.
stage_variant() {
  local name=$1 dir=$2 arch=$3
  local out="$build/gpu-check-variants/$name"
  echo "== kget build $dir --cuda-arch $arch"
  "$build/cli/kget" build "$dir" --matrix "$root/kernels/matrix.toml" --variant "$variant" \
    --cuda-arch "$arch" --out "$out" \
    --deps "$build/deps" || return 1
  cp "$out/build/$variant/lib$name.so" "$out/build/$variant/metadata.json" "$stage/lib/cuda/" &&
    mv "$stage/lib/cuda/metadata.json" "$stage/lib/cuda/$name.metadata.json"
}

prepare() {
  build=$(realpath -m "${1:-$root/build}")
  "$root/scripts/install-deps.sh" || return 1
  if [ ! -f "$build/build.ninja" ]; then
    cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo || return 1
  fi
  cmake --build "$build" -j "$(nproc)" --target kget_cli test_kernels_gpu \
    test_kernels_cutlass_groups bench_kernels_gpu kget_kernel_rmsnorm kget_kernel_activation ||
    return 1
  rm -rf "$stage"
  mkdir -p "$stage/bin" "$stage/lib/cpu" "$stage/lib/cuda" "$stage/lib/system" || return 1

  # Every kernel of kernels/ with a CUDA backend, for Hopper only: the one-list kernels get
  # sm_90 + compute_90, grouped ones every group with a 9.0 capability.
  local toml name
  for toml in "$root"/kernels/*/build.toml; do
    grep -Eq '^backends = .*"cuda"' "$toml" || continue
    name=$(sed -n 's/^name = "\(.*\)".*/\1/p' "$toml" | head -n 1)
    stage_variant "$name" "$(dirname "$toml")" 9.0 || return 1
  done
  # The groups test kernel with its sm_80 path too: its compute_80 PTX is what the forced
  # KGET_KERNEL_CUDA_PATH=sm80 run executes on a Hopper GPU.
  stage_variant cutlass_groups "$root/tests/build/cutlass_groups" 8.0,9.0 || return 1

  cp "$build/kernels/rmsnorm/librmsnorm.so" "$build/kernels/activation/libactivation.so" \
    "$stage/lib/cpu/" || return 1
  stage_program "$build/tests/kernels/test_kernels_gpu" || return 1
  stage_program "$build/tests/kernels/test_kernels_cutlass_groups" || return 1
  stage_program "$build/bench/bench_kernels_gpu" || return 1
  mkdir -p "$stage/scripts"
  cp "$0" "$stage/scripts/gpu-check.sh"
  { echo "commit $(git -C "$root" rev-parse HEAD 2>/dev/null)$(git -C "$root" diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')"
    echo "prepared $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -n)"
    (cd "$stage" && find . -type f ! -name manifest.txt -printf '%s\t%p\n' | sort -k2); } \
    >"$stage/manifest.txt"
  echo "== staged $(du -sh "$stage" | cut -f1) in $stage (limit of a carried folder: 64 MiB)"
  echo "carry it and run: scripts/gpu-check.sh run ${stage#"$root"/}"
}

# ---------------------------------------------------------------------------------------------
# run (the GPU machine: only DIR and its own tools)

results=""
failures=0
summary=()

note_failure() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

# gtest JSON -> "passed failed skipped"; a missing or unreadable file counts as one failure.
count_results() {
  python3 - "$1" <<'PY'
import json, sys
try:
    doc = json.load(open(sys.argv[1]))
except Exception:
    print(0, 1, 0)
    sys.exit()
passed = failed = skipped = 0
for suite in doc.get("testsuites", []):
    for test in suite.get("testsuite", []):
        if test.get("result") == "SKIPPED" or test.get("status") == "NOTRUN":
            skipped += 1
        elif test.get("failures"):
            failed += 1
        else:
            passed += 1
print(passed, failed, skipped)
PY
}

# run_tests LABEL [ENV=VALUE...] -- PROGRAM ARGS...: one gtest run, its JSON under results/.
run_tests() {
  local label=$1
  shift
  local env=()
  while [ "$1" != "--" ]; do
    env+=("$1")
    shift
  done
  shift
  local json="$results/tests-$label.json"
  echo "== tests $label: ${env[*]} $(basename "$1") ${*:2}"
  env "${env[@]}" timeout 150 "$@" --gtest_output="json:$json" >"$results/tests-$label.log" 2>&1
  local status=$?
  grep -E '^\[  (FAILED|SKIPPED) ' "$results/tests-$label.log" | sort -u | head -n 40
  tail -n 3 "$results/tests-$label.log"
  read -r passed failed skipped < <(count_results "$json")
  # No python3 or no JSON: nothing is known, so nothing passed.
  passed=${passed:-0} failed=${failed:-1} skipped=${skipped:-0}
  echo "$passed $failed $skipped" >"$results/tests-$label.counts"
  # On a GPU nothing may skip: a skipped test is a failed one.
  if [ "$status" -ne 0 ] || [ "$failed" -gt 0 ] || [ "$skipped" -gt 0 ]; then
    note_failure "tests $label: exit $status, $passed passed, $failed failed, $skipped skipped"
  fi
  summary+=("tests $label: $passed passed, $failed failed, $skipped skipped (a skip is a failure here)")
}

# sanitize TOOL PROGRAM FILTER: compute-sanitizer on a subset of one test program; "Device not
# supported" (some machines refuse it) is reported and not counted.
sanitize() {
  local tool=$1 program=$2 filter=$3
  local log="$results/sanitizer-$tool-$(basename "$program").log"
  if ! command -v compute-sanitizer >/dev/null; then
    summary+=("compute-sanitizer $tool: not installed on this machine (not run)")
    return
  fi
  echo "== compute-sanitizer --tool $tool $(basename "$program") --gtest_filter=$filter"
  # libs: run()'s library paths.
  env "${libs[@]}" timeout 120 compute-sanitizer --tool "$tool" --error-exitcode 99 "$program" \
    --gtest_filter="$filter" >"$log" 2>&1
  local status=$?
  tail -n 4 "$log"
  if grep -q "Device not supported" "$log"; then
    summary+=("compute-sanitizer $tool: the machine refused it (\"Device not supported\"); not run")
  elif [ "$status" -eq 124 ]; then
    note_failure "compute-sanitizer $tool $(basename "$program"): timed out after 120 s"
    summary+=("compute-sanitizer $tool $(basename "$program"): timed out")
  elif [ "$status" -ne 0 ]; then
    note_failure "compute-sanitizer $tool $(basename "$program"): exit $status (see $log)"
    summary+=("compute-sanitizer $tool $(basename "$program"): FAILED (exit $status)")
  else
    summary+=("compute-sanitizer $tool $(basename "$program"): clean, $(grep -c '^\[       OK \]' "$log") tests")
  fi
}

# One line per kernel: its tests (results/tests-<kernel>*.counts; both_kernels counts for each of
# rmsnorm and activation) and its benchmarks (bench.log's summary lines, by op name).
per_kernel_summary() {
  python3 - "$results" <<'PY'
import glob, json, os, re, sys
results = sys.argv[1]
kernels = {
    "rmsnorm": (["rmsnorm", "both_kernels"], ("rms_norm", "fused_add_rms_norm")),
    "activation": (["activation", "both_kernels"], ("gelu", "silu")),
    "cutlass_groups": (["cutlass_groups*"], ()),
}
bench = []
try:
    for line in open(os.path.join(results, "bench.log")):
        m = re.match(r"summary (\S+)\s+([\d.]+) GB/s\s+([\d.]+)% of copy", line)
        if m:
            bench.append((m.group(1), float(m.group(2)), float(m.group(3))))
except OSError:
    pass
for kernel, (labels, ops) in kernels.items():
    passed = failed = skipped = 0
    for label in labels:  # run_tests' counts, one rule for both
        for path in glob.glob(os.path.join(results, f"tests-{label}.counts")):
            p, f, s = (int(x) for x in open(path).read().split())
            passed, failed, skipped = passed + p, failed + f, skipped + s
    mine = [b for b in bench if b[0].split("/")[0].startswith(ops)] if ops else []
    if mine:
        worst = min(mine, key=lambda b: b[2])
        best = max(mine, key=lambda b: b[2])
        perf = (f"{len(mine)} benchmarks, {worst[2]:.1f}% to {best[2]:.1f}% of the device copy "
                f"(worst {worst[0]} {worst[1]:.0f} GB/s, best {best[0]} {best[1]:.0f} GB/s; "
                "target 90%)")
    elif ops:
        perf = "no benchmark results"
    else:
        perf = "test kernel, not benchmarked"
    print(f"kernel {kernel}: tests {passed} passed, {failed} failed, {skipped} skipped; {perf}")
PY
}

run() {
  if ! command -v nvidia-smi >/dev/null || ! nvidia-smi -L 2>/dev/null | grep -q '^GPU '; then
    echo "gpu-check: no CUDA device (nvidia-smi is missing or lists no GPU); nothing was run"
    return 1
  fi
  [ -x "$stage/bin/test_kernels_gpu" ] || {
    echo "gpu-check: $stage/bin/test_kernels_gpu is missing: run '$0 prepare' first and carry $stage"
    return 1
  }
  results=${OUT:-$stage/results}
  mkdir -p "$results"
  local started=$SECONDS
  echo "== GPU"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm,clocks.mem,clocks.max.mem,temperature.gpu,power.draw \
    --format=csv | tee "$results/gpu.csv"
  export LD_LIBRARY_PATH="$stage/lib/system${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  # KGET_KERNEL_TESTS_REQUIRE_GPU: test_kernels_gpu fails, saying why, where it would skip.
  local libs=(KGET_KERNEL_TESTS_REQUIRE_GPU=1 KGET_RMSNORM_LIBRARY="$stage/lib/cpu/librmsnorm.so"
    KGET_ACTIVATION_LIBRARY="$stage/lib/cpu/libactivation.so"
    KGET_RMSNORM_CUDA_LIBRARY="$stage/lib/cuda/librmsnorm.so"
    KGET_ACTIVATION_CUDA_LIBRARY="$stage/lib/cuda/libactivation.so"
    KGET_CUTLASS_GROUPS_LIBRARY="$stage/lib/cuda/libcutlass_groups.so")

  local gpu_tests="$stage/bin/test_kernels_gpu" groups_tests="$stage/bin/test_kernels_cutlass_groups"
  run_tests rmsnorm "${libs[@]}" -- "$gpu_tests" --gtest_filter='CudaRmsNorm.*'
  run_tests activation "${libs[@]}" -- "$gpu_tests" --gtest_filter='CudaActivation.*'
  run_tests both_kernels "${libs[@]}" -- "$gpu_tests" --gtest_filter='-CudaRmsNorm.*:CudaActivation.*'
  # Left out: a test of the no-driver error, one of a GPU older than 8.0, and the unknown forced
  # path (run on its own below); each of them skips by design on an H100/H200.
  run_tests cutlass_groups "${libs[@]}" -- "$groups_tests" \
    --gtest_filter='-CutlassGroupsLibrary.WithoutAUsableDeviceTheOpSaysWhy:CutlassGroupsGpu.AGpuNoPathCoversIsRefused:CutlassGroupsGpu.UnknownForcedPathIsRefused'

  local path
  for path in sm90 sm80; do
    run_tests "cutlass_groups_forced_$path" "${libs[@]}" KGET_KERNEL_CUDA_PATH=$path -- \
      "$groups_tests" \
      --gtest_filter='CutlassGroupsGpu.GemmMatchesTheFloat64Reference:CutlassGroupsGpu.ZeroDepthWritesZeros'
  done
  run_tests cutlass_groups_unknown_path "${libs[@]}" KGET_KERNEL_CUDA_PATH=sm70 -- \
    "$groups_tests" --gtest_filter='CutlassGroupsGpu.UnknownForcedPathIsRefused'

  sanitize memcheck "$gpu_tests" 'CudaRmsNorm.RowStrides:CudaRmsNorm.FusedAddLayouts:CudaActivation.Gated:CudaNumerics.ThreadWithoutContextKeepsNone'
  sanitize racecheck "$gpu_tests" 'CudaRmsNorm.RowStrides:CudaRmsNorm.FusedAddLayouts'
  sanitize memcheck "$groups_tests" 'CutlassGroupsGpu.GemmMatchesTheFloat64Reference'
  sanitize racecheck "$groups_tests" 'CutlassGroupsGpu.GemmMatchesTheFloat64Reference'

  echo "== bench_kernels_gpu"
  env "${libs[@]}" timeout 240 "$stage/bin/bench_kernels_gpu" --require-gpu \
    --rmsnorm-library="$stage/lib/cuda/librmsnorm.so" \
    --activation-library="$stage/lib/cuda/libactivation.so" \
    --benchmark_format=json --benchmark_out="$results/bench.json" --benchmark_out_format=json \
    >"$results/bench.log" 2>&1
  local status=$?
  tail -n 20 "$results/bench.log"
  [ "$status" -eq 0 ] || note_failure "bench_kernels_gpu: exit $status (see $results/bench.log)"

  echo "== summary ($((SECONDS - started)) s)"
  local line
  for line in "${summary[@]}"; do
    echo "$line"
  done
  grep -E '^summary ' "$results/bench.log" || echo "no benchmark summary lines"
  per_kernel_summary
  if [ "$failures" -gt 0 ]; then
    echo "gpu-check: $failures failure(s)"
    return 1
  fi
  echo "gpu-check: all passed"
}

case "$mode" in
prepare) prepare "${3:-}" ;;
run) run ;;
*) usage ;;
esac
