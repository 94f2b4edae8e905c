//! What Ward's fuzz targets and their seed generator share: a fixed fleet, the token
//! target's input format, fixed EDHOC parties with their genuine handshake, a fixed OSCORE
//! context with its genuine requests, the fleet as a mesh node sees it, and genuine Raft
//! messages of a site registry.
//!
//! A fuzzer that only ever sees random bytes stops at the first length or tag check. The
//! targets therefore check decoded objects against a fleet whose keys are fixed here, and
//! `make_seeds` writes seed inputs signed by those same keys, so the seeds already pass
//! signature, chain and revocation checks and every mutation of them starts deep inside the
//! code under test.

#![forbid(unsafe_code)]

pub mod edhoc_parties;
pub mod fleet;
pub mod gate_script;
pub mod mesh;
pub mod oscore_pair;
pub mod registry;
