"""One small adapter per library for the few things the service needs that the library does
not offer publicly. Each adapter names the private attributes it relies on and checks them
(`tests/test_adapters.py`), so an upgrade that removes one fails loudly, with its name.
"""
