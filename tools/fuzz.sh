#!/usr/bin/env bash
# tools/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# Builds every libFuzzer target of csrc/fuzz/ (or the ones named) into build/fuzz/, generates the
# seed corpora when missing (csrc/fuzz/make_corpus.py), runs each target for SECONDS_PER_TARGET
# (default 60) and copies any crash/timeout/leak/OOM artifact into csrc/fuzz/regressions/<target>/
# (committed; tests/test_fuzz_regressions.py replays them). Exits 1 when a new artifact appeared,
# 2 on a build or setup error, 0 otherwise.
#
# Environment:
#   CC             clang to use (default: the newest clang / clang-NN on PATH)
#   FUZZ_JOBS      targets fuzzed at once (default 1; the project machines have 2 cores)
#   FUZZ_ARGS      extra libFuzzer arguments (e.g. "-dict=... -max_len=8192")
#   FUZZ_NO_BUILD  set to 1 to reuse the binaries in build/fuzz/
#   FUZZ_OUT       where binaries, logs and artifacts go (default build/fuzz; .ci/run's smoke
#                  uses its own temporary directory)
#   PYTHON         the interpreter that generates the corpus (default python3; it needs
#                  cryptography, and fastmtls installed or built in place for the snapshot seeds)
#   ASAN_OPTIONS, UBSAN_OPTIONS  override the sanitizer options (see below)
#
# Corpus: new inputs the fuzzer finds go into csrc/fuzz/corpus/<target>/ (not committed), so a
# later run starts where the last one stopped; `make_corpus.py --force` resets it.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FUZZ_DIR="$ROOT/csrc/fuzz"
OUT="${FUZZ_OUT:-$ROOT/build/fuzz}"
SECS="${1:-60}"
[ "$#" -gt 0 ] && shift
case "$SECS" in
    '' | *[!0-9]*) echo "usage: tools/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]" >&2; exit 2 ;;
esac

ALL=()
for f in "$FUZZ_DIR"/fuzz_*.c; do
    ALL+=("$(basename "$f" .c)")
done
TARGETS=("$@")
[ "${#TARGETS[@]}" -eq 0 ] && TARGETS=("${ALL[@]}")
for t in "${TARGETS[@]}"; do
    [ -f "$FUZZ_DIR/$t.c" ] || { echo "fuzz.sh: no target $t (have: ${ALL[*]})" >&2; exit 2; }
done

find_clang() {
    if [ -n "${CC:-}" ]; then echo "$CC"; return; fi
    local c
    for c in clang clang-19 clang-18 clang-17 clang-16 clang-15 clang-14; do
        command -v "$c" >/dev/null 2>&1 && { echo "$c"; return; }
    done
}
CLANG="$(find_clang)"
if [ -z "$CLANG" ]; then
    echo "fuzz.sh: clang not found (Debian: apt-get install -y clang libclang-rt-14-dev)" >&2
    exit 2
fi

mkdir -p "$OUT/logs" "$OUT/artifacts"
# shellcheck disable=SC2054  # the commas belong to one -fsanitize= flag
CFLAGS=(-Wall -Wextra -Werror -fsanitize=fuzzer,address,undefined -g -O1
        -I"$ROOT/csrc" -I"$ROOT/csrc/include" -I"$FUZZ_DIR")
# UBSan reports abort the run (halt_on_error=1, so libFuzzer saves the input), except the known,
# reported ones listed in csrc/fuzz/ubsan.supp (remove an entry once its fix lands).
UBSAN_DEFAULT="print_stacktrace=1:halt_on_error=1"
[ -f "$FUZZ_DIR/ubsan.supp" ] && UBSAN_DEFAULT="$UBSAN_DEFAULT:suppressions=$FUZZ_DIR/ubsan.supp"

build() { # target
    local t="$1" bin="$OUT/$1"
    if [ "${FUZZ_NO_BUILD:-0}" = 1 ] && [ -x "$bin" ]; then return 0; fi
    # rebuild when a source is newer than the binary
    if [ -x "$bin" ] && [ -z "$(find "$ROOT/csrc" -maxdepth 3 \( -name '*.c' -o -name '*.h' \) \
            -not -path '*/csrc/tests/*' -newer "$bin" -print -quit)" ]; then
        return 0
    fi
    echo "fuzz.sh: building $t"
    "$CLANG" "${CFLAGS[@]}" "$ROOT"/csrc/fm_*.c "$FUZZ_DIR/$t.c" -lssl -lcrypto -ldl -lpthread -o "$bin.tmp" \
        >"$OUT/logs/$t.build.log" 2>&1 || { cat "$OUT/logs/$t.build.log" >&2; return 1; }
    mv "$bin.tmp" "$bin"
}

