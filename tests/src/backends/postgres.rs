//! Test factory for postgres (being written).
