//! Recorded RDAP answers shipped with this crate, compiled in with `include_bytes!`.
//!
//! This module owns the list of files under `fixtures/rdap/` (`ipwhois/`, `whoisit/`,
//! `icann-rdap/`, each with its original README and licence text and a note of what was
//! changed). The crate builds and its tests run without `/work/shared`.
//!
//! A fixture is named by its file name without `.json`, optionally with its folder:
//! `"arin-74.125.225.229"`, `"ipwhois/arin-74.125.225.229"` and
//! `"arin-74.125.225.229.json"` are the same file. IPv6 addresses are written with `_` for `:`
//! (`"arin-2001_4860_4860__8888"`).

use crate::Error;

macro_rules! fixtures {
    ($($dir:literal / $file:literal),* $(,)?) => {
        /// Every RDAP fixture: (`folder/file.json`, contents).
        pub const RDAP_FIXTURES: &[(&str, &[u8])] = &[
            $((concat!($dir, "/", $file), include_bytes!(concat!("../fixtures/rdap/", $dir, "/", $file))),)*
        ];
    };
}

fixtures! {
    "ipwhois" / "afrinic-196.11.240.215.json",
    "ipwhois" / "afrinic-2001_43f8_7b0__.json",
    "ipwhois" / "apnic-2001_240_10c_1__ca20_9d1d.json",
    "ipwhois" / "apnic-210.107.73.73.json",
    "ipwhois" / "arin-2001_4860_4860__8888.json",
    "ipwhois" / "arin-74.125.225.229.json",
    "ipwhois" / "asn-data.json",
    "ipwhois" / "lacnic-200.57.141.161.json",
    "ipwhois" / "lacnic-2801_10_c000__.json",
    "ipwhois" / "ripe-2a00_2381_ffff__1.json",
    "ipwhois" / "ripe-62.239.237.1.json",
    "whoisit" / "data_bootstrap.json",
    "whoisit" / "data_rdap_response_asn.json",
    "whoisit" / "data_rdap_response_cidr_v4.json",
    "whoisit" / "data_rdap_response_cidr_v6.json",
    "whoisit" / "data_rdap_response_entity.json",
    "whoisit" / "data_rdap_response_ip_v4.json",
    "whoisit" / "data_rdap_response_ip_v4_2.json",
    "whoisit" / "data_rdap_response_ip_v4_3.json",
    "whoisit" / "data_rdap_response_ip_v6.json",
    "icann-rdap" / "autnum_16509.json",
    "icann-rdap" / "entity_arin_hostmaster.json",
    "icann-rdap" / "error_ripe_net.json",
    "icann-rdap" / "network_192_198_0_0.json",
}

/// The fixture `name` (see the module doc for the accepted forms).
pub fn try_rdap(name: &str) -> Result<&'static [u8], Error> {
    let wanted = name.strip_suffix(".json").unwrap_or(name);
    RDAP_FIXTURES
        .iter()
        .find(|(path, _)| {
            let stem = path.strip_suffix(".json").unwrap_or(path);
            let file = stem.rsplit('/').next().unwrap_or(stem);
            stem == wanted || file == wanted
        })
        .map(|(_, bytes)| *bytes)
        .ok_or_else(|| Error::UnknownFixture(name.to_owned()))
}

/// The bytes of the fixture `name`.
///
/// # Panics
/// When no fixture has that name (a mistake in the calling test); the message lists the names.
pub fn rdap(name: &str) -> Vec<u8> {
    match try_rdap(name) {
        Ok(bytes) => bytes.to_vec(),
        Err(err) => panic!("{err}; known: {:?}", names()),
    }
}

/// The fixture `name` parsed as JSON.
pub fn rdap_json(name: &str) -> Result<serde_json::Value, Error> {
    Ok(serde_json::from_slice(try_rdap(name)?)?)
}

/// The names (`folder/file.json`) of every fixture.
pub fn names() -> Vec<&'static str> {
    RDAP_FIXTURES.iter().map(|(path, _)| *path).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fixture_is_json() {
        assert_eq!(RDAP_FIXTURES.len(), 24);
        for (path, bytes) in RDAP_FIXTURES {
            let value: serde_json::Value =
                serde_json::from_slice(bytes).unwrap_or_else(|e| panic!("{path} is not JSON: {e}"));
            assert!(value.is_object(), "{path}");
        }
    }

    #[test]
    fn the_list_holds_every_json_file_of_the_folder() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/rdap");
        let mut on_disk = Vec::new();
        for dir in std::fs::read_dir(&root).unwrap() {
            let dir = dir.unwrap();
            let folder = dir.file_name().into_string().unwrap();
            for file in std::fs::read_dir(dir.path()).unwrap() {
                let file = file.unwrap().file_name().into_string().unwrap();
                if file.ends_with(".json") {
                    on_disk.push(format!("{folder}/{file}"));
                }
            }
        }
        on_disk.sort();
        let mut listed: Vec<String> = names().iter().map(|n| (*n).to_owned()).collect();
        listed.sort();
        assert_eq!(listed, on_disk);
    }

    #[test]
    fn names_resolve_in_every_form() {
        let a = rdap("arin-74.125.225.229");
        assert_eq!(a, rdap("ipwhois/arin-74.125.225.229"));
        assert_eq!(a, rdap("arin-74.125.225.229.json"));
        let value: serde_json::Value = serde_json::from_slice(&a).unwrap();
        assert_eq!(value["name"], "GOOGLE");
        assert_eq!(value["handle"], "NET-74-125-0-0-1");
        assert!(matches!(try_rdap("nope"), Err(Error::UnknownFixture(n)) if n == "nope"));
    }

    #[test]
    fn split_ipwhois_responses_keep_their_content() {
        let ripe = rdap_json("ripe-62.239.237.1").unwrap();
        assert_eq!(ripe["name"], "BT-CORPORATE");
        assert_eq!(ripe["port43"], "whois.ripe.net");
        let v6 = rdap_json("arin-2001_4860_4860__8888").unwrap();
        assert_eq!(v6["name"], "GOOGLE-IPV6");
        let asn = rdap_json("asn-data").unwrap();
        assert_eq!(asn["74.125.225.229"]["asn"], "15169");
        let icann = rdap_json("network_192_198_0_0").unwrap();
        assert_eq!(icann["name"], "RADIOLINK-ARIN-1");
        let whoisit = rdap_json("whoisit/data_rdap_response_ip_v4_2").unwrap();
        assert_eq!(whoisit["name"], "SWITCH-LAN");
    }
}
