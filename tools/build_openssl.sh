#!/usr/bin/env bash
# tools/build_openssl.sh VERSION PREFIX
#
# Downloads the OpenSSL VERSION release tarball from GitHub, checks it against the SHA-256 pinned
# below (a version without a pin is refused), and builds a static libcrypto with its headers into
# PREFIX (PREFIX/include/openssl/*.h, PREFIX/lib/libcrypto.a, or libcrypto.lib on Windows).
# Nothing else is built: no shared libraries, apps, tests or docs.
#
#   bash tools/build_openssl.sh 3.6.5 /opt/fastmtls-openssl
#   FASTMTLS_OPENSSL_DIR=/opt/fastmtls-openssl FASTMTLS_OPENSSL_STATIC=1 pip install .
#
# Used by the wheel builds (pyproject.toml [tool.cibuildwheel]: every wheel links this libcrypto
# statically, its symbols hidden) and by CI (.github/workflows/ci.yml: tests against the oldest and
# the newest supported OpenSSL). A PREFIX that already holds this build (same version, same
# options: PREFIX/.fastmtls-openssl) is left as it is, so CI can cache it.
#
# Platforms: Linux (glibc and musl), macOS (the runner's architecture; MACOSX_DEPLOYMENT_TARGET is
# honoured) and Windows from Git Bash with Visual Studio (MSVC found with vswhere, Strawberry Perl
# or $PERL, NASM when on PATH, else no-asm). Needs: curl or wget (or python3), a C compiler, make
# and perl (OpenSSL 3 needs perl's IPC::Cmd: dnf install perl-IPC-Cmd / apk add perl).
#
# Environment: OPENSSL_JOBS (parallel make jobs, default: the CPU count), OPENSSL_EXTRA_CONFIG
# (extra ./config arguments), FASTMTLS_OPENSSL_WORK (download/build directory, default: a
# temporary one, removed afterwards), FASTMTLS_OPENSSL_TARBALL (a local copy of the release
# tarball to use instead of downloading it; it must match the pin all the same).
set -euo pipefail

# Pinned release tarballs: https://github.com/openssl/openssl/releases/download/<tag>/<tarball>.
# To add a version: copy the SHA-256 from the release page's openssl-X.Y.Z.tar.gz.sha256 and check
# it against https://openssl-library.org/source/ (both are signed by the OpenSSL release key).
# (A case statement, not an associative array: macOS's /bin/bash is bash 3.2.)
PINNED="3.6.5 3.6.4 3.5.4 1.1.1w"
pinned_sha256() {
    case "$1" in
        3.6.5) echo a2157c2830efdec3788939b00c9b0638306d3f0bbb76dc4832ee503bb397df98 ;;
        3.6.4) echo 9bffaa1ad1e07b354c21bd3324ec02fa15579f45a7d0494b3e74bc449b7333ef ;;
        3.5.4) echo 967311f84955316969bdb1d8d4b983718ef42338639c621ec4c34fddef355e99 ;;
        1.1.1w) echo cf3098950cb4d853ad95c0841f1f9c6d3dc102dccfcacd521d93925208b76ac8 ;;
        *) echo "" ;;
    esac
}

usage() {
    echo "usage: bash tools/build_openssl.sh VERSION PREFIX   (pinned versions: $PINNED)" >&2
    exit 2
}

