//! The admin API server: an axum router over a [`MeshClient`].
//!
//! ```text
//! request ─┬─ /healthz ────────────────────────────────────── 200 "ok"
//!          └─ any other ── token configured and not presented? ── 401
//!                  ├─ /readyz, /v1/status ─ mesh.status() ──────── 200 | 503
//!                  ├─ /v1/revocations ─ media type, bounded body,
//!                  │      decode, mesh.submit_revocation() ─────── 201 | 200 | 4xx | 503
//!                  └─ /metrics ─ the registry, encoded ─────────── 200
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
    ErrorReport, MAX_SUBMISSION_LEN, OCTET_STREAM_MEDIA_TYPE, OPENMETRICS_MEDIA_TYPE,
    REVOCATION_MEDIA_TYPE, ReadyReport, StatusReport, SubmissionReport,
};
use super::listener::{BoundedListener, IDLE_TIMEOUT, MAX_CONNECTIONS};
use super::token::AdminToken;
use crate::mesh::{MeshClient, MeshError, MeshStatus, Submitted};

/// How long a handler waits for the mesh task before answering 503. The task answers in
/// microseconds when healthy; seconds mean it is stuck.
const MESH_TIMEOUT: Duration = Duration::from_secs(5);

/// Serves the admin API on `listener` until `shutdown` completes, then finishes the requests
/// in flight and returns.
///
/// Without a token (`auth` is `None`) the API is open to whoever can connect, so it refuses
/// to start unless `listener` is bound to a loopback address.
pub async fn serve(
    listener: TcpListener,
    mesh: MeshClient,
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
    let app = router(Arc::new(AdminState { mesh, auth }));
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
    auth: Option<AdminToken>,
}

type Shared = Arc<AdminState>;

fn router(state: Shared) -> Router {
    let guarded = Router::new()
        .route("/readyz", get(readyz))
        .route("/v1/status", get(status))
        .route("/v1/revocations", post(submit_revocation))
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
    Ok(Json(StatusReport::from(status)))
}

async fn metrics(State(state): State<Shared>) -> impl IntoResponse {
    let text = state.mesh.metrics().encode();
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

/// Accepts the revocation media type, or a generic binary one; parameters are ignored.
fn check_media_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let media_type = headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(str::trim);
    match media_type {
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

/// Reads at most [`MAX_SUBMISSION_LEN`] bytes of `body`; a longer one is refused before it is
/// buffered.
async fn read_bounded(body: Body) -> Result<Bytes, ApiError> {
    match Limited::new(body, MAX_SUBMISSION_LEN).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("a revocation is at most {MAX_SUBMISSION_LEN} bytes"),
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
