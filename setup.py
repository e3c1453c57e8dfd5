"""Build script: compiles the C core into ``fastmtls._native`` through CFFI (csrc/ffi_build.py)."""

from setuptools import setup

setup(cffi_modules=["csrc/ffi_build.py:ffibuilder"])
