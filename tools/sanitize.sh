#!/usr/bin/env bash
# tools/sanitize.sh - fastmtls' C core under AddressSanitizer/UBSan, valgrind and ThreadSanitizer.
#
#   tools/sanitize.sh [--asan] [PYTEST ARGS]  fastmtls._native built with ASan+UBSan
#                         (FASTMTLS_SANITIZE=1) into a virtualenv of its own, then the whole
#                         pytest suite (tests bench) under it, or PYTEST ARGS instead
#   tools/sanitize.sh --leaks [PYTEST ARGS]   the same with LeakSanitizer on: fails on a leak
#                         whose allocation was made by fastmtls' C code (CPython's, OpenSSL's and
#                         cffi's own allocations at exit are not counted)
#   tools/sanitize.sh --valgrind              csrc/tests/test_*.c built without sanitizers, each
#                         under valgrind memcheck (--leak-check=full, any error fails)
#   tools/sanitize.sh --tsan [ITERATIONS]     csrc/tests/test_stress.c (verifier threads against
#                         store and revocation-set swaps, tiny caches), test_hook_stress.c (TLS
#                         handshakes through the hook on threads against swaps and re-installs)
#                         and test_core.c built with -fsanitize=thread; any report fails
#   tools/sanitize.sh --all                   --asan, --valgrind, then --tsan
#
# Environment: PYTHON (default python3), FASTMTLS_SANITIZE_DIR (work directory, default
# build/sanitize: the virtualenv, a clean copy of the sources, the binaries and the logs),
# FASTMTLS_OPENSSL_DIR (an OpenSSL prefix instead of the system's), ASAN_CC (the compiler of the
# sanitized extension, default gcc: its ASan runtime is a shared library that can be preloaded
# into python), TSAN_CC (default clang, else gcc), FM_STRESS_ITERS (default 20000 for --tsan),
# FASTMTLS_SANITIZE_REUSE=1 (--asan/--leaks: keep the extension built last time),
# FASTMTLS_SANITIZE_STRICT=1 (no UBSan suppressions of known, reported findings: see below).
# Needs gcc (or clang) with libasan/libubsan/libtsan, valgrind for --valgrind, the OpenSSL headers
# and python3-venv. Exits non-zero when anything failed; sanitizer reports name the C frames.
# The sanitized runs set FASTMTLS_SANITIZED=1: CPU-time and RSS assertions skip themselves.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON=${PYTHON:-python3}
DIR=${FASTMTLS_SANITIZE_DIR:-$ROOT/build/sanitize}
mkdir -p "$DIR"
DIR="$(cd "$DIR" && pwd)"
VENV="$DIR/venv"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_PROGRESS_BAR=off PYTHONDONTWRITEBYTECODE=1

usage() { sed -n '2,26p' "$0"; }

say() { printf '\n=== %s\n' "$*"; }

openssl_flags() {
    if [ -n "${FASTMTLS_OPENSSL_DIR:-}" ]; then
        local lib=lib
        [ -d "$FASTMTLS_OPENSSL_DIR/lib64" ] && lib=lib64
        echo "-I$FASTMTLS_OPENSSL_DIR/include -L$FASTMTLS_OPENSSL_DIR/$lib -Wl,-rpath,$FASTMTLS_OPENSSL_DIR/$lib"
    fi
}

build_c() {
    # build_c OUTPUT SOURCE FLAGS...
    local out=$1 src=$2
    shift 2
    # shellcheck disable=SC2046
    "$CC_USED" -std=c11 -Wall -Wextra -Werror -pedantic -g "$@" -Icsrc -Icsrc/include -Icsrc/tests \
        csrc/fm_*.c "$src" $(openssl_flags) -lssl -lcrypto -lpthread -ldl -o "$out"
}

# ---- ASan + UBSan: the Python suite over a sanitized extension --------------------------------

