//! Any bytes as Team Cymru TXT records: parsing never panics, and an accepted origin's
//! prefix is a valid network.
#![no_main]

use badclients::lookup::cymru::{parse_as_name, parse_origin};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Records separated by 0x00, character-strings by 0x01.
    let records: Vec<Vec<Vec<u8>>> = data
        .split(|b| *b == 0)
        .map(|r| r.split(|b| *b == 1).map(<[u8]>::to_vec).collect())
        .collect();
    if let Ok(origin) = parse_origin(&records) {
        if let Some(p) = origin.prefix {
            assert!(p.prefix_len() <= p.max_prefix_len());
        }
        assert!(origin.cc.as_deref().is_none_or(|c| c.to_uppercase() == c));
    }
    let _ = parse_as_name(&records);
});
