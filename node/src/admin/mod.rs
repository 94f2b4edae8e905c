//! The node's admin API: HTTP and JSON on loopback, for operators and their scripts.
//!
//! ```text
//! ward status ─┐                       ┌─ GET  /healthz          the process serves
//! ward revoke  ├─ client ── HTTP/1.1 ──┤  GET  /readyz           the mesh task answers
//!   --submit   │                       │  GET  /v1/status        the mesh and the site's Raft
//! ward join-   │                       │  POST /v1/revocations   submit a signed revocation
//!  token create│                       │  POST /v1/join-tokens   a join token, through Raft
//! curl, Prom. ─┘               server ─┴─ GET  /metrics          OpenMetrics text
//! ```
//!
//! ```text
//! api       the JSON bodies both sides exchange, and the media types
//! token     the bearer token that guards every route but /healthz
//! server    the axum router over a running mesh
//! listener  the TCP listener under it, bounding the connections open at once
//! client    the small hyper client the `ward` command uses
//! ```
//!
//! The API only reads the mesh's state, hands it revocations and hands the site registry join
//! tokens to record; it decides nothing itself.
//! A submitted revocation is checked by the mesh exactly as one received by gossip, so the
//! API cannot make a node enforce anything a peer could not. The routes, status codes and
//! bodies are documented for operators in `docs/admin-api.md` and `docs/admin-api.openapi.json`.

pub mod api;
pub mod client;
mod listener;
mod server;
mod token;

pub use client::{AdminClient, AdminClientError};
pub use listener::MAX_CONNECTIONS;
pub use server::{Services, serve};
pub use token::{AdminToken, MIN_TOKEN_LEN};

/// Where the admin API listens unless told otherwise: loopback only, so reaching it from
/// another machine is a deliberate choice that comes with a token.
pub const DEFAULT_ADMIN_ADDR: &str = "127.0.0.1:7480";
