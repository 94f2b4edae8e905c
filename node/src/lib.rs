//! The Ward node: configuration, the `ward` command line and, as they arrive, the mesh, the
//! camera endpoint and the admin API.
//!
//! Today the node crate carries the operator's PKI tooling: creating the fleet root and site
//! CAs, issuing, inspecting and verifying credentials, and signing revocations. The rules
//! themselves live in `ward-crypto`; this crate reads and writes files and talks to people.

#![warn(missing_docs)]

pub mod cli;
pub mod config;
pub mod duration;
pub mod files;
