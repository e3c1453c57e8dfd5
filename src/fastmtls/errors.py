"""One exception hierarchy for configuration and API errors.

A bad *client* chain is never an exception: it is a ``FAILED:<reason>`` result. Exceptions are for
the operator's mistakes (a CA file that is not a CA, an unknown option) and for resource failures.
Each class also inherits the matching builtin, so ``except ValueError`` keeps working.
"""

from __future__ import annotations


class FastMTLSError(Exception):
    """Base class of every exception fastmtls raises."""


class ConfigurationError(FastMTLSError, ValueError):
    """An option, argument or configuration value is invalid."""


class CertificateLoadError(ConfigurationError):
    """A configured certificate (CA, intermediate) could not be loaded: bad PEM/DER, unsupported
    key, or not a CA."""


class NotACAError(CertificateLoadError):
    """A certificate offered as a trust anchor or intermediate is not a CA (basicConstraints cA
    missing, or keyUsage without keyCertSign)."""


class LimitError(ConfigurationError):
    """A configured limit was exceeded (too many certificates, a certificate too large)."""


class NativeError(FastMTLSError, RuntimeError):
    """The C core reported an internal failure (out of memory, internal error)."""