for t in "${TARGETS[@]}"; do
    build "$t" || { echo "fuzz.sh: build of $t failed" >&2; exit 2; }
done

missing=()
for t in "${TARGETS[@]}"; do
    d="$FUZZ_DIR/corpus/$t"
    if [ ! -d "$d" ] || [ -z "$(ls -A "$d" 2>/dev/null)" ]; then missing+=("$t"); fi
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "fuzz.sh: generating corpus for ${missing[*]}"
    "${PYTHON:-python3}" -W ignore "$FUZZ_DIR/make_corpus.py" "${missing[@]}" ||
        { echo "fuzz.sh: corpus generation failed" >&2; exit 2; }
fi

run_one() { # target -> writes $OUT/logs/<target>.status
    local t="$1" art="$OUT/artifacts/$1/" log="$OUT/logs/$1.log"
    rm -rf "$art" && mkdir -p "$art" "$FUZZ_DIR/corpus/$t"
    local dict=()
    [ -f "$FUZZ_DIR/x509.dict" ] && dict=(-dict="$FUZZ_DIR/x509.dict")
    # shellcheck disable=SC2086
    (cd "$OUT" && ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}" \
        UBSAN_OPTIONS="${UBSAN_OPTIONS:-$UBSAN_DEFAULT}" \
        "$OUT/$t" -max_total_time="$SECS" -timeout=2 -rss_limit_mb=2048 \
        -artifact_prefix="$art" -print_final_stats=1 "${dict[@]}" ${FUZZ_ARGS:-} \
        "$FUZZ_DIR/corpus/$t" >"$log" 2>&1)
    echo "$?" >"$OUT/logs/$t.status"
}

start=$(date +%s)
jobs_max="${FUZZ_JOBS:-1}"
for t in "${TARGETS[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n 2>/dev/null || sleep 1; done
    echo "fuzz.sh: running $t for ${SECS}s"
    run_one "$t" &
done
wait

new=0
failed=0
for t in "${TARGETS[@]}"; do
    rc="$(cat "$OUT/logs/$t.status" 2>/dev/null || echo '?')"
    log="$OUT/logs/$t.log"
    execs="$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' | tail -1)"
    cov="$(grep -Eo 'cov: [0-9]+' "$log" | tail -1)"
    found=()
    for a in "$OUT/artifacts/$t"/*; do
        [ -f "$a" ] || continue
        name="$(basename "$a")"
        case "$name" in crash-* | timeout-* | leak-* | oom-* | slow-unit-*) ;; *) continue ;; esac
        case "$name" in slow-unit-*) continue ;; esac
        dest="$FUZZ_DIR/regressions/$t"
        mkdir -p "$dest"
        if [ ! -e "$dest/$name" ]; then
            cp "$a" "$dest/$name"
            cp "$log" "$dest/$name.log.txt"
            found+=("$name")
            new=$((new + 1))
        fi
    done
    printf 'fuzz.sh: %-18s exit=%s executions=%s %s' "$t" "$rc" "${execs:-?}" "${cov:-}"
    if [ "${#found[@]}" -gt 0 ]; then
        printf '  NEW: %s (saved in csrc/fuzz/regressions/%s/)\n' "${found[*]}" "$t"
        grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error|.*invariant failed)' "$log" | head -5 |
            sed 's/^/    /'
    elif [ "$rc" != 0 ]; then
        # a target that did not start, or found again an input already saved: not a pass
        printf '  FAILED: non-zero exit without a new artifact (see %s)\n' "$log"
        failed=$((failed + 1))
    else
        printf '\n'
    fi
done
echo "fuzz.sh: done in $(($(date +%s) - start))s, $new new artifact(s), $failed target(s) failed"
[ "$new" -eq 0 ] && [ "$failed" -eq 0 ] || exit 1
exit 0
