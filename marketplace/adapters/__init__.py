"""One small adapter per library for the few things the service needs that the library does
not offer publicly. Each adapter names the private attributes it relies on and checks them
(`tests/test_adapters.py`), so an upgrade that removes one fails loudly, with its name.
"""
from __future__ import annotations


def gone(private: str, adapter: str, needs: str) -> RuntimeError:
    """What an adapter's `check()` raises when an upgrade removed or changed `private`."""
    return RuntimeError(f"{private} is gone or changed; marketplace/adapters/{adapter}.py "
                        f"needs {needs}")
