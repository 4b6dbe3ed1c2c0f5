//! Hosting evidence: whether a group of logins (an AS, a host shape, an RDAP entity, a cloud
//! service) looks like hosting or a cloud rather than a consumer ISP. The one judgement
//! behind both `report`'s `candidate` status and `suggest`'s proposals, so the two agree.
//!
//! For: cloud ranges holding the addresses, the AS description (`AMAZON`, `HOSTING`,
//! `CLOUD`, …) and host names shaped like servers (`ec2-…`, `…compute…`, `node-…`).
//! Against: consumer words in the AS description (`TELEKOM`, `CABLE`, `COMCAST`, …) and in
//! the host names (`dsl`, `dyn`, `pool`, `hsd`, …). A score of [`HOSTING_SCORE`] or more
//! looks like hosting.

/// The score from which a group looks like hosting.
pub const HOSTING_SCORE: i32 = 2;

/// Words in an AS description that say "hosting or cloud".
const HOSTING_WORDS: &[&str] = &[
    "AMAZON",
    "AWS",
    "GOOGLE",
    "MICROSOFT",
    "AZURE",
    "DIGITALOCEAN",
    "LINODE",
    "AKAMAI",
    "OVH",
    "HETZNER",
    "ORACLE",
    "CLOUD",
    "HOSTING",
    "HOSTER",
    "SERVER",
    "DATACENTER",
    "DATA CENTER",
    "DATA-CENTER",
    "COLO",
    "VULTR",
    "CHOOPA",
    "LEASEWEB",
    "CONTABO",
    "SCALEWAY",
    "IONOS",
    "ALIBABA",
    "TENCENT",
    "PROTON",
    "VK-AS",
    "MAIL-RU",
    "MAILRU",
    "EDGE",
    "CDN",
    "VPS",
];

/// Words in an AS description that say "consumer access network".
const CONSUMER_WORDS: &[&str] = &[
    "TELEKOM",
    "TELECOM",
    "TELEFONICA",
    "CABLE",
    "KABEL",
    "BROADBAND",
    "DSL",
    "MOBILE",
    "WIRELESS",
    "VODAFONE",
    "COMCAST",
    "VERIZON",
    "ORANGE",
    "T-MOBILE",
    "FIBER",
    "FIBRE",
    "RESIDENTIAL",
    "CUSTOMER",
];

/// Host name parts that say "server".
const SERVER_HOST_WORDS: &[&str] = &[
    "ec2",
    "compute",
    "cloud",
    "node",
    "server",
    "vps",
    "host",
    "googleusercontent",
    "linode",
    "static",
    "mail",
    "smtp",
    "imap",
    "mx",
    "amazonaws",
];

/// Host name parts that say "consumer line".
const CONSUMER_HOST_WORDS: &[&str] = &[
    "dsl",
    "adsl",
    "vdsl",
    "dyn",
    "dynamic",
    "pool",
    "dialup",
    "dial",
    "cable",
    "dhcp",
    "ppp",
    "pppoe",
    "ftth",
    "fttx",
    "fttc",
    "customer",
    "cust",
    "broadband",
    "mobile",
    "wireless",
    "residential",
    "home",
    "catv",
    "hsd",
];

/// One piece of evidence for or against hosting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Clue {
    /// Addresses in published cloud ranges (the first few tags).
    CloudRanges(Vec<String>),
    /// The AS description names hosting words.
    HostingAsName { desc: String, words: Vec<String> },
    /// The AS description names consumer words.
    ConsumerAsName { desc: String, words: Vec<String> },
    /// Host names with server words.
    ServerHosts(Vec<String>),
    /// Host names with consumer-line words.
    ConsumerHosts(Vec<String>),
}

impl Clue {
    fn weight(&self) -> i32 {
        match self {
            Clue::CloudRanges(_) => 3,
            Clue::HostingAsName { .. } => 2,
            Clue::ConsumerAsName { .. } => -3,
            Clue::ServerHosts(_) => 1,
            Clue::ConsumerHosts(_) => -2,
        }
    }

    /// The sentence `suggest` prints under a proposal.
    pub fn sentence(&self) -> String {
        match self {
            Clue::CloudRanges(tags) => format!("cloud ranges: {}", tags.join(" ")),
            Clue::HostingAsName { desc, words } => {
                format!("AS description {desc:?} names {}", words.join(", "))
            }
            Clue::ConsumerAsName { desc, words } => format!(
                "but AS description {desc:?} names {} (consumer ISP?)",
                words.join(", ")
            ),
            Clue::ServerHosts(words) => {
                format!("host names look like servers ({})", words.join(", "))
            }
            Clue::ConsumerHosts(words) => format!(
                "but host names look like consumer lines ({})",
                words.join(", ")
            ),
        }
    }

    /// The few words `report` shows in its `why` column.
    pub fn short(&self) -> String {
        match self {
            Clue::CloudRanges(tags) => format!("cloud ranges {}", tags.join(" ")),
            Clue::HostingAsName { words, .. } => format!("hosting AS name ({})", words.join(", ")),
            Clue::ConsumerAsName { words, .. } => {
                format!("consumer AS name ({})", words.join(", "))
            }
            Clue::ServerHosts(words) => format!("server host names ({})", words.join(", ")),
            Clue::ConsumerHosts(words) => format!("consumer host names ({})", words.join(", ")),
        }
    }
}

