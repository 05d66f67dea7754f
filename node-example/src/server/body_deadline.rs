//! Slow-loris protection for the RPC server: a request's body must arrive whole, within a
//! deadline, before the server counts the request against its connection limit.
//!
//! jsonrpsee takes one of its `max_connections` permits (100) for every HTTP request as soon
//! as the headers are in, and then reads the body with no time limit. A client that sends
//! headers and a few bytes of body and then waits would hold a permit for as long as it
//! likes; a hundred such connections, which cost the sender nothing, would leave every other
//! client with `429 Too many connections`. This layer sits in front: it reads the body itself,
//! bounded in size (the server's request limit) and in time ([`REQUEST_BODY_DEADLINE`] from
//! the end of the headers), and only then hands the request, body in memory, to jsonrpsee. A
//! request whose body is late gets `408 Request Timeout` and its connection is closed; it
//! never held a permit. A body past the size limit gets the same `413` jsonrpsee gives.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use jsonrpsee::core::BoxError;
use jsonrpsee::server::http::response as rpc_response;
use jsonrpsee::server::{HttpBody, HttpRequest, HttpResponse};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// How long a request's body may take to arrive, counted from the end of its headers.
pub const REQUEST_BODY_DEADLINE: Duration = Duration::from_secs(10);

/// The [`tower::Layer`] that puts [`BodyDeadline`] in front of the server.
#[derive(Clone, Copy, Debug)]
pub struct BodyDeadlineLayer {
    /// See [`REQUEST_BODY_DEADLINE`].
    pub deadline: Duration,
    /// The largest body read, in bytes (the server's `max_request_body_size`).
    pub max_body: u32,
}

impl<S> tower::Layer<S> for BodyDeadlineLayer {
    type Service = BodyDeadline<S>;

    fn layer(&self, inner: S) -> BodyDeadline<S> {
        BodyDeadline { inner, limits: *self }
    }
}

/// Reads each request's body (see the module documentation), then calls the inner service.
#[derive(Clone, Debug)]
pub struct BodyDeadline<S> {
    inner: S,
    limits: BodyDeadlineLayer,
}

impl<S> tower::Service<HttpRequest> for BodyDeadline<S>
where
    S: tower::Service<HttpRequest, Response = HttpResponse, Error = BoxError> + Clone + Send + 'static,
    S::Future: Send,
{
    type Response = HttpResponse;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: HttpRequest) -> Self::Future {
        // The service that was polled ready serves this request; a clone takes its place.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let limits = self.limits;
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let read = Limited::new(body, limits.max_body as usize).collect();
            let body: Bytes = match tokio::time::timeout(limits.deadline, read).await {
                Ok(Ok(collected)) => collected.to_bytes(),
                Ok(Err(error)) if error.is::<http_body_util::LengthLimitError>() => {
                    return Ok(rpc_response::too_large(limits.max_body));
                }
                // The client went away or sent a malformed body: nothing to answer.
                Ok(Err(error)) => return Err(error),
                Err(_) => return Ok(request_timeout(limits.deadline)),
            };
            inner.call(HttpRequest::from_parts(parts, HttpBody::new(Full::new(body)))).await
        })
    }
}

/// `408 Request Timeout`, closing the connection.
fn request_timeout(deadline: Duration) -> HttpResponse {
    let text = format!("The request body did not arrive within {} s.\n", deadline.as_secs());
    let mut response = HttpResponse::new(HttpBody::from(text));
    *response.status_mut() = http::StatusCode::REQUEST_TIMEOUT;
    let headers = response.headers_mut();
    headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("text/plain; charset=utf-8"));
    headers.insert(http::header::CONNECTION, http::HeaderValue::from_static("close"));
    response
}
