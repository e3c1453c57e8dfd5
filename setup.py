"""Build script: compiles the C core into ``fastmtls._native`` through CFFI (csrc/ffi_build.py)."""

import platform
import sys
import sysconfig

from setuptools import setup

# CFFI builds the module against the stable ABI (``_native.abi3.so``) on CPython, except on debug
# and free-threaded interpreters: tag the wheel to match (cp39-abi3: one wheel per platform for
# CPython 3.9 and later). PyPy wheels keep their own tag.
options = {}
if (
    platform.python_implementation() == "CPython"
    and not hasattr(sys, "gettotalrefcount")
    and not sysconfig.get_config_var("Py_GIL_DISABLED")
):
    options["bdist_wheel"] = {"py_limited_api": "cp39"}

setup(cffi_modules=["csrc/ffi_build.py:ffibuilder"], options=options)
