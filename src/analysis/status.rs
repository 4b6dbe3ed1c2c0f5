//! The status of a group of logins (an AS, a cloud service) against the lists and
//! `known_good.lst`: `listed`, `caught`, `partly`, `known-good`, and — when no list caught
//! any login — `candidate` if it looks like hosting by [`super::hosting`] (the same
//! evidence `suggest` proposes entries on) or `unlisted` otherwise (a consumer ISP), with
//! why. `report` shows it per row, `suggest` and the dashboard judge by it.

use serde::Serialize;

use super::aggregate::{AsnSummary, CloudSummary, Counts};
use super::hosting::Evidence;
use super::known_good::KnownGood;
use crate::facts::Asn;
use crate::lists::ListSet;

/// How the lists treat a group of logins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Listed,
    Caught,
    Partly,
    KnownGood,
    /// No list caught any login, and it looks like hosting: worth a look.
    Candidate,
    /// No AS number known: nothing to list.
    Unknown,
    /// No list caught any login, but nothing says hosting (a consumer ISP, say).
    Unlisted,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Listed => "listed",
            Status::Caught => "caught",
            Status::Partly => "partly",
            Status::KnownGood => "known-good",
            Status::Candidate => "candidate",
            Status::Unknown => "-",
            Status::Unlisted => "unlisted",
        }
    }
}

/// A group's status and, when no list caught any of its logins, the hosting evidence that
/// made it a `candidate` or left it `unlisted`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub status: Status,
    pub evidence: Option<Evidence>,
}

impl Verdict {
    fn plain(status: Status) -> Verdict {
        Verdict {
            status,
            evidence: None,
        }
    }

    /// By the counts, and for a group no list caught, by `judge`'s hosting evidence.
    fn of_counts(c: &Counts, judge: impl FnOnce() -> Evidence) -> Verdict {
        if c.matched == 0 {
            let evidence = judge();
            let status = if evidence.looks_like_hosting() {
                Status::Candidate
            } else {
                Status::Unlisted
            };
            Verdict {
                status,
                evidence: Some(evidence),
            }
        } else if c.matched == c.logins {
            Verdict::plain(Status::Caught)
        } else {
            Verdict::plain(Status::Partly)
        }
    }

    /// Why: the evidence in a few words (empty when the lists decided).
    pub fn why(&self) -> String {
        self.evidence
            .as_ref()
            .map(Evidence::short)
            .unwrap_or_default()
    }
}

/// What a group's status is judged against.
#[derive(Debug, Clone, Copy, Default)]
pub struct Context<'a> {
    pub lists: Option<&'a ListSet>,
    pub known_good: Option<&'a KnownGood>,
}

impl Context<'_> {
    pub fn asn_status(&self, a: &AsnSummary) -> Status {
        self.asn_verdict(a).status
    }

    pub fn asn_verdict(&self, a: &AsnSummary) -> Verdict {
        let Some(asn) = a.asn else {
            return Verdict::plain(Status::Unknown);
        };
        if let Some(kg) = self.known_good {
            let hosts_good = !a.hosts.is_empty()
                && a.logins_without_host == 0
                && a.hosts.iter().all(|h| kg.has_host(h));
            if kg.has_asn(asn) || hosts_good {
                return Verdict::plain(Status::KnownGood);
            }
        }
        if self.lists.is_some_and(|l| l.asn.get(&Asn(asn)).is_some()) {
            return Verdict::plain(Status::Listed);
        }
        Verdict::of_counts(&a.counts, || {
            let descs: Vec<&str> = a.as_desc.as_deref().into_iter().collect();
            Evidence::judge(&descs, &a.hosts, &a.clouds)
        })
    }

    pub fn cloud_status(&self, c: &CloudSummary) -> Status {
        self.cloud_verdict(c).status
    }

    pub fn cloud_verdict(&self, c: &CloudSummary) -> Verdict {
        if let Some(lists) = self.lists {
            if c.tags
                .iter()
                .any(|t| lists.cloud.find_alone(t.as_bytes()).is_some())
            {
                return Verdict::plain(Status::Listed);
            }
        }
        Verdict::of_counts(&c.counts, || Evidence::judge(&[], &[], &c.tags))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asn(n: u32, desc: &str, hosts: &[&str], users: usize, matched: u64) -> AsnSummary {
        AsnSummary {
            asn: Some(n),
            as_desc: Some(desc.into()),
            as_cc: Some("US".into()),
            users,
            counts: Counts {
                logins: 10,
                matched,
                first_us: 1,
                last_us: 2,
            },
            hosts: hosts.iter().map(|h| h.to_string()).collect(),
            logins_without_host: 0,
            clouds: vec![],
        }
    }

    #[test]
    fn only_what_looks_like_hosting_is_a_candidate_and_says_why() {
        let cx = Context::default();
        let isp = asn(
            7922,
            "COMCAST-7922, US",
            &[
                "c-73-12-34-56.hsd1.ma.comcast.net",
                "dynamic-73-12-34-57.example.net",
            ],
            40,
            0,
        );
        let v = cx.asn_verdict(&isp);
        assert_eq!(v.status, Status::Unlisted);
        assert_eq!(
            v.why(),
            "consumer AS name (COMCAST); consumer host names (hsd, dynamic)"
        );
        let quiet = asn(64500, "EXNET-AS, US", &[], 40, 0);
        assert_eq!(cx.asn_verdict(&quiet).status, Status::Unlisted);
        assert_eq!(cx.asn_verdict(&quiet).why(), "no hosting evidence");

        let hosting = asn(
            24940,
            "HETZNER-AS, DE",
            &["static.1.2.3.4.clients.your-server.de"],
            1,
            0,
        );
        let v = cx.asn_verdict(&hosting);
        assert_eq!(v.status, Status::Candidate);
        assert_eq!(
            v.why(),
            "hosting AS name (HETZNER); server host names (static, server)"
        );
        // Once a list catches a login, the lists decide and there is nothing to explain.
        let v = cx.asn_verdict(&asn(24940, "HETZNER-AS, DE", &[], 3, 4));
        assert_eq!((v.status, v.why().as_str()), (Status::Partly, ""));
        assert_eq!(
            serde_json::to_value(Status::Unlisted).unwrap(),
            serde_json::json!("unlisted")
        );
    }
}
