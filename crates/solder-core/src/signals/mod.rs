//! The three signal families' handles (DESIGN.md §4). Each is an async call returning
//! `Result<(), ConsumeError>` and travels through the language as a capsule value.
pub mod logs;
pub mod metrics;
pub mod otlp;
