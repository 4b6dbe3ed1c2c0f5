//! The `mail-audit-report:` line: what the mail server said happened to a login after
//! authentication (Dovecot's `command=report`).

use std::fmt;
use std::net::IpAddr;

use super::Escaped;

/// What a Dovecot `report` call says happened to a login: its `mail-audit-report` result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginResult {
    /// The login succeeded.
    Success,
    /// badclients (or another policy) refused it (`policy_reject`, 2.4's `fail_type=policy`).
    PolicyReject,
    /// It failed; why, when Dovecot 2.4 says so in `fail_type`.
    Failure(Option<FailType>),
}

/// Dovecot 2.4's `fail_type` of a failed login (other than `policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailType {
    /// A wrong password.
    Credentials,
    /// No such user.
    Account,
    /// The password has expired.
    Expired,
    /// The account is disabled.
    Disabled,
    /// A passdb failed.
    Internal,
}

impl FailType {
    /// The `fail_type` value Dovecot sends; `None` for `policy`, empty and unknown values.
    pub fn parse(value: &str) -> Option<FailType> {
        Some(match value {
            "credentials" => FailType::Credentials,
            "account" => FailType::Account,
            "expired" => FailType::Expired,
            "disabled" => FailType::Disabled,
            "internal" => FailType::Internal,
            _ => return None,
        })
    }

    /// The `fail_type` value as Dovecot spells it.
    pub fn name(self) -> &'static str {
        match self {
            FailType::Credentials => "credentials",
            FailType::Account => "account",
            FailType::Expired => "expired",
            FailType::Disabled => "disabled",
            FailType::Internal => "internal",
        }
    }
}

impl LoginResult {
    /// `success`, `policy_reject`, the fail type (`credentials`, `account`, `expired`,
    /// `disabled`, `internal`), or `failure` when Dovecot did not say why (2.3).
    pub fn name(self) -> &'static str {
        match self {
            LoginResult::Success => "success",
            LoginResult::PolicyReject => "policy_reject",
            LoginResult::Failure(Some(why)) => why.name(),
            LoginResult::Failure(None) => "failure",
        }
    }
}

/// `mail-audit-report: user=<u>, service=s, ip=…, result=…`, values escaped.
#[derive(Debug, Clone, Copy)]
pub struct ReportLine<'a> {
    /// The login's user name.
    pub user: &'a str,
    /// The login's service.
    pub service: &'a str,
    /// The client IP.
    pub ip: IpAddr,
    /// What happened.
    pub result: LoginResult,
}

impl fmt::Display for ReportLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "mail-audit-report: user=<{}>, service={}, ip={}, result={}",
            Escaped(self.user),
            Escaped(self.service),
            self.ip,
            self.result.name()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_the_user_and_names_the_result() {
        let line = ReportLine {
            user: "u>, ip=1.1.1.1",
            service: "imap",
            ip: "2001:db8::1".parse().unwrap(),
            result: LoginResult::Failure(FailType::parse("credentials")),
        };
        assert_eq!(
            line.to_string(),
            "mail-audit-report: user=<u\\x3e\\x2c ip=1.1.1.1>, service=imap, \
             ip=2001:db8::1, result=credentials"
        );
    }
}
