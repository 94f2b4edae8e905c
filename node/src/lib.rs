//! The Ward node: configuration, the `ward` command line, the mesh and its store, and, as they
//! arrive, the camera endpoint and the admin API.
//!
//! The command line carries the operator's PKI tooling: creating the fleet root and site CAs,
//! issuing, inspecting and verifying credentials, and signing revocations. The rules
//! themselves live in `ward-crypto`; this crate reads and writes files and talks to people.
//! [`mesh`] admits other nodes into the libp2p mesh by their credentials; [`store`] keeps the
//! mesh state that must outlive a restart.

#![warn(missing_docs)]

pub mod admin;
pub mod cli;
pub mod config;
pub mod datadir;
pub mod duration;
pub mod files;
pub mod join;
pub mod logging;
pub mod mesh;
pub mod metrics;
pub mod site;
pub mod store;
