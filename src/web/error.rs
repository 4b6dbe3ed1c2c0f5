//! `WebError`: every refusal and failure an HTTP handler answers, rendering itself — the
//! JSON APIs as `{"error": message}` with the status, the dashboard as a small HTML page
//! (a request that needs the key with a Basic challenge, so that a browser asks for it).

use askama::Template;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::access::Access;
use super::page;

/// Why a request is not answered as asked; the message is the `error` text.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WebError {
    /// The policy endpoints and `/metrics` without the key (when one is set).
    #[error("missing or wrong API key")]
    NoKey,
    /// [`Access`] refused an API request for personal data.
    #[error("{}", .0.explanation())]
    Refused(Access),
    /// [`Access`] refused a dashboard page: an HTML answer.
    #[error("{}", .0.explanation())]
    PageRefused(Access),
    #[error("no such endpoint")]
    NoSuchEndpoint,
    /// A request the endpoint cannot take; the text says what it wants.
    #[error("{0}")]
    BadRequest(&'static str),
    #[error("the body must be application/json")]
    NotJson,
    #[error("not a policy request: {0}")]
    NotAPolicyRequest(serde_json::Error),
    /// The lookups failed and the decision is "try again later".
    #[error("lookups failed; try again later")]
    LookupsFailed,
    #[error("the decision history is off ([history] enabled = false)")]
    HistoryOff,
    /// A web page (it names its origin) asked to forget a user.
    #[error("a request with an Origin header (from a web page) may not forget")]
    FromWebPage,
    #[error("the request body did not arrive in time")]
    BodyTimeout,
    /// Something the request needs is unavailable for now (503).
    #[error("{0}")]
    Unavailable(String),
    /// The daemon failed at the request (500).
    #[error("{0}")]
    Internal(String),
    /// The daemon failed at a dashboard page (500, an HTML answer).
    #[error("{0}")]
    PageInternal(String),
}

impl WebError {
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            WebError::NoKey => StatusCode::UNAUTHORIZED,
            WebError::Refused(access) | WebError::PageRefused(access) => access.status(),
            WebError::NoSuchEndpoint | WebError::HistoryOff => StatusCode::NOT_FOUND,
            WebError::BadRequest(_) | WebError::NotAPolicyRequest(_) => StatusCode::BAD_REQUEST,
            WebError::NotJson => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            WebError::FromWebPage => StatusCode::FORBIDDEN,
            WebError::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            WebError::LookupsFailed | WebError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            WebError::Internal(_) | WebError::PageInternal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// The JSON body of an error answer.
#[derive(serde::Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
}

/// The dashboard's refusal page.
#[derive(Template)]
#[template(path = "refused.html")]
struct RefusedPage {
    code: u16,
    text: &'static str,
}

/// The dashboard's failure page.
#[derive(Template)]
#[template(path = "failed.html")]
struct FailedPage<'a> {
    message: &'a str,
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let status = self.status();
        match &self {
            WebError::PageRefused(access) => {
                let body = RefusedPage {
                    code: status.as_u16(),
                    text: access.explanation(),
                }
                .render()
                .unwrap_or_default();
                let mut response = page::html(status, body);
                if *access == Access::NeedsKey {
                    response.headers_mut().insert(
                        header::WWW_AUTHENTICATE,
                        HeaderValue::from_static("Basic realm=\"badclients\", charset=\"UTF-8\""),
                    );
                }
                response
            }
            WebError::PageInternal(message) => {
                let body = FailedPage { message }.render().unwrap_or_default();
                page::html(status, body)
            }
            _ => {
                let message = self.to_string();
                (status, Json(ErrorBody { error: &message })).into_response()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body(response: Response) -> String {
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .expect("body");
        String::from_utf8(bytes.to_vec()).expect("UTF-8")
    }

    #[tokio::test]
    async fn api_errors_are_json_with_their_status() {
        let r = WebError::NoKey.into_response();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            r.headers().get(header::CONTENT_TYPE).unwrap(),
            "application/json"
        );
        assert_eq!(body(r).await, r#"{"error":"missing or wrong API key"}"#);
        let r = WebError::BadRequest("ip must be \"an\" IP address").into_response();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert_eq!(body(r).await, r#"{"error":"ip must be \"an\" IP address"}"#);
        let r = WebError::Refused(Access::ForeignHost).into_response();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert!(body(r).await.contains("allowed_hosts"));
    }

    #[tokio::test]
    async fn refusals_say_how_to_get_in() {
        let r = WebError::PageRefused(Access::NeedsKey).into_response();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let challenge = r
            .headers()
            .get(header::WWW_AUTHENTICATE)
            .expect("challenge");
        assert!(challenge
            .to_str()
            .unwrap()
            .starts_with("Basic realm=\"badclients\""));
        assert!(body(r).await.contains("<h1>401</h1>"));
        let r = WebError::PageRefused(Access::Forbidden).into_response();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert!(r.headers().get(header::WWW_AUTHENTICATE).is_none());
        assert!(r.headers().get(header::CONTENT_SECURITY_POLICY).is_some());
    }

    #[tokio::test]
    async fn a_failed_page_escapes_its_message() {
        let r = WebError::PageInternal("<b>&".into()).into_response();
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let text = body(r).await;
        assert!(!text.contains("<b>"), "{text}");
        assert!(text.starts_with("<p>"), "{text}");
    }
}
