//! rustls' process-wide crypto provider, installed once before any reqwest client is built
//! (reqwest panics without one).

/// Installs ring as the provider unless one is installed already.
pub fn install_crypto_provider() {
    // Err only means a provider is already installed, which is all that is needed.
    let _ = rustls::crypto::ring::default_provider().install_default();
}
