"""CFFI builder for ``fastmtls._native`` (API, out-of-line mode).

The C declarations below mirror ``csrc/include/fastmtls.h``; enum values and macros are written
``...`` so the C compiler fills them in and Python never duplicates a number. Only
``fastmtls._ffi`` imports the compiled module.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from cffi import FFI

HERE = Path(__file__).resolve().parent
SOURCES = ["fm_der.c", "fm_x509.c", "fm_names.c", "fm_crypto.c", "fm_cache.c", "fm_store.c",
           "fm_crl.c", "fm_revset.c", "fm_verify.c", "fm_hook.c"]

CDEF = """
#define FM_DEFAULT_MAX_CERT_SIZE ...
#define FM_DEFAULT_MAX_CHAIN_CERTS ...
#define FM_DEFAULT_MAX_INPUT_SIZE ...
#define FM_DEFAULT_MAX_DEPTH ...
#define FM_MAX_DEPTH_LIMIT ...
#define FM_DEFAULT_MAX_SIG_CHECKS ...
#define FM_DEFAULT_MAX_STEPS ...
#define FM_DEFAULT_MAX_SIG_COST ...
#define FM_DEFAULT_MAX_NC_CHECKS ...
#define FM_MAX_ANCHOR_SIZE ...
#define FM_MAX_REVSET_ISSUERS ...
#define FM_MAX_ANCHORS ...
#define FM_MAX_RSA_BITS ...
#define FM_OPT_REQUIRE_EKU ...
#define FM_OPT_REV_CHAIN ...
#define FM_OPT_REV_DENY_MISSING ...
#define FM_OPT_REV_DENY_EXPIRED ...
#define FM_OPT_REV_STRICT ...
#define FM_OPT_CN_NO_SAN ...
#define FM_OPT_CN_ALWAYS ...
#define FM_OPT_WEBPKI ...
#define FM_RESULT_CACHED ...
#define FM_RESULT_REVOKED ...
#define FM_CRL_DELTA ...
#define FM_CRL_ONLY_USER ...
#define FM_CRL_ONLY_CA ...
#define FM_CRL_ONLY_ATTR ...
#define FM_CRL_HAS_NUMBER ...
#define FM_CRL_HAS_IDP ...
#define FM_CRL_SOME_REASONS ...
#define FM_REASON_REMOVE_FROM_CRL ...
#define FM_EKU_SERVER ...
#define FM_EKU_CLIENT ...
#define FM_EKU_ANY ...
#define FM_EKU_OTHER ...
#define FM_EKU_PRESENT ...

enum fm_purpose { FM_PURPOSE_ANY, FM_PURPOSE_CLIENT, FM_PURPOSE_SERVER, ... };
enum fm_source { FM_SRC_PRESENTED, FM_SRC_INTERMEDIATE, FM_SRC_ANCHOR, ... };
enum fm_name_kind { FM_NAME_NONE, FM_NAME_DNS, FM_NAME_IP, FM_NAME_EMAIL, FM_NAME_URI, ... };
enum fm_key_type { FM_KEY_UNKNOWN, FM_KEY_RSA, FM_KEY_EC_P256, FM_KEY_EC_P384, FM_KEY_EC_P521,
                   FM_KEY_ED25519, FM_KEY_RSA_PSS, FM_KEY_EC_OTHER, FM_KEY_ED448, ... };

const char *fm_status_message(int status);
const char *fm_status_name(int status);
size_t fm_status_values(int *out, size_t cap);
const char *fm_version_string(void);
const char *fm_crypto_version(void);

typedef struct fm_limits {
    uint32_t max_cert_size;
    uint32_t max_chain_certs;
    uint32_t max_input_size;
    uint32_t max_depth;
    uint32_t max_sig_checks;
    uint32_t max_steps;
    uint32_t max_sig_cost;
    uint32_t max_nc_checks;
} fm_limits;

typedef struct fm_options {
    fm_limits limits;
    uint32_t purpose;
    uint32_t flags;
    uint32_t min_rsa_bits;
    uint32_t result_cache_size;
    uint32_t sig_cache_size;
} fm_options;

void fm_options_default(fm_options *opts);

typedef struct fm_store fm_store;
int fm_store_new(fm_store **out);
void fm_store_free(fm_store *store);
int fm_store_add_anchor(fm_store *store, const uint8_t *der, size_t len, uint32_t group);
int fm_store_associate(fm_store *store, const uint8_t *host, size_t host_len,
                       const uint32_t *groups, size_t n_groups);
