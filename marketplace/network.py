"""The client address every per-address limit is keyed by (after ProxyFix, see create_app)."""
from flask import request


def client_address() -> str:
    """The peer address, or the one ProxyFix took from `TRUSTED_PROXY_COUNT` trusted hops."""
    return request.remote_addr or "unknown"
