//! The admin API server: an axum router over a [`MeshClient`] and, on a node that is a member
//! of its site's registry, its replica.
//!
//! ```text
//! request ─┬─ /healthz ────────────────────────────────────── 200 "ok"
//!          └─ any other ── token configured and not presented? ── 401
//!                  ├─ /readyz, /v1/status ─ mesh.status() ──────── 200 | 503
//!                  ├─ /v1/revocations ─ media type, bounded body,
//!                  │      decode, mesh.submit_revocation() ─────── 201 | 200 | 4xx | 503
//!                  ├─ /v1/join-tokens ─ JSON, bounded body, role and lifetime,
//!                  │      site.create_join_token() through Raft ── 201 | 4xx | 409 | 503
//!                  └─ /metrics ─ the metrics, encoded ──────────── 200
//! ```
//!
//! Each handler does one call to the mesh task and turns its answer into JSON; every call is
//! bounded by a timeout so a wedged mesh makes the API answer 503, never hang.

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use tokio::net::TcpListener;
use tracing::{debug, error, info};
use ward_crypto::Revocation;

use super::api::{
    ErrorReport, JSON_MEDIA_TYPE, JoinTokenReport, JoinTokenRequest, MAX_JSON_REQUEST_LEN,
    MAX_SUBMISSION_LEN, OCTET_STREAM_MEDIA_TYPE, OPENMETRICS_MEDIA_TYPE, REVOCATION_MEDIA_TYPE,
    ReadyReport, StatusReport, SubmissionReport,
};
use super::listener::{BoundedListener, IDLE_TIMEOUT, MAX_CONNECTIONS};
use super::token::AdminToken;
use crate::mesh::{MeshClient, MeshError, MeshStatus, Submitted};
use crate::site::{SiteError, SiteRegistry};
use ward_consensus::TokenRole;

/// How long a handler waits for the mesh task before answering 503. The task answers in
/// microseconds when healthy; seconds mean it is stuck.
const MESH_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a handler waits for the site registry to commit before answering 503: a little
/// above the registry's own write timeout, so its answer comes first.
const REGISTRY_TIMEOUT: Duration = Duration::from_secs(6);

/// What the admin API serves: the mesh, and the site registry when the node is a member.
#[derive(Clone)]
pub struct Services {
    /// The node's mesh.
    pub mesh: MeshClient,
    /// The node's replica of its site registry, if it has one.
    pub site: Option<Arc<dyn SiteRegistry>>,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services")
            .field("site", &self.site.is_some())
            .finish_non_exhaustive()
    }
}

impl Services {
    /// The mesh alone, for a node outside any site registry.
    pub fn mesh_only(mesh: MeshClient) -> Services {
        Services { mesh, site: None }
    }
}

/// Serves the admin API on `listener` until `shutdown` completes, then finishes the requests
/// in flight and returns.
///
/// Without a token (`auth` is `None`) the API is open to whoever can connect, so it refuses
/// to start unless `listener` is bound to a loopback address.
pub async fn serve(
    listener: TcpListener,
    services: Services,
    auth: Option<AdminToken>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let addr = listener.local_addr()?;
    if auth.is_none() && !addr.ip().is_loopback() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "the admin API would listen on {addr}, beyond loopback, without a token; \
                 configure a token file or listen on 127.0.0.1"
            ),
        ));
    }
    debug!(%addr, token = auth.is_some(), "admin API serving");
    let app = router(Arc::new(AdminState {
        mesh: services.mesh,
        site: services.site,
        auth,
    }));
    axum::serve(
        BoundedListener::new(listener, MAX_CONNECTIONS, IDLE_TIMEOUT),
        app,
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// What every handler shares.
struct AdminState {
    mesh: MeshClient,
    site: Option<Arc<dyn SiteRegistry>>,
    auth: Option<AdminToken>,
}

type Shared = Arc<AdminState>;

fn router(state: Shared) -> Router {
    let guarded = Router::new()
        .route("/readyz", get(readyz))
        .route("/v1/status", get(status))
        .route("/v1/revocations", post(submit_revocation))
        .route("/v1/join-tokens", post(create_join_token))
        .route("/metrics", get(metrics))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token));
    // /healthz stays open: a supervisor probing liveness should not need the secret.
    Router::new()
        .route("/healthz", get(healthz))
        .merge(guarded)
        .fallback(not_found)
        .with_state(state)
}