[ "$#" -eq 2 ] || usage
VERSION=$1
PREFIX=$2
absolute() { case "$1" in /* | [A-Za-z]:*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
PREFIX=$(absolute "$PREFIX")
LOCAL_TARBALL=""
[ -n "${FASTMTLS_OPENSSL_TARBALL:-}" ] && LOCAL_TARBALL=$(absolute "$FASTMTLS_OPENSSL_TARBALL")
EXPECTED=$(pinned_sha256 "$VERSION")
if [ -z "$EXPECTED" ]; then
    echo "build_openssl.sh: OpenSSL $VERSION has no pinned SHA-256 in $0" >&2
    usage
fi
case "$VERSION" in
    1.1.1*) TAG="OpenSSL_${VERSION//./_}" ;; # OpenSSL_1_1_1w
    *) TAG="openssl-$VERSION" ;;
esac
TARBALL="openssl-$VERSION.tar.gz"
URL="https://github.com/openssl/openssl/releases/download/$TAG/$TARBALL"

case "$(uname -s)" in
    Linux*) OS=linux ;;
    Darwin*) OS=macos ;;
    MINGW* | MSYS* | CYGWIN*) OS=windows ;;
    *) OS=other ;;
esac

# ---- configuration ---------------------------------------------------------------------------

# Static libcrypto only. OPENSSLDIR (where openssl.cnf and the default CA paths would be) is a
# system path that only root/administrators write; with OpenSSL 3 the library never reads a config
# file by itself (no-autoload-config) and has its providers built in (no-module), so nothing is
# loaded from a directory at run time.
CONFIG=(no-shared no-tests)
case "$VERSION" in
    1.*) ;;
    *) CONFIG+=(no-module no-autoload-config) ;;
esac
if [ "$OS" = windows ]; then
    OPENSSLDIR='C:\Program Files\Common Files\SSL'
else
    OPENSSLDIR=/etc/ssl
    CONFIG+=(-fPIC) # linked into a shared object (the extension module)
    if [ "$OS" = macos ] && [ -n "${MACOSX_DEPLOYMENT_TARGET:-}" ]; then
        CONFIG+=("-mmacosx-version-min=$MACOSX_DEPLOYMENT_TARGET")
    fi
    # The 64-bit NIST curve code (P-224, P-256, P-384 from 3.2, P-521) with gcc/clang's
    # __uint128_t, as distributions build it (Debian, Fedora): off by default in OpenSSL, and
    # without it a P-521 signature check costs ~1.3 ms instead of ~0.5 ms, so that a chain
    # of same-name P-521 intermediates alone takes over 20 ms of the verification budget.
    # (MSVC has no 128-bit integer type: Windows keeps the generic code.)
    case "$(uname -m)" in
        x86_64 | amd64 | aarch64 | arm64) CONFIG+=(enable-ec_nistp_64_gcc_128) ;;
    esac
fi
# shellcheck disable=SC2206 # word splitting of the extra arguments is intended
[ -n "${OPENSSL_EXTRA_CONFIG:-}" ] && CONFIG+=($OPENSSL_EXTRA_CONFIG)
STAMP="$VERSION $OS ${CONFIG[*]}"

if [ -f "$PREFIX/.fastmtls-openssl" ] && [ "$(cat "$PREFIX/.fastmtls-openssl")" = "$STAMP" ] &&
    [ -f "$PREFIX/include/openssl/evp.h" ]; then
    echo "build_openssl.sh: $PREFIX already holds OpenSSL $VERSION ($STAMP)"
    exit 0
fi

jobs() {
    if [ -n "${OPENSSL_JOBS:-}" ]; then echo "$OPENSSL_JOBS"; return; fi
    getconf _NPROCESSORS_ONLN 2>/dev/null || sysctl -n hw.ncpu 2>/dev/null || echo 2
}

sha256_of() {
    if command -v sha256sum >/dev/null 2>&1; then
        sha256sum "$1" | cut -d' ' -f1
    elif command -v shasum >/dev/null 2>&1; then
        shasum -a 256 "$1" | cut -d' ' -f1
    else
        python3 -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())' "$1"
    fi
}

download() {
    local url=$1 out=$2
    if command -v curl >/dev/null 2>&1; then
        curl -fsSL --retry 5 --retry-delay 5 --connect-timeout 30 -o "$out" "$url"
    elif command -v wget >/dev/null 2>&1; then
        wget -q --tries=5 -O "$out" "$url"
    else
        python3 -c 'import sys, urllib.request; urllib.request.urlretrieve(sys.argv[1], sys.argv[2])' "$url" "$out"
    fi
}

# ---- download, check, unpack -----------------------------------------------------------------

if [ -n "${FASTMTLS_OPENSSL_WORK:-}" ]; then
    WORK=$FASTMTLS_OPENSSL_WORK
    mkdir -p "$WORK"
else
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/openssl-build.XXXXXX")
    trap 'rm -rf "$WORK"' EXIT
fi
cd "$WORK"

if [ -n "$LOCAL_TARBALL" ]; then
    cp "$LOCAL_TARBALL" "$TARBALL"
fi
if [ ! -f "$TARBALL" ] || [ "$(sha256_of "$TARBALL")" != "$EXPECTED" ]; then
    echo "build_openssl.sh: downloading $URL"
    rm -f "$TARBALL"
    download "$URL" "$TARBALL.part"
    mv "$TARBALL.part" "$TARBALL"
fi
ACTUAL=$(sha256_of "$TARBALL")
if [ "$ACTUAL" != "$EXPECTED" ]; then
    echo "build_openssl.sh: SHA-256 mismatch for $TARBALL: got $ACTUAL, pinned $EXPECTED" >&2
    rm -f "$TARBALL"
    exit 1
fi
echo "build_openssl.sh: $TARBALL SHA-256 $ACTUAL (pinned)"
rm -rf "openssl-$VERSION"
tar -xzf "$TARBALL"
cd "openssl-$VERSION"

# ---- build -----------------------------------------------------------------------------------

mkdir -p "$PREFIX"
if [ "$OS" = windows ]; then
    # MSVC's nmake, run from a batch file after vcvars64.bat: Git Bash's own link.exe and perl
    # must not be used, so the batch file names Strawberry Perl (or $PERL) by its full path.
    VSWHERE="/c/Program Files (x86)/Microsoft Visual Studio/Installer/vswhere.exe"
    [ -x "$VSWHERE" ] || VSWHERE=$(command -v vswhere || echo vswhere)
    VSDIR=$("$VSWHERE" -latest -products '*' -requires Microsoft.VisualStudio.Component.VC.Tools.x86.x64 \
        -property installationPath | tr -d '\r')
    [ -n "$VSDIR" ] || { echo "build_openssl.sh: no Visual Studio with the C++ tools (vswhere)" >&2; exit 1; }
    VCVARS="$VSDIR\\VC\\Auxiliary\\Build\\vcvars64.bat"
    PERL_EXE=${PERL:-}
    if [ -z "$PERL_EXE" ]; then
        if [ -x /c/Strawberry/perl/bin/perl.exe ]; then PERL_EXE='C:\Strawberry\perl\bin\perl.exe'; else PERL_EXE=perl; fi
    fi
    if command -v nasm >/dev/null 2>&1; then
        echo "build_openssl.sh: $(nasm -v)"
    else
        echo "build_openssl.sh: warning: NASM not on PATH: building with no-asm (slower signature checks)" >&2
        CONFIG+=(no-asm)
    fi
    WPREFIX=$(cygpath -w "$PREFIX")
    {
        echo '@echo off'
        echo "call \"$VCVARS\" || exit /b 1"
        echo "\"$PERL_EXE\" Configure VC-WIN64A ${CONFIG[*]} --prefix=\"$WPREFIX\" --openssldir=\"$OPENSSLDIR\" --libdir=lib || exit /b 1"
        echo 'nmake /nologo build_libs || exit /b 1'
        echo 'nmake /nologo install_dev || exit /b 1'
    } >fastmtls-build.bat
    cat fastmtls-build.bat
    cmd //c fastmtls-build.bat
else
    MAKE="make"
    command -v gmake >/dev/null 2>&1 && [ "$OS" = other ] && MAKE=gmake
    echo "build_openssl.sh: ./config ${CONFIG[*]} --prefix=$PREFIX --openssldir=$OPENSSLDIR --libdir=lib"
    ./config "${CONFIG[@]}" --prefix="$PREFIX" --openssldir="$OPENSSLDIR" --libdir=lib
    "$MAKE" -j"$(jobs)" build_libs >build.log 2>&1 || { tail -n 60 build.log >&2; exit 1; }
    "$MAKE" install_dev >install.log 2>&1 || { tail -n 60 install.log >&2; exit 1; }
fi

# ---- check -----------------------------------------------------------------------------------

LIB="$PREFIX/lib/libcrypto.a"
[ "$OS" = windows ] && LIB="$PREFIX/lib/libcrypto.lib"
if [ ! -f "$LIB" ] || [ ! -f "$PREFIX/include/openssl/evp.h" ]; then
    echo "build_openssl.sh: the build did not install $LIB and include/openssl/evp.h" >&2
    exit 1
fi
grep -h 'define OPENSSL_VERSION_TEXT' "$PREFIX"/include/openssl/opensslv.h || true
echo "$STAMP" >"$PREFIX/.fastmtls-openssl"
echo "build_openssl.sh: OpenSSL $VERSION installed in $PREFIX ($(du -h "$LIB" | cut -f1) $(basename "$LIB"))"
