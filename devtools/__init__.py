"""Local development and test infrastructure (a private redis-server, Sentinel): used by `dev`, the
tests and the benchmarks, never by the gateway or the worker."""
