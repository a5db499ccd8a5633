//! # storage-tests
//!
//! The conformance suite of the storage contract, written once against
//! `Arc<dyn Storage>` (see [`conformance`]) and stamped out per backend by
//! [`conformance_suite!`]: adding a backend is one line in `tests/tests/<backend>.rs`.
//! Each test gets its own fresh database ([`harness::TestBackend::create`]) and drops
//! it afterwards, so tests run in parallel and rerun without manual steps.

pub mod backends;
pub mod capture;
pub mod conformance;
pub mod harness;
pub mod reliability;
pub mod servers;
