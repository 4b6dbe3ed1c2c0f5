//! Any bytes as an RDAP answer: parsing never panics, and a network it accepts is
//! consistent (a handle, start ≤ end, CIDRs inside the range).
#![no_main]

use badclients::rdap::RdapNetwork;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    if let Ok(net) = RdapNetwork::from_json(&json) {
        assert!(!net.handle.is_empty());
        assert!(net.start <= net.end);
        assert!(net.contains(net.start) && net.contains(net.end));
        for cidr in &net.cidrs {
            assert!(net.contains(cidr.network()) && net.contains(cidr.broadcast()));
        }
    }
});