# Known, reported findings in csrc/ that would otherwise stop every run at the first test that
# reaches them; each is named in the run's output. Delete an entry once its fix lands (and
# FASTMTLS_SANITIZE_STRICT=1 runs without any).
write_suppressions() {
    UBSAN_SUPP=""
    [ "${FASTMTLS_SANITIZE_STRICT:-0}" = 1 ] && return 0
    cat >"$1" <<'EOF'
# (none open. Fixed, so no longer suppressed: NULL + 0 in fm_der_init for an absent optional
# element, pointer-overflow; fm_revbuild_finish's memcpy from NULL for a CRL without cRLNumber,
# nonnull-attribute, in 4f46a9d. csrc/fuzz/regressions/fuzz_crl/ replays both.)
EOF
    UBSAN_SUPP=":suppressions=$1"
    echo "UBSan suppressions (known findings): $1"
    grep -v '^#' "$1" | sed 's/^/  /' || true
}

make_venv() {
    if [ ! -x "$VENV/bin/python" ]; then
        "$PYTHON" -m venv "$VENV"
        "$VENV/bin/python" -m pip install -q --upgrade pip
    fi
}

# The installed extension, found without importing it (it cannot load before the ASan runtime).
native_path() {
    "$VENV/bin/python" - <<'EOF'
import importlib.util, pathlib
pkg = pathlib.Path(importlib.util.find_spec("fastmtls").origin).parent
print(next(pkg.glob("_native*.so")))
EOF
}

build_sanitized() {
    local cc=${ASAN_CC:-gcc}
    # A clean copy of the working tree (tracked and untracked, not ignored): a stale build/ of
    # the tree, compiled without sanitizers, can never be picked up.
    rm -rf "$DIR/src" "$DIR/wheel"
    mkdir -p "$DIR/src" "$DIR/wheel"
    git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
        [ -e "$f" ] && printf '%s\0' "$f"
    done | tar --null -T - -cf - | tar -xf - -C "$DIR/src"
    say "building fastmtls._native with -fsanitize=address,undefined ($cc)"
    CC=$cc FASTMTLS_SANITIZE=1 "$VENV/bin/python" -m pip wheel -q --no-deps -w "$DIR/wheel" \
        "$DIR/src" >"$DIR/build.log" 2>&1 || { cat "$DIR/build.log" >&2; exit 1; }
    local whl
    whl=$(ls "$DIR"/wheel/fastmtls-*.whl)
    "$VENV/bin/python" -m pip install -q "${whl}[test]"
    "$VENV/bin/python" -m pip install -q --force-reinstall --no-deps "$whl"
    NATIVE=$(native_path)
    if ! ldd "$NATIVE" | grep libasan >/dev/null; then
        echo "sanitize.sh: $NATIVE is not linked with libasan: the sanitizer build did not happen" >&2
        exit 1
    fi
}

# The sanitizer runtimes the extension links, preloaded into python (which is not built with them).
preload_libs() {
    local libs=() lib
    for lib in libasan libubsan; do
        local path
        path=$(ldd "$NATIVE" | awk -v l="$lib" '$1 ~ "^"l"\\.so" { print $3 }')
        [ -n "$path" ] || path=$(gcc -print-file-name="$lib.so")
        libs+=("$path")
    done
    (IFS=:; echo "${libs[*]}")
}