uint64_t fm_store_generation(const fm_store *store);
int fm_store_set_group_name(fm_store *store, uint32_t group, const uint8_t *name, size_t len);
int fm_store_anchor_get(const fm_store *store, size_t i, const uint8_t **der, size_t *len,
                        uint32_t *group);
const uint8_t *fm_store_group_name(const fm_store *store, uint32_t group, size_t *len);
void fm_store_ref(fm_store *store);
size_t fm_store_anchor_count(const fm_store *store);

typedef struct fm_revset fm_revset;
typedef struct fm_revbuild fm_revbuild;
typedef struct fm_crl_info {
    int32_t version;
    uint32_t flags;
    int64_t this_update;
    int64_t next_update;
    uint64_t n_entries;
    size_t issuer_off, issuer_len;
    size_t number_off, number_len;
    size_t base_off, base_len;
    size_t aki_off, aki_len;
    size_t idp_off, idp_len;
    int32_t sig_status;
} fm_crl_info;
int fm_crl_parse(const uint8_t *crl, size_t len, fm_crl_info *out);
int fm_crl_parse_header_info(const uint8_t *crl, size_t len, fm_crl_info *out);
int fm_crl_check(const uint8_t *crl, size_t len, const uint8_t *ca, size_t ca_len);
int fm_revbuild_new(fm_revbuild **out);
void fm_revbuild_free(fm_revbuild *b);
int fm_revbuild_add_crl(fm_revbuild *b, const uint8_t *crl, size_t len, const uint8_t *ca,
                        size_t ca_len, fm_crl_info *info);
int fm_revbuild_add_crl_borrowed(fm_revbuild *b, const uint8_t *crl, size_t len,
                                 const uint8_t *ca, size_t ca_len, fm_crl_info *info);
int fm_revbuild_add_entry(fm_revbuild *b, const uint8_t *ca, size_t ca_len, const uint8_t *serial,
                          size_t serial_len, uint32_t reason, int64_t date);
int fm_revbuild_set_time(fm_revbuild *b, int64_t now);
int fm_revbuild_set_seed(fm_revbuild *b, uint64_t seed);
int fm_revbuild_finish(fm_revbuild *b, fm_revset **out);
int fm_revbuild_finish_ex(fm_revbuild *b, fm_revset **out, int64_t *bad_crl);
typedef struct fm_revocation { uint32_t reason; int64_t date; } fm_revocation;
typedef struct fm_revset_issuer {
    const uint8_t *name; size_t name_len;
    const uint8_t *spki; size_t spki_len;
    int64_t this_update, next_update;
    uint32_t flags;
    uint32_t has_crl;
    uint64_t n_entries;
    const uint8_t *number; size_t number_len;
} fm_revset_issuer;
int fm_revset_lookup(const fm_revset *s, const uint8_t *ca_name, size_t name_len,
                     const uint8_t *ca_spki, size_t spki_len, const uint8_t *serial,
                     size_t serial_len, fm_revocation *out);
int64_t fm_revset_lookup_many(const fm_revset *s, const uint8_t *ca_name, size_t name_len,
                              const uint8_t *ca_spki, size_t spki_len, const uint8_t *serials,
                              size_t len, size_t n, uint8_t *revoked);
uint64_t fm_revset_count(const fm_revset *s);
size_t fm_revset_issuer_count(const fm_revset *s);
int fm_revset_issuer_get(const fm_revset *s, size_t i, fm_revset_issuer *out);
uint64_t fm_revset_generation(const fm_revset *s);
size_t fm_revset_memory(const fm_revset *s);
void fm_revset_layout(const fm_revset *s, uint64_t *seed, uint64_t *n_slots, uint64_t *longest_run);
void fm_revset_free(fm_revset *s);
int fm_revset_save(const fm_revset *s, const char *path);
int fm_revset_load(const char *path, fm_revset **out);
int fm_revset_load_bytes(const uint8_t *p, size_t len, fm_revset **out);

typedef struct fm_verifier fm_verifier;
int fm_verifier_new(const fm_options *opts, fm_verifier **out);
void fm_verifier_free(fm_verifier *v);
int fm_verifier_add_intermediate(fm_verifier *v, const uint8_t *der, size_t len);
void fm_verifier_clear_caches(fm_verifier *v);

typedef struct fm_result {
    int32_t status;
    int32_t depth;
    uint32_t chain_len;
    uint32_t flags;
    uint8_t chain_src[...];
    uint16_t chain_idx[...];
    uint32_t anchor_group;
    uint32_t sig_checks;
    uint32_t steps;
    uint32_t certs_reused;
    int64_t not_before;
    int64_t not_after;
    int32_t revoked_depth;
    uint32_t revoked_reason;
    int64_t revoked_at;
    uint32_t n_presented;
    ...;
} fm_result;

