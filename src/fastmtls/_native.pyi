# Type stub for the CFFI-compiled core (csrc/ffi_build.py): its objects are dynamic.
from typing import Any

ffi: Any
lib: Any