/// The clues found for one group of logins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Evidence {
    pub clues: Vec<Clue>,
}

impl Evidence {
    /// Judges a group by the descriptions of its ASes, its host names and its cloud tags.
    pub fn judge(as_descs: &[&str], hosts: &[String], clouds: &[String]) -> Evidence {
        let mut clues = Vec::new();
        if !clouds.is_empty() {
            clues.push(Clue::CloudRanges(clouds.iter().take(3).cloned().collect()));
        }
        for desc in as_descs {
            let hosting = words_in(desc, HOSTING_WORDS);
            if !hosting.is_empty() {
                clues.push(Clue::HostingAsName {
                    desc: desc.to_string(),
                    words: hosting,
                });
            }
            let consumer = words_in(desc, CONSUMER_WORDS);
            if !consumer.is_empty() {
                clues.push(Clue::ConsumerAsName {
                    desc: desc.to_string(),
                    words: consumer,
                });
            }
        }
        let server = host_words(hosts, SERVER_HOST_WORDS);
        if !server.is_empty() {
            clues.push(Clue::ServerHosts(server));
        }
        let consumer = host_words(hosts, CONSUMER_HOST_WORDS);
        if !consumer.is_empty() {
            clues.push(Clue::ConsumerHosts(consumer));
        }
        Evidence { clues }
    }

    /// The clues' weights summed: positive for hosting, negative for a consumer ISP.
    pub fn score(&self) -> i32 {
        self.clues.iter().map(Clue::weight).sum()
    }

    /// Whether the group looks like hosting: worth a list entry.
    pub fn looks_like_hosting(&self) -> bool {
        self.score() >= HOSTING_SCORE
    }

    /// One sentence per clue (`suggest`).
    pub fn sentences(&self) -> Vec<String> {
        self.clues.iter().map(Clue::sentence).collect()
    }

    /// The clues in a few words, `; `-separated (`report`); `no hosting evidence` when none.
    pub fn short(&self) -> String {
        if self.clues.is_empty() {
            return "no hosting evidence".into();
        }
        self.clues
            .iter()
            .map(Clue::short)
            .collect::<Vec<_>>()
            .join("; ")
    }
}

fn words_in(text: &str, words: &[&str]) -> Vec<String> {
    let upper = text.to_ascii_uppercase();
    words
        .iter()
        .filter(|w| contains_word(&upper, w))
        .map(|w| w.to_string())
        .collect()
}

/// Whether `word` occurs in `text` not inside a longer alphanumeric word.
fn contains_word(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(i, _)| {
        let before = text[..i].chars().last();
        let after = text[i + word.len()..].chars().next();
        !before.is_some_and(|c| c.is_ascii_alphabetic())
            && !after.is_some_and(|c| c.is_ascii_alphabetic())
    })
}

fn host_words(hosts: &[String], words: &[&str]) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    for host in hosts {
        for token in host.split(|c: char| !c.is_ascii_alphabetic()) {
            let token = token.to_ascii_lowercase();
            if words.contains(&token.as_str()) && !found.contains(&token) {
                found.push(token);
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosting_and_consumer_evidence() {
        let e = Evidence::judge(
            &["AMAZON-02, US"],
            &["ec2-1-2-3-4.compute-1.amazonaws.com".into()],
            &["aws:EC2".into()],
        );
        assert!(e.score() >= 5, "{e:?}");
        assert!(e.looks_like_hosting());
        assert_eq!(
            e.short(),
            "cloud ranges aws:EC2; hosting AS name (AMAZON); server host names (compute, amazonaws)"
        );
        let e = Evidence::judge(
            &["DTAG Internet service provider operations, DE"],
            &["p5b0c1d2.dip0.t-ipconnect.de".into()],
            &[],
        );
        assert!(!e.looks_like_hosting());
        assert_eq!(e.short(), "no hosting evidence");
        let e = Evidence::judge(
            &["VODAFONE-DE Kabel, DE"],
            &["ip-1-2-3-4.hsi.kabel.de".into()],
            &[],
        );
        assert!(e.score() < 0, "{e:?}");
        assert!(!contains_word("MICROSOFTWARE", "MICROSOFT"));
    }

    #[test]
    fn a_residential_isp_with_dynamic_host_names_is_no_hosting() {
        let hosts: Vec<String> = [
            "c-73-12-34-56.hsd1.ma.comcast.net",
            "dynamic-73-12-34-57.example-isp.net",
            "73-12-34-58.pool.example-isp.net",
        ]
        .iter()
        .map(|h| h.to_string())
        .collect();
        // Even without a telling AS name, the host names count against hosting.
        let e = Evidence::judge(&["EXAMPLE-ISP, US"], &hosts, &[]);
        assert!(e.score() < 0, "{e:?}");
        assert_eq!(e.short(), "consumer host names (hsd, dynamic, pool)");
        let e = Evidence::judge(&["COMCAST-7922, US"], &hosts, &[]);
        assert!(!e.looks_like_hosting(), "{e:?}");
        assert!(e.short().contains("consumer AS name (COMCAST)"), "{e:?}");
    }
}