int fm_verify(fm_verifier *v, fm_store *store, const fm_revset *revs, const uint8_t *chain,
              size_t chain_len, const uint8_t *host, size_t host_len, int64_t at,
              uint32_t name_kind, const uint8_t *name, size_t name_len, fm_result *out);

#define FM_TIME_NOW ...
int fm_verify_chain(fm_verifier *v, fm_store *store, const fm_revset *revs,
                    const uint8_t *chain, size_t chain_len, int64_t at, fm_result *out);
int fm_verify_again(fm_verifier *v, fm_store *store, const fm_revset *revs, const uint8_t *chain,
                    size_t chain_len, const uint8_t *host, size_t host_len, int64_t at,
                    const fm_result *prev, fm_result *out);
int fm_verify_chain_again(fm_verifier *v, fm_store *store, const fm_revset *revs,
                          const uint8_t *chain, size_t chain_len, int64_t at,
                          const fm_result *prev, fm_result *out);
int fm_result_equal(const fm_result *a, const fm_result *b);

int fm_verifier_set_store(fm_verifier *v, fm_store *store);
int fm_verifier_set_revocations(fm_verifier *v, fm_revset *revs);
int fm_verify_current(fm_verifier *v, const uint8_t *chain, size_t chain_len, const uint8_t *host,
                      size_t host_len, int64_t at, fm_result *out, fm_store **store_used);

typedef struct fm_hook fm_hook;
enum fm_hook_mode { FM_HOOK_ENFORCE, FM_HOOK_RECORD, FM_HOOK_GUARD, ... };
#define FM_HOOK_DEFAULT_SESSION_CACHE ...
#define FM_HOOK_DEFAULT_SESSION_CACHE_BYTES ...
#define FM_HOOK_MAX_SESSION_CACHE ...
int fm_hook_new(const char *library_path, fm_verifier *v, uint32_t mode, const uint8_t *host,
                size_t host_len, fm_hook **out);
void fm_hook_free(fm_hook *h);
int fm_hook_install(fm_hook *h, void *ssl_ctx, int require_cert);
int fm_hook_set_session_cache_size(fm_hook *h, size_t n);
int fm_hook_set_session_cache_bytes(fm_hook *h, size_t n);
int fm_hook_set_ca_names(fm_hook *h, const uint8_t *names, size_t len);
void *fm_hook_ssl_ctx_of(const fm_hook *h, void *ssl);
int fm_hook_ctx_verify_mode(const fm_hook *h, void *ssl_ctx);
int fm_hook_result(fm_hook *h, void *ssl, fm_result *out, fm_store **store,
                   const uint8_t **der, size_t *der_len, int *resumed, void **handle);
void fm_hook_result_release(void *handle);

int fm_chain_split(const uint8_t *chain, size_t len, size_t *offsets, size_t *lens, size_t cap,
                   size_t *n);

typedef struct fm_cert_info {
    size_t serial_off, serial_len;
    size_t issuer_off, issuer_len;
    size_t subject_off, subject_len;
    size_t spki_off, spki_len;
    size_t ski_off, ski_len;
    size_t aki_off, aki_len;
    size_t san_off, san_len;
    int64_t not_before, not_after;
    uint32_t key_type;
    uint32_t key_bits;
    uint32_t eku;
    int32_t is_ca;
    int32_t path_len;
    uint32_t key_usage;
    uint32_t has_key_usage;
    uint32_t located;
} fm_cert_info;
#define FM_INFO_SERIAL ...
#define FM_INFO_ISSUER ...
#define FM_INFO_VALIDITY ...
#define FM_INFO_SUBJECT ...
#define FM_INFO_ALL ...
#define FM_INFO_SKI ...

int fm_cert_info_get(const uint8_t *der, size_t len, fm_cert_info *out);
"""


def _openssl_paths() -> tuple[list[str], list[str]]:
    """Include and library directories for OpenSSL: $FASTMTLS_OPENSSL_DIR, else the system's."""
    root = os.environ.get("FASTMTLS_OPENSSL_DIR")
    if root:
        lib = "lib64" if Path(root, "lib64").is_dir() else "lib"
        return [str(Path(root, "include"))], [str(Path(root, lib))]
    return [], []