/// Turns away requests without the configured bearer token.
async fn require_token(State(state): State<Shared>, request: Request, next: Next) -> Response {
    if let Some(token) = &state.auth {
        let admitted = request
            .headers()
            .get(AUTHORIZATION)
            .is_some_and(|value| token.admits(value));
        if !admitted {
            debug!(path = %request.uri().path(), "admin request without a valid token");
            return ApiError::unauthorized().into_response();
        }
    }
    next.run(request).await
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(state): State<Shared>) -> Result<Json<ReadyReport>, ApiError> {
    mesh_status(&state.mesh).await?;
    Ok(Json(ReadyReport { ready: true }))
}

async fn status(State(state): State<Shared>) -> Result<Json<StatusReport>, ApiError> {
    let status = mesh_status(&state.mesh).await?;
    let mut report = StatusReport::from(status);
    report.site = state.site.as_ref().map(|site| site.status());
    Ok(Json(report))
}

async fn create_join_token(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<JoinTokenReport>), ApiError> {
    let Some(site) = &state.site else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "this node is not a member of its site's registry",
        ));
    };
    check_json(&headers)?;
    let bytes = read_limited(body, MAX_JSON_REQUEST_LEN).await?;
    let request: JoinTokenRequest = serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("expected {{\"role\": \"node\" or \"camera\", \"ttl_secs\": N}}: {e}"),
        )
    })?;
    let role = match request.role.as_str() {
        "node" => TokenRole::Node,
        "camera" => TokenRole::Camera,
        _ => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "role must be \"node\" or \"camera\"",
            ));
        }
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|_| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the clock is before 1970",
            )
        })?
        .as_secs();
    let ttl = Duration::from_secs(request.ttl_secs);
    let created = tokio::time::timeout(REGISTRY_TIMEOUT, site.create_join_token(role, ttl, now))
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the site registry did not commit the token in time",
            )
        })?;
    match created {
        Ok(issued) => {
            // The id only: the secret goes to the caller and nowhere else.
            info!(token = %issued.token.id_hex(), role = %request.role, expires_at = issued.expires_at, "join token created");
            Ok((
                StatusCode::CREATED,
                Json(JoinTokenReport {
                    token: issued.token.expose().to_string(),
                    id: issued.token.id_hex(),
                    role: request.role,
                    expires_at: issued.expires_at,
                }),
            ))
        }
        Err(SiteError::Invalid(reason)) => Err(ApiError::new(StatusCode::BAD_REQUEST, reason)),
        Err(e @ SiteError::Refused(_)) => Err(ApiError::new(StatusCode::CONFLICT, e.to_string())),
        Err(e) => {
            error!(error = %e, "join token not created");
            Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the site registry is unavailable; see the node's log",
            ))
        }
    }
}

async fn metrics(State(state): State<Shared>) -> impl IntoResponse {
    let metrics = state.mesh.metrics();
    if let Some(site) = &state.site {
        metrics.record_site(&site.status());
    }
    let text = metrics.encode();
    ([(CONTENT_TYPE, OPENMETRICS_MEDIA_TYPE)], text)
}

