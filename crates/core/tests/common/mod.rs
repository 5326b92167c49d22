//! Helpers shared by the core's integration tests.

pub mod fake_module;
pub mod fake_system;