_INSTALL_HINT = (
    "Install the OpenSSL development files (OpenSSL >= 1.1.1):\n"
    "  Debian/Ubuntu:        apt-get install libssl-dev\n"
    "  Fedora/RHEL/Alma:     dnf install openssl-devel\n"
    "  Alpine:               apk add openssl-dev\n"
    "  macOS (Homebrew):     brew install openssl@3 && "
    "export FASTMTLS_OPENSSL_DIR=\"$(brew --prefix openssl@3)\"\n"
    "  Windows (vcpkg):      vcpkg install openssl:x64-windows && "
    "set FASTMTLS_OPENSSL_DIR=<vcpkg>\\installed\\x64-windows\n"
    "or set FASTMTLS_OPENSSL_DIR to an OpenSSL installation prefix (the directory holding "
    "include/openssl/ and lib/)."
)


def _check_headers(include_dirs: list[str]) -> tuple[list[str], list[str]]:
    """Fail early, naming the package to install, when the OpenSSL headers are missing. Returns
    the (include, library) directories to add when the headers were found where the compiler
    does not look by itself (Homebrew's keg, a conda or virtual environment's prefix, what
    pkg-config names): the build then uses the headers this check found."""
    root = os.environ.get("FASTMTLS_OPENSSL_DIR")
    if root:
        # An explicit prefix must hold the headers: never fall back to the system's silently.
        if not any(Path(d, "openssl", "evp.h").is_file() for d in include_dirs):
            raise SystemExit(
                f"fastmtls: FASTMTLS_OPENSSL_DIR={root} has no include/openssl/evp.h: OpenSSL "
                "headers not found there. Point FASTMTLS_OPENSSL_DIR at an OpenSSL installation "
                "prefix (with include/openssl/ and lib/), or unset it to build against the "
                "system's OpenSSL.\n" + _INSTALL_HINT
            )
        return [], []
    default = ["/usr/include", "/usr/local/include"]
    candidates = [*include_dirs, *default, "/opt/homebrew/include",
                  "/usr/local/opt/openssl/include", "/opt/homebrew/opt/openssl/include"]
    # Other places a compiler searches by default: the environment's include paths, a conda or
    # virtual environment's prefix, and what pkg-config knows about OpenSSL.
    for var in ("CPATH", "C_INCLUDE_PATH"):
        found = [d for d in os.environ.get(var, "").split(os.pathsep) if d]
        candidates += found
        default += found  # the compiler reads these variables itself
    for prefix in dict.fromkeys([os.environ.get("CONDA_PREFIX", ""), sys.prefix, sys.base_prefix]):
        if prefix:
            candidates.append(str(Path(prefix, "include")))
    libdirs: dict[str, str] = {}  # pkg-config's library directory of an include directory
    if shutil.which("pkg-config") is not None:
        try:
            out = subprocess.run(["pkg-config", "--cflags-only-I", "--libs-only-L", "openssl"],
                                 capture_output=True, text=True, timeout=30,
                                 check=False).stdout  # fmt: skip
            incs = [f[2:] for f in out.split() if f.startswith("-I")]
            libs = [f[2:] for f in out.split() if f.startswith("-L")]
            candidates += incs
            libdirs.update((i, libs[0]) for i in incs if libs)
        except (OSError, subprocess.SubprocessError):
            pass
    if sys.platform == "win32":
        return [], []
    for d in candidates:
        if Path(d, "openssl", "evp.h").exists():
            if d in include_dirs or d in default:
                return [], []
            lib = libdirs.get(d) or next((str(Path(d).parent / x) for x in ("lib64", "lib")
                                          if Path(d).parent.joinpath(x).is_dir()), "")  # fmt: skip
            return [d], [lib] if lib else []
    raise SystemExit(
        "fastmtls: OpenSSL headers not found (no openssl/evp.h in "
        + ", ".join(candidates) + ").\n" + _INSTALL_HINT
    )


def _static_libcrypto() -> Path | None:
    """$FASTMTLS_OPENSSL_DIR/lib*/libcrypto.a (libcrypto.lib on Windows) when
    FASTMTLS_OPENSSL_STATIC=1, else None (link the shared libcrypto)."""
    if os.environ.get("FASTMTLS_OPENSSL_STATIC", "") in ("", "0"):
        return None
    root = os.environ.get("FASTMTLS_OPENSSL_DIR")
    if not root:
        raise SystemExit("fastmtls: FASTMTLS_OPENSSL_STATIC=1 needs FASTMTLS_OPENSSL_DIR (the "
                         "prefix of a static OpenSSL build, e.g. from tools/build_openssl.sh)")
    names = (["libcrypto_static.lib", "libcrypto.lib"] if sys.platform == "win32"
             else ["libcrypto.a"])  # fmt: skip
    found = [p for lib in ("lib64", "lib") for n in names for p in [Path(root, lib, n)]
             if p.is_file()]  # fmt: skip
    if not found:
        raise SystemExit(f"fastmtls: FASTMTLS_OPENSSL_STATIC=1 but no {' or '.join(names)} in "
                         f"{root}/lib64 or {root}/lib")  # fmt: skip
    return found[0]


