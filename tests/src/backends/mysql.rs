//! Test factory for mysql (being written).
