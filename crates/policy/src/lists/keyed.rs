//! Lists of single words compared for equality: AS numbers (`asn.deny.lst`), country
//! codes (`as_cc.deny.lst`, `net_cc.deny.lst`), entity handles (`entity.deny.lst`) and
//! GeoNames ids (`maxmind/geo_loc.deny.lst`). Each is a hash map from the normalised key
//! to its entry; text after the word is a comment.

use std::collections::HashMap;
use std::hash::Hash;

use super::diag::FileReport;
use super::line::Line;
use super::Entry;
use crate::countries;
use crate::facts::Asn;

/// How one kind of keyed list reads its word.
pub trait KeyRule {
    /// The normalised key entries are stored and looked up by.
    type Key: Eq + Hash + Clone;
    /// The key of a list word, or an error message. May push a warning.
    fn parse(word: &[u8], warn: &mut dyn FnMut(String)) -> Result<Self::Key, String>;
}

/// A keyed list.
#[derive(Debug, Clone)]
pub struct KeyedList<R: KeyRule> {
    map: HashMap<R::Key, Entry>,
}

impl<R: KeyRule> Default for KeyedList<R> {
    fn default() -> Self {
        KeyedList {
            map: HashMap::new(),
        }
    }
}

impl<R: KeyRule> KeyedList<R> {
    pub(crate) fn add_line(&mut self, line: Line<'_>, report: &mut FileReport<'_>) {
        let (word, _comment) = line.first_word();
        let mut warnings = Vec::new();
        let key = R::parse(word, &mut |w| warnings.push(w));
        for w in warnings {
            report.warning(line.number, w);
        }
        let key = match key {
            Ok(k) => k,
            Err(e) => return report.error(line.number, e),
        };
        if let Some(first) = self.map.get(&key) {
            let message = format!("duplicate entry (first at line {})", first.line);
            return report.warning(line.number, message);
        }
        self.map.insert(key, Entry::of(line.number, word));
    }

    /// The entry for `key`.
    pub fn get<Q>(&self, key: &Q) -> Option<&Entry>
    where
        R::Key: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.get(key)
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the list has no entries.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// `AS3209`: the number after `AS` (upper case, as the older tool's `AS%d+` required).
#[derive(Debug, Clone, Copy)]
pub struct AsnRule;

impl KeyRule for AsnRule {
    type Key = Asn;
    fn parse(word: &[u8], warn: &mut dyn FnMut(String)) -> Result<Asn, String> {
        let text = String::from_utf8_lossy(word);
        let asn: Asn = text
            .parse()
            .map_err(|e: crate::facts::AsnParseError| e.to_string())?;
        if !word.starts_with(b"AS") {
            warn(format!(
                "{} is read as {asn}; write it as {asn}",
                Line::shown(word)
            ));
        }
        Ok(asn)
    }
}

/// A country code: letters, compared case-sensitively; unknown codes get a warning.
#[derive(Debug, Clone, Copy)]
pub struct CountryRule;

impl KeyRule for CountryRule {
    type Key = String;
    fn parse(word: &[u8], warn: &mut dyn FnMut(String)) -> Result<String, String> {
        if word.is_empty() || !word.iter().all(u8::is_ascii_alphabetic) {
            return Err(format!(
                "not a country code: {} (expected two letters like RU, or ZZ or None)",
                Line::shown(word)
            ));
        }
        let code = String::from_utf8_lossy(word).into_owned();
        if !countries::is_known(&code) {
            let hint = if countries::is_known(&code.to_ascii_uppercase()) {
                " (codes are compared case-sensitively: write it in upper case)"
            } else {
                ""
            };
            warn(format!("unknown ISO 3166 country code {code:?}{hint}"));
        }
        Ok(code)
    }
}

/// An RDAP entity handle, compared ignoring ASCII case.
#[derive(Debug, Clone, Copy)]
pub struct EntityRule;

impl KeyRule for EntityRule {
    type Key = Vec<u8>;
    fn parse(word: &[u8], _warn: &mut dyn FnMut(String)) -> Result<Vec<u8>, String> {
        Ok(word.to_ascii_lowercase())
    }
}

/// A GeoNames id.
#[derive(Debug, Clone, Copy)]
pub struct GeoIdRule;

impl KeyRule for GeoIdRule {
    type Key = u32;
    fn parse(word: &[u8], _warn: &mut dyn FnMut(String)) -> Result<u32, String> {
        std::str::from_utf8(word)
            .ok()
            .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| {
                format!(
                    "not a GeoNames id: {} (expected a number)",
                    Line::shown(word)
                )
            })
    }
}
