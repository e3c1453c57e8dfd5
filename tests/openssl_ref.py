"""OpenSSL's own formatting of certificate fields, in process: ctypes on the system libcrypto
(the library the `openssl` command uses), for comparisons over thousands of certificates where a
subprocess per certificate would take minutes.

Each string is produced by the OpenSSL function FIELDS.md names: X509_NAME_print_ex with
XN_FLAG_RFC2253 (`openssl x509 -nameopt RFC2253`), X509_NAME_oneline (`-nameopt compat`),
i2a_ASN1_INTEGER (`-serial`), ASN1_TIME_print (`-startdate`), X509_digest and
X509_get0_subject_key_id.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
from typing import Any

# Linux only by default: macOS aborts a process that loads its unversioned system libcrypto;
# FASTMTLS_TEST_LIBCRYPTO names a library to use anywhere.
_PATH = os.environ.get("FASTMTLS_TEST_LIBCRYPTO") or (
    ctypes.util.find_library("crypto") if sys.platform.startswith("linux") else None)
_vp = ctypes.c_void_p
_SIGNATURES: list[tuple[str, Any, list[Any]]] = [
    ("OpenSSL_version_num", ctypes.c_ulong, []),
    ("d2i_X509", _vp, [_vp, ctypes.POINTER(ctypes.c_char_p), ctypes.c_long]),
    ("X509_free", None, [_vp]),
    ("X509_get_subject_name", _vp, [_vp]),
    ("X509_get_issuer_name", _vp, [_vp]),
    ("X509_NAME_oneline", _vp, [_vp, ctypes.c_char_p, ctypes.c_int]),
    ("CRYPTO_free", None, [_vp, ctypes.c_char_p, ctypes.c_int]),
    ("BIO_s_mem", _vp, []),
    ("BIO_new", _vp, [_vp]),
    ("BIO_free", ctypes.c_int, [_vp]),
    ("BIO_ctrl", ctypes.c_long, [_vp, ctypes.c_int, ctypes.c_long, _vp]),
    ("X509_NAME_print_ex", ctypes.c_int, [_vp, _vp, ctypes.c_int, ctypes.c_ulong]),
    ("X509_get0_serialNumber", _vp, [_vp]),
    ("i2a_ASN1_INTEGER", ctypes.c_int, [_vp, _vp]),
    ("X509_get0_notBefore", _vp, [_vp]),
    ("X509_get0_notAfter", _vp, [_vp]),
    ("ASN1_TIME_print", ctypes.c_int, [_vp, _vp]),
    ("X509_get0_subject_key_id", _vp, [_vp]),
    ("ASN1_STRING_get0_data", _vp, [_vp]),
    ("ASN1_STRING_length", ctypes.c_int, [_vp]),
    ("EVP_sha1", _vp, []),
    ("EVP_sha256", _vp, []),
    ("X509_digest", ctypes.c_int, [_vp, _vp, ctypes.c_char_p, ctypes.POINTER(ctypes.c_uint)]),
    ("ERR_clear_error", None, []),
]


def _load() -> Any:
    if _PATH is None:
        return None
    try:
        lib = ctypes.CDLL(_PATH)
        for name, res, args in _SIGNATURES:
            fn = getattr(lib, name)
            fn.restype, fn.argtypes = res, args
    except (OSError, AttributeError):  # not OpenSSL 3 (or 1.1.1) libcrypto
        return None
    return lib


_lib = _load()
AVAILABLE = _lib is not None
XN_FLAG_RFC2253 = 0x1110317  # ASN1_STRFLGS_RFC2253 | SEP_COMMA_PLUS | DN_REV | DUMP_UNKNOWN_FIELDS
_BIO_CTRL_INFO = 3


def _bio_text(fill: Any) -> str:
    bio = _lib.BIO_new(_lib.BIO_s_mem())
    try:
        if fill(bio) < 0:
            raise ValueError("OpenSSL could not print the value")
        data = ctypes.c_char_p()
        n = _lib.BIO_ctrl(bio, _BIO_CTRL_INFO, 0, ctypes.byref(data))
        return ctypes.string_at(data, n).decode("latin-1")
    finally:
        _lib.BIO_free(bio)


def _oneline(name: Any) -> str:
    p = _lib.X509_NAME_oneline(name, None, 0)
    if not p:
        raise ValueError("X509_NAME_oneline failed")
    try:
        return ctypes.string_at(p).decode("latin-1")
    finally:
        _lib.CRYPTO_free(p, b"", 0)


def _digest(x: Any, md: Any) -> str:
    buf = ctypes.create_string_buffer(64)
    n = ctypes.c_uint(0)
    if _lib.X509_digest(x, md, buf, ctypes.byref(n)) != 1:
        raise ValueError("X509_digest failed")
    return buf.raw[: n.value].hex()


def cert_fields(der: bytes) -> dict[str, str] | None:
    """The fields() of FIELDS.md as OpenSSL formats them for the certificate ``der`` (keyed by
    fastmtls's field names), or None when OpenSSL cannot parse it."""
    buf = ctypes.c_char_p(der)
    x = _lib.d2i_X509(None, ctypes.byref(buf), len(der))
    try:
        if not x:
            return None
        out: dict[str, str] = {}
        for part, get in (("subject", _lib.X509_get_subject_name),
                          ("issuer", _lib.X509_get_issuer_name)):  # fmt: skip
            name = get(x)
            rfc2253 = _bio_text(lambda b, n=name: _lib.X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253))
            out[f"cert_{part}_dn"] = out[f"cert_{part}_dn_rfc2253"] = rfc2253
            out[f"cert_{part}_dn_legacy"] = _oneline(name)
        serial = _bio_text(lambda b: _lib.i2a_ASN1_INTEGER(b, _lib.X509_get0_serialNumber(x)))
        out["cert_serial"] = serial.replace("\\\n", "")  # i2a breaks lines past 35 octets
        for field, get in (("cert_not_before", _lib.X509_get0_notBefore),
                           ("cert_not_after", _lib.X509_get0_notAfter)):  # fmt: skip
            t = get(x)
            out[field] = _bio_text(lambda b, t=t: _lib.ASN1_TIME_print(b, t))
        out["cert_fingerprint_sha1"] = _digest(x, _lib.EVP_sha1())
        out["cert_fingerprint_sha256"] = _digest(x, _lib.EVP_sha256())
        ski = _lib.X509_get0_subject_key_id(x)
        out["cert_ski"] = "" if not ski else ctypes.string_at(
            _lib.ASN1_STRING_get0_data(ski), _lib.ASN1_STRING_length(ski)).hex().upper()
        return out
    finally:
        if x:
            _lib.X509_free(x)
        _lib.ERR_clear_error()
