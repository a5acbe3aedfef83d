//! The `claimcheck` command's library: each subcommand is a plain async function over its
//! clients, so the binary stays a thin argument parser and the tests drive the same code.

pub mod api;
pub mod api_auth;
pub mod commands;
pub mod config;
pub mod error;
pub mod interrupt;
#[cfg(feature = "local")]
pub mod local;
pub mod operations;
pub mod output;
pub mod parts;
pub mod progress;
pub mod queue;
pub mod stats;
pub mod transfer;

pub use error::CliError;
