//! Shared fixtures (being written).