def _link_options(static_lib: Path | None) -> tuple[list[str], list[str], list[str]]:
    """(libraries, extra_objects, extra_link_args) for the shared or the static libcrypto.

    Static: the archive is linked into the module and none of its symbols is exported, so the
    module's libcrypto never clashes with another one in the process (the interpreter's ssl
    module, cryptography's): Linux and other ELF systems hide every archive's symbols
    (--exclude-libs,ALL); macOS exports only the module's init functions; a Windows DLL exports
    only what is declared, i.e. the init function.
    """
    sanitize = ["-fsanitize=address,undefined"] if os.environ.get("FASTMTLS_SANITIZE") else []
    if os.environ.get("FASTMTLS_COVERAGE"):
        sanitize.append("--coverage")
    if static_lib is None:
        libraries = ["libcrypto"] if sys.platform == "win32" else ["crypto", "dl"]
        return libraries, [], sanitize
    if sys.platform == "win32":
        # libcrypto.lib of a no-shared build is the static library; it needs these system DLLs.
        return ["ws2_32", "gdi32", "advapi32", "crypt32", "user32"], [str(static_lib)], sanitize
    if sys.platform == "darwin":
        hide = ["-Wl,-exported_symbol,_PyInit_*", "-Wl,-exported_symbol,_cffi_pypyinit_*"]
        return [], [str(static_lib)], hide + sanitize
    return ["dl", "pthread"], [str(static_lib)], ["-Wl,--exclude-libs,ALL", *sanitize]


def _compile_args() -> list[str]:
    if sys.platform == "win32":
        return ["/std:c11", "/experimental:c11atomics"]
    args = ["-std=c11", "-O2", "-fvisibility=hidden"]
    if os.environ.get("FASTMTLS_WERROR"):
        args += ["-Wall", "-Wextra", "-Werror", "-Wno-unused-parameter"]
        if sysconfig.get_config_var("Py_GIL_DISABLED"):
            # free-threaded CPython: cffi defines _CFFI_NO_LIMITED_API both on the command line
            # (setuptools_ext, "1") and in the generated source (empty), a redefinition warning
            # that -Werror would make fatal; the source's definition is the one kept
            args.append("-U_CFFI_NO_LIMITED_API")
    if os.environ.get("FASTMTLS_SANITIZE"):
        args += ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-g", "-O1"]
    if os.environ.get("FASTMTLS_COVERAGE"):
        # gcov line counts (tools/coverage.sh): unoptimized, so every source line keeps its code
        args += ["--coverage", "-g", "-O0"]
    return args


include_dirs, library_dirs = _openssl_paths()
_found_inc, _found_lib = _check_headers(include_dirs)
include_dirs += _found_inc
library_dirs += _found_lib
_static = _static_libcrypto()
libraries, extra_objects, extra_link_args = _link_options(_static)
# a shared libcrypto outside the loader's default path (FASTMTLS_OPENSSL_DIR, a Homebrew keg, a
# conda prefix): found at import through the module's run path, not by whatever libcrypto of
# the same soname the system has
runtime_library_dirs = library_dirs if _static is None and sys.platform != "win32" else []

ffibuilder = FFI()
ffibuilder.cdef(CDEF)
ffibuilder.set_source(
    "fastmtls._native",
    '#include "fastmtls.h"\n'
    "const char *fm_crypto_version(void);\n"
    "static const char *fm_version_string(void) { return FM_VERSION; }\n",
    sources=[str(Path("csrc") / s) for s in SOURCES],
    depends=[str(p.relative_to(HERE.parent)) for p in sorted(HERE.glob("*.h"))]
    + ["csrc/include/fastmtls.h"],
    include_dirs=[str(Path("csrc") / "include"), "csrc", *include_dirs],
    library_dirs=library_dirs,
    runtime_library_dirs=runtime_library_dirs,
    libraries=libraries,
    extra_objects=extra_objects,
    extra_compile_args=_compile_args(),
    extra_link_args=extra_link_args,
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