async fn submit_revocation(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<SubmissionReport>), ApiError> {
    // Step 1: only a revocation file is accepted, and only as much of it as one can be.
    check_media_type(&headers)?;
    let bytes = read_bounded(body).await?;

    // Step 2: decoding checks the structure only; who signed it is the mesh's question, asked
    // exactly as for a revocation received by gossip.
    let revocation = Revocation::decode(&bytes).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("the body is not a signed Ward revocation: {e}"),
        )
    })?;
    let report = SubmissionReport::new(&revocation, true);
    let submitted = tokio::time::timeout(MESH_TIMEOUT, state.mesh.submit_revocation(revocation))
        .await
        .map_err(|_| ApiError::mesh_unresponsive())?;

    // Step 3: report what the mesh did with it.
    match submitted {
        Ok(Submitted::Applied) => {
            info!(issuer = %report.issuer, target = %report.target, "revocation submitted");
            Ok((StatusCode::CREATED, Json(report)))
        }
        Ok(Submitted::AlreadyEnforced) => {
            debug!(issuer = %report.issuer, target = %report.target, "revocation already enforced");
            let report = SubmissionReport {
                applied: false,
                ..report
            };
            Ok((StatusCode::OK, Json(report)))
        }
        Err(MeshError::RevocationInvalid(reason)) => {
            info!(issuer = %report.issuer, %reason, "submitted revocation refused");
            Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("the node refuses this revocation: {reason}"),
            ))
        }
        Err(e) => Err(ApiError::from_mesh(&e)),
    }
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "no such route")
}

/// Asks the mesh for its status, within [`MESH_TIMEOUT`].
async fn mesh_status(mesh: &MeshClient) -> Result<MeshStatus, ApiError> {
    tokio::time::timeout(MESH_TIMEOUT, mesh.status())
        .await
        .map_err(|_| ApiError::mesh_unresponsive())?
        .map_err(|e| ApiError::from_mesh(&e))
}

/// The request's media type without its parameters, if it names one.
fn media_type(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(str::trim)
}

/// Accepts the revocation media type, or a generic binary one; parameters are ignored.
fn check_media_type(headers: &HeaderMap) -> Result<(), ApiError> {
    match media_type(headers) {
        Some(t)
            if t.eq_ignore_ascii_case(REVOCATION_MEDIA_TYPE)
                || t.eq_ignore_ascii_case(OCTET_STREAM_MEDIA_TYPE) =>
        {
            Ok(())
        }
        _ => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("send the revocation file as {REVOCATION_MEDIA_TYPE}"),
        )),
    }
}

/// Accepts a JSON body only.
fn check_json(headers: &HeaderMap) -> Result<(), ApiError> {
    match media_type(headers) {
        Some(t) if t.eq_ignore_ascii_case(JSON_MEDIA_TYPE) => Ok(()),
        _ => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("send the request as {JSON_MEDIA_TYPE}"),
        )),
    }
}

/// Reads at most [`MAX_SUBMISSION_LEN`] bytes of `body`; a longer one is refused before it is
/// buffered.
async fn read_bounded(body: Body) -> Result<Bytes, ApiError> {
    read_limited(body, MAX_SUBMISSION_LEN).await
}

/// Reads at most `limit` bytes of `body`; a longer one is refused before it is buffered.
async fn read_limited(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("this request is at most {limit} bytes"),
        )),
        Err(e) => {
            debug!(error = %e, "cannot read an admin request body");
            Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "cannot read the request body",
            ))
        }
    }
}

/// An error response: a status and a message for the operator, as an [`ErrorReport`].
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }

    fn unauthorized() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "this route requires Authorization: Bearer <admin token>",
        )
    }

    fn mesh_unresponsive() -> ApiError {
        error!(timeout = ?MESH_TIMEOUT, "mesh task did not answer the admin API");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the mesh did not answer in time",
        )
    }

    /// The caller learns that the node cannot serve, not why: the detail (a store path, an
    /// I/O error) is for the node's log.
    fn from_mesh(e: &MeshError) -> ApiError {
        match e {
            MeshError::Stopped => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "the mesh has stopped")
            }
            MeshError::Store(_) => {
                error!(error = %e, "admin request failed in the store");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the node cannot write to its store",
                )
            }
            _ => {
                error!(error = %e, "admin request failed in the mesh");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the mesh failed; see the node's log",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Json(ErrorReport {
            error: self.message,
        });
        let mut response = (self.status, body).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            // RFC 6750 §3: a 401 names the scheme the client should use.
            response.headers_mut().insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"ward\""),
            );
        }
        response
    }
}
