"""Times given to the API (verification times, the time a revocation set is built for) as unix
seconds for the C core: one conversion, one set of errors."""

from __future__ import annotations

import datetime as _dt
import time
from typing import Union

from .errors import ConfigurationError

TimeInput = Union[_dt.datetime, int, float, None]


def unix_time(at: TimeInput, what: str = "verification time") -> int:
    """``at`` as unix seconds: None is now; a datetime must be timezone-aware; numbers must fit
    the core's 64-bit times (NaN and the infinities do not)."""
    if at is None:
        return int(time.time())
    if type(at) is int:
        if not -(2**62) <= at <= 2**62:
            raise ConfigurationError(f"{what} {at!r} out of range")
        return at
    if isinstance(at, _dt.datetime):
        if at.tzinfo is None:
            raise ConfigurationError(f"{what} must be timezone-aware (e.g. UTC)")
        return int(at.timestamp())
    if isinstance(at, (int, float)) and not isinstance(at, bool):
        if not -(2**62) <= at <= 2**62:  # also NaN and the infinities
            raise ConfigurationError(f"{what} {at!r} out of range")
        return int(at)
    raise ConfigurationError(f"unsupported {what} {at!r}")
