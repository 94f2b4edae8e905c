//! A small HTTP/1.1 client for the admin API, used by `ward status`, `ward revoke --submit`
//! and `ward join-token create`.
//!
//! One connection per request, since a command makes one or two: connect, send, read a
//! bounded body, close. The whole exchange is bounded by [`REQUEST_TIMEOUT`], so a node that
//! accepts the connection but never answers fails the command instead of hanging it.

use std::io;
use std::time::Duration;

use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Bytes;
use hyper::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HOST, USER_AGENT};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::api::{
    ErrorReport, JSON_MEDIA_TYPE, JoinTokenReport, JoinTokenRequest, REVOCATION_MEDIA_TYPE,
    StatusReport, SubmissionReport,
};
use super::token::AdminToken;

/// How long one request may take, connection included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Largest response body read. A status report lists admitted peers at ~55 bytes each, so
/// this allows thousands of peers while keeping a confused server from filling memory.
pub const MAX_RESPONSE_LEN: usize = 1024 * 1024;

/// Talks to one node's admin API.
#[derive(Debug)]
pub struct AdminClient {
    /// `host:port`, as given: used both to connect and as the `Host` header.
    addr: String,
    token: Option<AdminToken>,
}

/// Why a request to the admin API failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdminClientError {
    /// The address is not `HOST:PORT`.
    #[error("{0:?} is not an admin API address; give HOST:PORT, e.g. 127.0.0.1:7480")]
    BadAddress(String),
    /// No TCP connection could be made.
    #[error("cannot reach the admin API at {addr}: {} — is `ward run` running?", io_reason(.cause))]
    Unreachable {
        /// Where.
        addr: String,
        /// The connection error.
        cause: io::Error,
    },
    /// The node did not answer within [`REQUEST_TIMEOUT`].
    #[error("the admin API at {addr} did not answer within {} s", REQUEST_TIMEOUT.as_secs())]
    Timeout {
        /// Where.
        addr: String,
    },
    /// The HTTP exchange broke off.
    #[error("the HTTP exchange with the admin API at {addr} failed")]
    Http {
        /// Where.
        addr: String,
        /// What hyper reported.
        source: hyper::Error,
    },
    /// The node wants a token, and none or a wrong one was given.
    #[error(
        "the admin API at {addr} requires its admin token: pass --token-file (or set \
         WARD_ADMIN_TOKEN_FILE) naming the node's token file"
    )]
    Unauthorized {
        /// Where.
        addr: String,
    },
    /// The node answered with an error status.
    #[error("the node answered {status}: {reason}")]
    Refused {
        /// The HTTP status.
        status: StatusCode,
        /// The node's reason, from its error body.
        reason: String,
    },
    /// The answer was not what the API documents.
    #[error("the admin API at {addr} sent an unexpected answer: {detail}")]
    BadResponse {
        /// Where.
        addr: String,
        /// What was wrong with it.
        detail: String,
    },
}

impl AdminClient {
    /// A client for the admin API at `addr` (`HOST:PORT`, optionally prefixed `http://`),
    /// presenting `token` if given.
    pub fn new(addr: &str, token: Option<AdminToken>) -> Result<AdminClient, AdminClientError> {
        let bare = addr.strip_prefix("http://").unwrap_or(addr);
        let bare = bare.strip_suffix('/').unwrap_or(bare);
        // The address becomes a Host header and a connect target: no path, no userinfo.
        let has_port = bare
            .rsplit_once(':')
            .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
        if !has_port || bare.contains(['/', '@', ' ']) {
            return Err(AdminClientError::BadAddress(addr.to_owned()));
        }
        Ok(AdminClient {
            addr: bare.to_owned(),
            token,
        })
    }

    /// The address requests go to.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// `GET /v1/status`.
    pub async fn status(&self) -> Result<StatusReport, AdminClientError> {
        let (status, body) = self.exchange(Method::GET, "/v1/status", None).await?;
        match status {
            StatusCode::OK => self.parse(&body),
            _ => Err(self.refusal(status, &body)),
        }
    }

    /// `POST /v1/revocations` with the bytes of a signed revocation file. `Ok` when the node
    /// enforces it, newly (`applied`) or already; `Refused` with the node's reason otherwise.
    pub async fn submit_revocation(
        &self,
        revocation: &[u8],
    ) -> Result<SubmissionReport, AdminClientError> {
        let body = Bytes::copy_from_slice(revocation);
        let (status, body) = self
            .exchange(
                Method::POST,
                "/v1/revocations",
                Some((body, REVOCATION_MEDIA_TYPE)),
            )
            .await?;
        match status {
            StatusCode::CREATED | StatusCode::OK => {
                let report: SubmissionReport = self.parse(&body)?;
                // The status code and the body must tell the same story.
                if report.applied != (status == StatusCode::CREATED) {
                    return Err(self.bad_response(format!(
                        "status {status} contradicts \"applied\": {}",
                        report.applied
                    )));
                }
                Ok(report)
            }
            _ => Err(self.refusal(status, &body)),
        }
    }

