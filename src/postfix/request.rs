//! `PolicyRequest`: one Postfix policy request, built from the `name=value` attributes
//! the [`codec`](super::codec) framed.
//!
//! Every attribute is kept in [`PolicyRequest::attributes`] as Postfix sent it (names
//! Postfix adds in later versions are simply more entries); the few the daemon decides on
//! are also parsed into typed fields. An attribute sent twice keeps its last value.

use std::collections::BTreeMap;
use std::net::IpAddr;

/// The only request type Postfix's SMTPD access policy delegation sends.
pub const SMTPD_ACCESS_POLICY: &str = "smtpd_access_policy";

/// One request of the SMTPD access policy delegation protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRequest {
    /// `client_address`: the SMTP client's IP; `None` when absent or not an IP address.
    pub client_address: Option<IpAddr>,
    /// `sasl_username`: set once the SMTP session authenticated; empty → `None`.
    pub sasl_username: Option<String>,
    /// `protocol_state`: `CONNECT`, `EHLO`, `MAIL`, `RCPT`, `DATA`, `END-OF-MESSAGE`, …;
    /// empty → `None`.
    pub protocol_state: Option<String>,
    /// `instance`: the same for every request of one message; empty → `None`.
    pub instance: Option<String>,
    /// Every attribute as received (values converted from bytes lossily).
    pub attributes: BTreeMap<String, String>,
}

/// Why a complete set of attributes is not a request this server answers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("no `request` attribute")]
    MissingRequest,
    #[error("request type {0:?} is not `smtpd_access_policy`")]
    WrongRequest(String),
}

impl PolicyRequest {
    /// Builds a request from the attributes in the order they arrived.
    pub fn from_attributes<I>(attributes: I) -> Result<Self, RequestError>
    where
        I: IntoIterator<Item = (String, String)>,
    {
        let attributes: BTreeMap<String, String> = attributes.into_iter().collect();
        match attributes.get("request").map(String::as_str) {
            None => return Err(RequestError::MissingRequest),
            Some(SMTPD_ACCESS_POLICY) => {}
            Some(other) => return Err(RequestError::WrongRequest(other.to_owned())),
        }
        Ok(PolicyRequest {
            client_address: parse_ip(attributes.get("client_address")),
            sasl_username: non_empty(attributes.get("sasl_username")),
            protocol_state: non_empty(attributes.get("protocol_state")),
            instance: non_empty(attributes.get("instance")),
            attributes,
        })
    }

    /// An attribute's value, `None` when absent or empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.attributes
            .get(name)
            .map(String::as_str)
            .filter(|value| !value.is_empty())
    }

    /// `client_name`: the verified client host name, or `unknown`.
    pub fn client_name(&self) -> Option<&str> {
        self.get("client_name")
    }

    /// `reverse_client_name`: the unverified reverse name, or `unknown`.
    pub fn reverse_client_name(&self) -> Option<&str> {
        self.get("reverse_client_name")
    }

    /// `sasl_method`: `PLAIN`, `LOGIN`, … (`XCLIENT` when forged with XCLIENT LOGIN=).
    pub fn sasl_method(&self) -> Option<&str> {
        self.get("sasl_method")
    }

    /// `sasl_sender`: the `AUTH=` parameter of `MAIL FROM`.
    pub fn sasl_sender(&self) -> Option<&str> {
        self.get("sasl_sender")
    }

    /// `helo_name`: what the client said in HELO/EHLO.
    pub fn helo_name(&self) -> Option<&str> {
        self.get("helo_name")
    }

    /// `sender`: the envelope sender (`None` for the null sender too).
    pub fn sender(&self) -> Option<&str> {
        self.get("sender")
    }

    /// `recipient`: the envelope recipient (in the RCPT state).
    pub fn recipient(&self) -> Option<&str> {
        self.get("recipient")
    }
}

/// Parses an IP address; Postfix writes IPv6 without brackets.
fn parse_ip(value: Option<&String>) -> Option<IpAddr> {
    value.and_then(|text| text.parse().ok())
}

fn non_empty(value: Option<&String>) -> Option<String> {
    value.filter(|text| !text.is_empty()).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect()
    }

    #[test]
    fn typed_fields_come_from_the_attributes() {
        let request = PolicyRequest::from_attributes(attrs(&[
            ("request", "smtpd_access_policy"),
            ("protocol_state", "RCPT"),
            ("client_address", "176.112.169.218"),
            ("sasl_username", "alice"),
            ("instance", "7899.6b095cd5.57fb9.0"),
            ("client_name", "unknown"),
            ("future_attribute", "kept"),
        ]))
        .unwrap();
        assert_eq!(
            request.client_address,
            Some("176.112.169.218".parse().unwrap())
        );
        assert_eq!(request.sasl_username.as_deref(), Some("alice"));
        assert_eq!(request.protocol_state.as_deref(), Some("RCPT"));
        assert_eq!(request.instance.as_deref(), Some("7899.6b095cd5.57fb9.0"));
        assert_eq!(request.client_name(), Some("unknown"));
        assert_eq!(request.get("future_attribute"), Some("kept"));
        assert_eq!(request.attributes.len(), 7);
    }

    #[test]
    fn empty_values_are_none() {
        let request = PolicyRequest::from_attributes(attrs(&[
            ("request", "smtpd_access_policy"),
            ("sasl_username", ""),
            ("instance", ""),
            ("client_address", ""),
            ("sender", ""),
        ]))
        .unwrap();
        assert_eq!(request.sasl_username, None);
        assert_eq!(request.instance, None);
        assert_eq!(request.client_address, None);
        assert_eq!(request.sender(), None);
        assert_eq!(
            request.attributes.get("sender").map(String::as_str),
            Some("")
        );
    }

    #[test]
    fn ipv6_and_bad_addresses() {
        let parse = |value: &str| {
            PolicyRequest::from_attributes(attrs(&[
                ("request", "smtpd_access_policy"),
                ("client_address", value),
            ]))
            .unwrap()
            .client_address
        };
        assert_eq!(parse("2001:db8::1"), Some("2001:db8::1".parse().unwrap()));
        assert_eq!(parse("[2001:db8::1]"), None);
        assert_eq!(parse("unknown"), None);
        assert_eq!(parse("8.8.8.8 "), None);
    }

    #[test]
    fn the_last_duplicate_wins() {
        let request = PolicyRequest::from_attributes(attrs(&[
            ("request", "smtpd_access_policy"),
            ("client_address", "192.0.2.1"),
            ("client_address", "192.0.2.2"),
        ]))
        .unwrap();
        assert_eq!(request.client_address, Some("192.0.2.2".parse().unwrap()));
    }

    #[test]
    fn request_type_is_checked() {
        assert_eq!(
            PolicyRequest::from_attributes(attrs(&[("client_address", "192.0.2.1")])),
            Err(RequestError::MissingRequest)
        );
        assert_eq!(
            PolicyRequest::from_attributes(attrs(&[("request", "junk")])),
            Err(RequestError::WrongRequest("junk".into()))
        );
        assert_eq!(
            PolicyRequest::from_attributes(attrs(&[("request", "SMTPD_ACCESS_POLICY")])),
            Err(RequestError::WrongRequest("SMTPD_ACCESS_POLICY".into()))
        );
    }
}
