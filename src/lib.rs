//! The `eddy-examples` package: it owns `examples/` and the cross-crate
//! integration tests in `tests/`. It has no library code of its own.
