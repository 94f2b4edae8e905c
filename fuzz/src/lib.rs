//! What Ward's fuzz targets and their seed generator share: a fixed fleet and the token
//! target's input format.
//!
//! A fuzzer that only ever sees random bytes stops at the first length or tag check. The
//! targets therefore check decoded objects against a fleet whose keys are fixed here, and
//! `make_seeds` writes seed inputs signed by those same keys, so the seeds already pass
//! signature, chain and revocation checks and every mutation of them starts deep inside the
//! code under test.

#![forbid(unsafe_code)]

pub mod fleet;
pub mod gate_script;
