//! TLS for the HTTP clients: rustls' process-wide crypto provider, installed once before any
//! reqwest client is built (reqwest panics without one), and clients that still build on a
//! machine without CA certificates.

/// Installs ring as the provider unless one is installed already.
pub fn install_crypto_provider() {
    // Err only means a provider is already installed, which is all that is needed.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Why HTTPS cannot work: the system has no CA certificates to verify servers with.
pub const NO_CA_ROOTS: &str =
    "no CA certificates: HTTPS lookups (RDAP, cloud feeds) fail (install ca-certificates)";

/// A client from `make`'s builder that verifies servers against the system's CA
/// certificates. When the system has none (no `ca-certificates` package, or an empty
/// `SSL_CERT_FILE`), the client is built with no roots at all instead: every HTTPS request
/// then fails its certificate check and plain HTTP works, so the daemon still starts and
/// decides with what it has. The second value says why, for a warning and `/healthz`.
pub fn client_with_system_roots(
    make: impl Fn() -> reqwest::ClientBuilder,
) -> Result<(reqwest::Client, Option<String>), reqwest::Error> {
    install_crypto_provider();
    let first = match make().build() {
        Ok(client) => return Ok((client, None)),
        Err(e) => e,
    };
    match make().tls_certs_only(Vec::new()).build() {
        Ok(client) => Ok((
            client,
            Some(format!(
                "{NO_CA_ROOTS}: {}",
                crate::error_chain::error_chain(&first)
            )),
        )),
        // Not a matter of roots: the first error says what is wrong.
        Err(_) => Err(first),
    }
}
