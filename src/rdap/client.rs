//! `RdapClient`: looks up the network holding an IP address at the registry that holds it,
//! and stays away from a registry that rate-limited it until the wait it asked for is over.

use std::net::IpAddr;
use std::time::{Duration, Instant, SystemTime};

use url::Url;

use super::answer::{read_answer, AnswerProblem};
use super::backoff::Backoffs;
use super::base_urls::BaseUrls;
use super::bootstrap::{Bootstrap, RdapService};
use super::config::RdapConfig;
use super::error::RdapError;
use super::http::{build_client, fetch};
use super::network::RdapNetwork;
use super::registry::Registry;

/// An RDAP client for IP networks. Keep one per process: the rate-limit back-offs it
/// records apply to every lookup made through it.
#[derive(Debug)]
pub struct RdapClient {
    http: reqwest::Client,
    base_urls: BaseUrls,
    bootstrap: Bootstrap,
    backoffs: Backoffs,
    timeout: Duration,
    max_body_bytes: usize,
    /// The system has no CA certificates: HTTPS answers fail their certificate check.
    no_ca_roots: bool,
}

impl RdapClient {
    /// A client using the bundled IANA bootstrap files.
    pub fn new(config: RdapConfig) -> Result<RdapClient, RdapError> {
        let bootstrap = Bootstrap::bundled().map_err(|e| RdapError::Config {
            reason: e.to_string(),
        })?;
        RdapClient::with_bootstrap(config, bootstrap)
    }

    /// A client using `bootstrap` to find the registry when a lookup names none.
    pub fn with_bootstrap(
        config: RdapConfig,
        bootstrap: Bootstrap,
    ) -> Result<RdapClient, RdapError> {
        let (http, tls_problem) = build_client(&config)?;
        if let Some(problem) = &tls_problem {
            tracing::warn!(
                "{problem}; RDAP answers over HTTPS are lookup errors (lookup_error=rdap:…) until \
                 CA certificates are installed and the daemon restarted"
            );
        }
        Ok(RdapClient {
            http,
            no_ca_roots: tls_problem.is_some(),
            base_urls: BaseUrls::from_config(&config)?,
            bootstrap,
            backoffs: Backoffs::new(),
            timeout: config.timeout,
            max_body_bytes: config.max_body_bytes,
        })
    }

    /// Whether the system has no CA certificates, so that RDAP over HTTPS cannot work.
    pub fn no_ca_roots(&self) -> bool {
        self.no_ca_roots
    }

    /// The network holding `ip`, asked of `registry` (Team Cymru's answer) or, when that is
    /// `None`, of the registry the bootstrap data name. An IPv4-mapped IPv6 address is
    /// looked up as its IPv4 address. Redirects (to the registry really holding the
    /// address) are followed.
    ///
    /// While the registry is backing off after a rate limit, this returns
    /// [`RdapError::Backoff`] at once, without a request.
    pub async fn lookup(
        &self,
        ip: IpAddr,
        registry: Option<Registry>,
    ) -> Result<RdapNetwork, RdapError> {
        let ip = ip.to_canonical();
        let registry = match registry {
            Some(r) => r,
            None => self.bootstrap_registry(ip)?,
        };
        if let Some(until) = self.backoffs.active(registry, Instant::now()) {
            return Err(RdapError::Backoff { registry, until });
        }
        let url = self.base_urls.network_url(registry, ip);
        tracing::debug!(%ip, %registry, %url, "RDAP lookup");
        let fetched = fetch(&self.http, url.clone(), self.max_body_bytes, self.timeout).await?;
        let answer = read_answer(
            fetched.status,
            fetched.retry_after.as_deref(),
            &fetched.body,
            SystemTime::now(),
        );
        match answer {
            Ok(network) if network.contains(ip) => Ok(network),
            Ok(network) => Err(RdapError::NotANetwork {
                reason: format!(
                    "the network {}-{} does not contain {ip}",
                    network.start, network.end
                ),
            }),
            Err(AnswerProblem::Failed(error)) => Err(error),
            Err(AnswerProblem::RateLimited(retry_after)) => {
                let limited = self.answering_registry(&fetched.url, &url, registry);
                self.backoffs.record(limited, Instant::now() + retry_after);
                tracing::warn!(registry = %limited, ?retry_after, "RDAP rate limit; backing off");
                Err(RdapError::RateLimited {
                    registry: limited,
                    retry_after,
                })
            }
        }
    }

    /// The URL a lookup of `ip` at `registry` requests first.
    pub fn network_url(&self, registry: Registry, ip: IpAddr) -> Url {
        self.base_urls.network_url(registry, ip)
    }

    /// The instant `registry` may be asked again, while it is backing off.
    pub fn backoff_until(&self, registry: Registry) -> Option<Instant> {
        self.backoffs.active(registry, Instant::now())
    }

    /// The bootstrap data used when a lookup names no registry.
    pub fn bootstrap(&self) -> &Bootstrap {
        &self.bootstrap
    }

    fn bootstrap_registry(&self, ip: IpAddr) -> Result<Registry, RdapError> {
        match self.bootstrap.service_for(ip) {
            Some(RdapService::Registry(registry)) => Ok(*registry),
            Some(RdapService::Other(url)) => Err(RdapError::UnknownService {
                ip,
                url: url.to_string(),
            }),
            None => Err(RdapError::NoRegistry { ip }),
        }
    }

    /// The registry that answered from `answered` a request of `requested` sent to
    /// `asked`: the one asked, unless a redirect led to another registry's service.
    fn answering_registry(&self, answered: &Url, requested: &Url, asked: Registry) -> Registry {
        if answered == requested {
            return asked;
        }
        self.base_urls.registry_of(answered, asked).unwrap_or(asked)
    }
}
