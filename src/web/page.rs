//! HTML answers: the content type and the security headers every dashboard answer carries
//! (no caching, no sniffing, no framing, no referrer, a content security policy that lets
//! the page load only the daemon's own files).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// What the dashboard's pages allow the browser to load: only the daemon's own files.
const CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// `response` with the dashboard's security headers.
pub(crate) fn with_security_headers(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    response
}

/// An HTML page with `status` and the security headers.
pub(crate) fn html(status: StatusCode, body: String) -> Response {
    with_security_headers(
        (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            body,
        )
            .into_response(),
    )
}

/// A static file of the dashboard (`content_type`) with the security headers.
pub(crate) fn asset(content_type: &'static str, body: &'static str) -> Response {
    with_security_headers(([(header::CONTENT_TYPE, content_type)], body).into_response())
}
