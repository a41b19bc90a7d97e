//! Criterion benchmarks of sherd's end-to-end hot paths, and the benchmark dashboard.
