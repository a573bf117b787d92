"""The hook tests use the shared fixtures of ``tests/fixtures`` (isolation, ``set_conn``)."""
