#!/usr/bin/env python3
"""Regenerate the demo PKI in ``tests/data/`` (used by README's main command and wheel smoke tests).

Writes, next to this script:

* ``ca.pem``    - the demo root CA (the trust anchor: ``fastmtls verify --ca tests/data/ca.pem``)
* ``chain.pem`` - what a client presents: the leaf, then the intermediate CA

All three certificates are P-256, valid from 2025-01-01 to 2045-01-01, built by the test PKI
factory ``tests/pki.py``. No private key is written: the demo only needs to verify.

Usage: ``python tests/data/make_demo_pki.py`` (needs ``cryptography``).
"""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import pki  # noqa: E402

NOT_BEFORE = datetime(2025, 1, 1, tzinfo=timezone.utc)
NOT_AFTER = datetime(2045, 1, 1, tzinfo=timezone.utc)


def main() -> None:
    """Build root -> intermediate -> client leaf and write ca.pem and chain.pem."""
    validity = {"not_before": NOT_BEFORE, "not_after": NOT_AFTER}
    root = pki.ca("CN=fastmtls demo root CA,O=fastmtls demo", "p256", **validity)
    inter = pki.intermediate(root, "CN=fastmtls demo intermediate CA,O=fastmtls demo", "p256",
                             path_len=0, **validity)
    leaf = pki.leaf(inter, "CN=client.example.com,O=fastmtls demo", "p256", **validity)
    (HERE / "ca.pem").write_bytes(root.pem)
    (HERE / "chain.pem").write_bytes(pki.pem_bundle(leaf, inter))
    print(f"wrote {HERE / 'ca.pem'} and {HERE / 'chain.pem'}")


if __name__ == "__main__":
    main()
