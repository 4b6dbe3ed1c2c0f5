//! The `mail-audit:` line of one decision (the contract's §4 first line).

use std::fmt;

use super::{escape_into, Escaped};
use crate::decision::{Decision, Reason, Verdict};
use crate::facts::Facts;

/// One login's audit line, displayed exactly as the contract's §4 shows it.
#[derive(Debug, Clone, Copy)]
pub struct AuditLine<'a> {
    /// The login's user name (`user=<…>`).
    pub user: &'a str,
    /// The login's service, e.g. `imap` (`service=`).
    pub service: &'a str,
    /// What is known about the client IP.
    pub facts: &'a Facts,
    /// The decision for the login.
    pub decision: &'a Decision,
    /// Whether a block or temporary failure is enforced (`false` in audit mode, which
    /// appends `enforced=False`).
    pub enforced: bool,
    /// Whether the mail server had checked the password before it asked (`false` for the
    /// Lua shim ahead of the password passdb, which appends `password_checked=False` to a
    /// block or temporary failure: such a refusal may be a password guess).
    pub password_checked: bool,
}

struct OrNone<'a>(Option<&'a str>);

impl fmt::Display for OrNone<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(v) => escape_into(f, v),
            None => f.write_str("None"),
        }
    }
}

impl fmt::Display for AuditLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let facts = self.facts;
        write!(
            f,
            "mail-audit: user=<{}>, service={}, ip={}, host=",
            Escaped(self.user),
            Escaped(self.service),
            facts.ip
        )?;
        match &facts.host {
            Some(h) => escape_into(f, h)?,
            None => f.write_str("<>")?,
        }
        match facts.asn {
            Some(asn) => write!(f, ", asn={asn}")?,
            None => f.write_str(", asn=None")?,
        }
        write!(
            f,
            ", as_cc={}, as_desc=<{}>, net_name=<{}>, net_cc={}",
            OrNone(facts.as_cc.as_deref()),
            OrNone(facts.as_desc.as_deref()),
            OrNone(facts.net_name.as_deref()),
            OrNone(facts.net_cc.as_deref()),
        )?;
        if facts.entities.is_empty() {
            f.write_str(", entity=None")?;
        }
        for e in &facts.entities {
            write!(f, ", entity={}", Escaped(e))?;
        }
        for c in &facts.cloud {
            write!(f, ", cloud={}", Escaped(c.as_str()))?;
        }
        for d in &facts.dnsbl {
            write!(f, ", dnsbl={}", Escaped(&d.to_string()))?;
        }
        for e in &facts.lookup_errors {
            write!(f, ", lookup_error={}", Escaped(&e.to_string()))?;
        }
        if self.decision.reason == Reason::MatchBudgetExhausted {
            f.write_str(", match_error=budget")?;
        }
        match (self.decision.verdict, self.decision.hit()) {
            (Verdict::Block, Some(hit)) => {
                write!(f, ", blocked=True, matched={}", Escaped(&hit.label))?
            }
            (Verdict::TempFail, _) => f.write_str(", tempfail=True")?,
            _ => return Ok(()),
        }
        if !self.enforced {
            f.write_str(", enforced=False")?;
        }
        if !self.password_checked {
            f.write_str(", password_checked=False")?;
        }
        Ok(())
    }
}
