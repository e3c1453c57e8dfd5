#!/usr/bin/env bash
# tools/coverage.sh [--lines] [PYTEST ARGS]
#
# Line coverage of the C core (csrc/fm_*.c) under the whole test suite: fastmtls._native built
# with gcov instrumentation (FASTMTLS_COVERAGE=1: --coverage -O0) into a clean copy of the
# working tree, the pytest suite (tests/, or PYTEST ARGS) run over it, then the C tests
# (csrc/tests/test_core.c, test_names.c) built with --coverage and run; the counts of all three
# are merged per source line by tools/coverage_report.py.
#
# The point is the audit, not a percentage: "security code is judged by what it rejects", and a
# rejection branch no test reaches is a check nobody has seen fail. --lines prints every line no
# test executed, with its source, for the parsing and checking files (fm_der, fm_x509, fm_names,
# fm_crl, fm_verify, fm_revset); what remains there is allocation failure and argument checks the
# Python layer never lets through.
#
# Environment: PYTHON (default python3, with the test dependencies, setuptools and cffi
# installed: the instrumented build runs setup.py), CC (default gcc),
# FASTMTLS_COVERAGE_DIR (work directory, default build/coverage), FASTMTLS_LIMBO (the x509-limbo
# suite; default ../shared/limbo/limbo.json.gz of this checkout). Needs gcc's gcov.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON=${PYTHON:-python3}
CC=${CC:-gcc}
DIR=${FASTMTLS_COVERAGE_DIR:-$ROOT/build/coverage}
LINES=()
if [ "${1:-}" = "--lines" ]; then
    LINES=("--lines=fm_der,fm_x509,fm_names,fm_crl,fm_verify,fm_revset")
    shift
fi
export FASTMTLS_LIMBO=${FASTMTLS_LIMBO:-$ROOT/../shared/limbo/limbo.json.gz}
export PYTHONDONTWRITEBYTECODE=1
# unoptimized and instrumented: the CPU-time and RSS assertions skip themselves, as under the
# sanitizers (tests/helpers.py sanitized())
export FASTMTLS_SANITIZED=1

# A clean copy (tracked and untracked, not ignored files): no stale object can be counted.
rm -rf "$DIR"
mkdir -p "$DIR/src" "$DIR/ctests"
git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
    [ -e "$f" ] && printf '%s\0' "$f"
done | tar --null -T - -cf - | tar -xf - -C "$DIR/src"

"$PYTHON" -c "import setuptools, cffi" 2>/dev/null || {
    echo "coverage.sh: $PYTHON needs setuptools and cffi (pip install setuptools cffi)" >&2
    exit 2
}
echo "=== building fastmtls._native with --coverage"
(cd "$DIR/src" && CC=$CC FASTMTLS_COVERAGE=1 "$PYTHON" setup.py -q build_ext --inplace \
    >"$DIR/build.log" 2>&1) || { cat "$DIR/build.log" >&2; exit 1; }

echo "=== pytest ${*:-tests}"
status=0
(cd "$DIR/src" && PYTHONPATH=src "$PYTHON" -m pytest -q -p no:cacheprovider "${@:-tests}") ||
    status=$?

echo "=== C tests"
for t in test_core test_names; do
    mkdir -p "$DIR/ctests/$t"
    # shellcheck disable=SC2046
    (cd "$DIR/ctests/$t" && "$CC" -std=c11 -O0 -g --coverage -I"$DIR/src/csrc" \
        -I"$DIR/src/csrc/include" -I"$DIR/src/csrc/tests" "$DIR"/src/csrc/fm_*.c \
        "$DIR/src/csrc/tests/$t.c" -lssl -lcrypto -lpthread -ldl -o "$t" && "./$t" >"$t.log" 2>&1) ||
        { echo "$t failed (see $DIR/ctests/$t/$t.log)" >&2; status=1; }
done

echo "=== gcov"
objdir=$(dirname "$(find "$DIR/src/build" -name 'fm_verify.gcda' | head -1)")
mkdir -p "$DIR/gcov/pytest"
(cd "$DIR/src" && gcov -o "$objdir" csrc/fm_*.c >/dev/null 2>&1 && mv ./*.gcov "$DIR/gcov/pytest/")
for t in test_core test_names; do
    mkdir -p "$DIR/gcov/$t"
    (cd "$DIR/ctests/$t" && gcov ./*-fm_*.gcda >/dev/null 2>&1 && mv ./*.gcov "$DIR/gcov/$t/")
done
"$PYTHON" "$ROOT/tools/coverage_report.py" "${LINES[@]}" "$DIR"/gcov/*
exit $status