    /// `POST /v1/join-tokens`: a join token for `role` (`node` or `camera`) that lives
    /// `ttl_secs`, recorded by the site registry before it is returned.
    pub async fn create_join_token(
        &self,
        role: &str,
        ttl_secs: u64,
    ) -> Result<JoinTokenReport, AdminClientError> {
        let request = JoinTokenRequest {
            role: role.to_owned(),
            ttl_secs,
        };
        let body = serde_json::to_vec(&request)
            .map_err(|e| self.bad_response(format!("cannot encode the request: {e}")))?;
        let (status, body) = self
            .exchange(
                Method::POST,
                "/v1/join-tokens",
                Some((Bytes::from(body), JSON_MEDIA_TYPE)),
            )
            .await?;
        match status {
            StatusCode::CREATED => self.parse(&body),
            _ => Err(self.refusal(status, &body)),
        }
    }

    /// Sends one request, with a body of the given media type if any, on a fresh connection
    /// and reads the bounded answer.
    async fn exchange(
        &self,
        method: Method,
        path: &str,
        body: Option<(Bytes, &'static str)>,
    ) -> Result<(StatusCode, Bytes), AdminClientError> {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, &self.addr)
            .header(ACCEPT, "application/json")
            .header(USER_AGENT, concat!("ward/", env!("CARGO_PKG_VERSION")));
        if let Some((_, media_type)) = &body {
            request = request.header(CONTENT_TYPE, *media_type);
        }
        if let Some(token) = &self.token {
            request = request.header(AUTHORIZATION, token.authorization());
        }
        let request = request
            .body(Full::new(body.map(|(bytes, _)| bytes).unwrap_or_default()))
            .map_err(|_| AdminClientError::BadAddress(self.addr.clone()))?;
        tokio::time::timeout(REQUEST_TIMEOUT, self.send(request))
            .await
            .map_err(|_| AdminClientError::Timeout {
                addr: self.addr.clone(),
            })?
    }

    async fn send(
        &self,
        request: Request<Full<Bytes>>,
    ) -> Result<(StatusCode, Bytes), AdminClientError> {
        let http = |source| AdminClientError::Http {
            addr: self.addr.clone(),
            source,
        };
        let stream = TcpStream::connect(&self.addr).await.map_err(|cause| {
            AdminClientError::Unreachable {
                addr: self.addr.clone(),
                cause,
            }
        })?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(http)?;
        // `connection` moves the bytes; it finishes once `sender`, owned by the exchange
        // below, is dropped at the end of it, so the two are driven together.
        let exchange = async move {
            let response = sender.send_request(request).await.map_err(http)?;
            let status = response.status();
            let body = Limited::new(response.into_body(), MAX_RESPONSE_LEN)
                .collect()
                .await
                .map_err(|e| {
                    self.bad_response(format!(
                        "the body is unreadable or longer than {MAX_RESPONSE_LEN} bytes ({e})"
                    ))
                })?
                .to_bytes();
            Ok((status, body))
        };
        let (answer, _) = tokio::join!(exchange, connection);
        // A connection error also fails the exchange, which reports it.
        answer
    }

    fn parse<T: serde::de::DeserializeOwned>(&self, body: &[u8]) -> Result<T, AdminClientError> {
        serde_json::from_slice(body)
            .map_err(|e| self.bad_response(format!("the JSON body does not parse: {e}")))
    }

    /// The error for an error status, carrying the node's reason when it gave one.
    fn refusal(&self, status: StatusCode, body: &[u8]) -> AdminClientError {
        if status == StatusCode::UNAUTHORIZED {
            return AdminClientError::Unauthorized {
                addr: self.addr.clone(),
            };
        }
        let reason = match serde_json::from_slice::<ErrorReport>(body) {
            Ok(report) => report.error,
            // Not our API's error body: show a little of it, as text, to help find out what
            // is listening there instead.
            Err(_) => String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
        };
        AdminClientError::Refused { status, reason }
    }

    fn bad_response(&self, detail: String) -> AdminClientError {
        AdminClientError::BadResponse {
            addr: self.addr.clone(),
            detail,
        }
    }
}

/// An I/O error as an operator would say it: "connection refused", not
/// "Connection refused (os error 111)".
fn io_reason(error: &io::Error) -> String {
    match error.kind() {
        io::ErrorKind::ConnectionRefused => "connection refused".to_owned(),
        io::ErrorKind::TimedOut => "connection timed out".to_owned(),
        _ => error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_host_and_port() {
        for good in [
            "127.0.0.1:7480",
            "http://127.0.0.1:7480/",
            "localhost:1",
            "[::1]:7480",
        ] {
            assert!(AdminClient::new(good, None).is_ok(), "{good}");
        }
        for bad in [
            "127.0.0.1",
            ":7480",
            "127.0.0.1:http",
            "127.0.0.1:70000",
            "https://127.0.0.1:7480",
            "127.0.0.1:7480/v1",
            "user@127.0.0.1:7480",
        ] {
            assert!(AdminClient::new(bad, None).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn an_unreachable_node_is_named_with_a_hint() {
        // Bind then drop a listener, so the port is very likely closed.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        drop(listener);
        let client = AdminClient::new(&addr, None).expect("valid address");
        let error = client.status().await.expect_err("nothing listens");
        let message = error.to_string();
        assert!(message.contains(&addr), "{message}");
        assert!(message.contains("is `ward run` running?"), "{message}");
    }

    #[tokio::test]
    async fn a_silent_node_times_out() {
        // Accepts connections (the kernel does) but never answers.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let client = AdminClient::new(&addr, None).expect("valid address");
        let error = client.status().await.expect_err("no answer");
        assert!(matches!(error, AdminClientError::Timeout { .. }), "{error}");
    }
}