run_asan() {
    local leaks=$1
    shift
    make_venv
    if [ "${FASTMTLS_SANITIZE_REUSE:-0}" = 1 ] && [ -d "$DIR/wheel" ]; then
        NATIVE=$(native_path)  # iterate on tests without rebuilding the extension
    else
        build_sanitized
    fi
    local preload logs="$DIR/logs"
    preload=$(preload_libs)
    rm -rf "$logs"
    mkdir -p "$logs"
    local asan_opts="detect_leaks=0:halt_on_error=1:abort_on_error=0:strict_string_checks=1"
    asan_opts+=":detect_stack_use_after_return=1:check_initialization_order=1"
    if [ "$leaks" = 1 ]; then
        # Leak reports of every process go to log files or stderr (kept in $logs/stderr.log): a
        # leak never changes an exit status (the compilers and CLIs the tests run leak by design);
        # only fastmtls' own count, below.
        # (LeakSanitizer's tracer crashes in python with detect_stack_use_after_return, and
        # while scanning the dynamic TLS of exited threads after enough of them, e.g. the whole
        # of tests/test_handshake.py: "Tracer caught signal 11". use_tls=0 leaves TLS out of the
        # root set, which can only add reports, never hide one; fastmtls' C code keeps nothing
        # in thread-local storage, so none of the added reports can be counted as its own.)
        asan_opts="${asan_opts/detect_leaks=0/detect_leaks=1}:log_path=$logs/asan"
        asan_opts="${asan_opts/detect_stack_use_after_return=1/detect_stack_use_after_return=0}"
        export LSAN_OPTIONS="exitcode=0:max_leaks=0:use_tls=0"
    fi
    write_suppressions "$DIR/ubsan.supp"
    # The sanitizer runtime is preloaded into Python processes only: a wrapper (which tests see as
    # sys.executable, so Python subprocesses get it too) sets LD_PRELOAD, and a .pth file drops it
    # from the environment that the interpreter hands to its children (curl hangs with libasan
    # preloaded; openssl and compilers need nothing of it).
    local py="$VENV/bin/python-sanitized" purelib
    cat >"$py" <<EOF
#!/usr/bin/env bash
LD_PRELOAD="$preload\${LD_PRELOAD:+:\$LD_PRELOAD}" exec -a "\$0" "$VENV/bin/python" "\$@"
EOF
    chmod +x "$py"
    purelib=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    echo 'import os; os.environ.pop("LD_PRELOAD", None)' >"$purelib/fastmtls_sanitize_preload.pth"
    say "pytest under ASan+UBSan (LD_PRELOAD=$preload)"
    echo "ASAN_OPTIONS=$asan_opts"
    # -s: pytest's capture of file descriptor 2 is a temporary file that dies with a process the
    # sanitizer stops, report included (UBSan ignores log_path here): nothing is captured.
    local args=("$@")
    [ "${#args[@]}" -gt 0 ] || args=(tests bench -q)
    args=(-s "${args[@]}")
    set +e
    # PYTHONMALLOC=malloc: Python's objects come from malloc, so ASan sees C code reading past
    # a bytes object. FASTMTLS_SANITIZED tells timing and RSS tests that the numbers mean nothing.
    ASAN_OPTIONS="$asan_opts" \
        UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:report_error_type=1$UBSAN_SUPP" \
        PYTHONMALLOC=malloc FASTMTLS_SANITIZED=1 \
        "$py" -m pytest -p no:cacheprovider "${args[@]}" 2> >(tee "$logs/stderr.log" >&2)
    local rc=$?
    set -e
    wait  # for tee
    if [ "$leaks" = 1 ]; then
        "$VENV/bin/python" - "$logs" <<'EOF' || rc=1
import pathlib, re, sys
# A leak is fastmtls' when, walking its allocation stack from the allocator up, a frame of
# fastmtls' C code (an fm_* function or the _native module) comes before any frame of the
# Python interpreter or cffi: memory that only a leaked Python object pointed to is Python's.
ours, theirs = [], 0
for log in sorted(pathlib.Path(sys.argv[1]).glob("*")):
    for block in re.split(r"\n(?=(?:Direct|Indirect) leak of )", log.read_text(errors="replace")):
        if not block.startswith("Direct leak"):
            continue
        frames = re.findall(r"#\d+ 0x[0-9a-f]+ in (\S+) (\S+)", block)
        verdict = None
        for func, where in frames:
            if func.startswith("fm_") or "_native" in where:
                verdict = True
                break
            if func.startswith(("_Py", "Py", "_cffi", "b_", "cdata_")) or "python" in where:
                verdict = False
                break
        if verdict:
            ours.append(f"{log.name}:\n{block.strip()}")
        else:
            theirs += 1
broken = [p.name for p in pathlib.Path(sys.argv[1]).glob("asan*")
          if "LeakSanitizer has encountered a fatal error" in p.read_text(errors="replace")]
print(f"LeakSanitizer: {len(ours)} leak(s) allocated by fastmtls; {theirs} other(s) ignored")
if broken:
    print(f"LeakSanitizer failed in {broken}: no leak verdict for those processes")
    sys.exit(1)
for b in ours[:20]:
    print(b, end="\n\n")
sys.exit(1 if ours else 0)
EOF
    fi
    # every sanitizer error report of every process (leak reports were judged above)
    local f found=0
    for f in "$logs"/*; do
        [ -e "$f" ] || continue
        if grep -E "ERROR: AddressSanitizer|runtime error:|ERROR: UndefinedBehaviorSanitizer" "$f" >/dev/null; then
            found=1
            echo "--- $f" >&2
            sed -n '/ERROR: AddressSanitizer\|runtime error:\|ERROR: UndefinedBehaviorSanitizer/,$p' "$f" | head -80 >&2
        fi
    done
    if [ "$found" = 1 ]; then
        echo "sanitize.sh: sanitizer reports above (logs in $logs)" >&2
        rc=1
    fi
    return "$rc"
}

# ---- valgrind memcheck: the C tests without sanitizers ----------------------------------------

run_valgrind() {
    command -v valgrind >/dev/null || { echo "sanitize.sh: valgrind not found (apt-get install valgrind)" >&2; return 1; }
    CC_USED=${CC:-cc}
    local out="$DIR/valgrind" t exe failed=()
    mkdir -p "$out"
    for t in csrc/tests/test_*.c; do
        exe="$out/$(basename "$t" .c)"
        say "valgrind memcheck: $t"
        build_c "$exe" "$t" -O1 -fno-omit-frame-pointer
        # test_stress spawns threads that valgrind runs one at a time: fewer iterations
        if ! FM_STRESS_ITERS=${FM_STRESS_ITERS_VALGRIND:-300} valgrind -q --error-exitcode=1 \
            --leak-check=full --show-leak-kinds=definite,indirect,possible \
            --errors-for-leak-kinds=definite,indirect,possible --track-origins=yes "$exe"; then
            failed+=("$t")
        fi
    done
    if [ "${#failed[@]}" -gt 0 ]; then
        echo "valgrind: errors in ${failed[*]}" >&2
        return 1
    fi
    echo "valgrind: clean"
}

# ---- ThreadSanitizer: the stress test and the threaded core test -----------------------------

run_tsan() {
    local iters=${1:-${FM_STRESS_ITERS:-20000}}
    CC_USED=${TSAN_CC:-$(command -v clang >/dev/null && echo clang || echo gcc)}
    local out="$DIR/tsan" t exe failed=() norand=()
    mkdir -p "$out"
    # TSan's shadow memory needs a narrower address-space randomization than some kernels use
    # ("unexpected memory mapping"): run without randomization where setarch can.
    if command -v setarch >/dev/null && setarch "$(uname -m)" -R true 2>/dev/null; then
        norand=(setarch "$(uname -m)" -R)
    fi
    for t in csrc/tests/test_stress.c csrc/tests/test_hook_stress.c csrc/tests/test_core.c; do
        exe="$out/$(basename "$t" .c)"
        say "ThreadSanitizer ($CC_USED): $t"
        build_c "$exe" "$t" -O1 -fno-omit-frame-pointer -fsanitize=thread
        if ! TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:exitcode=66" \
            FM_STRESS_ITERS="$iters" "${norand[@]}" "$exe" 2>&1 | tee "$exe.log"; then
            failed+=("$t")
        elif grep -q "ThreadSanitizer" "$exe.log"; then
            failed+=("$t (report)")
        fi
    done
    if [ "${#failed[@]}" -gt 0 ]; then
        echo "ThreadSanitizer: failures in ${failed[*]}" >&2
        return 1
    fi
    echo "ThreadSanitizer: clean"
}

MODE=asan
case "${1:-}" in
    --asan) MODE=asan; shift ;;
    --leaks) MODE=leaks; shift ;;
    --valgrind) MODE=valgrind; shift ;;
    --tsan) MODE=tsan; shift ;;
    --all) MODE=all; shift ;;
    -h | --help) usage; exit 0 ;;
    --) shift ;;
    *) ;;  # pytest arguments for --asan
esac

case "$MODE" in
    asan) run_asan 0 "$@" ;;
    leaks) run_asan 1 "$@" ;;
    valgrind) run_valgrind ;;
    tsan) run_tsan "$@" ;;
    all)
        rc=0
        run_asan 0 || rc=1
        run_valgrind || rc=1
        run_tsan || rc=1
        exit "$rc"
        ;;
esac
