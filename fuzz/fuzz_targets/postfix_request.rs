//! Fuzz the Postfix policy request framing and parsing: no panic on any bytes, the
//! frames do not depend on how the bytes are split into reads, a framed request never
//! holds more attributes than allowed nor a newline, and no reply text can add a line
//! to `action=…\n\n`.
#![no_main]

use badclients::postfix::codec::{decode_chunks, Frame};
use badclients::postfix::{PolicyAction, PolicyLimits, PolicyRequest};
use libfuzzer_sys::fuzz_target;

/// Small limits, so that the fuzzer reaches every one of them.
fn limits() -> PolicyLimits {
    PolicyLimits {
        max_line_bytes: 64,
        max_attributes: 8,
        max_request_bytes: 512,
        ..PolicyLimits::default()
    }
}

/// Input layout: first byte = where to split the rest into two reads.
fn split(data: &[u8]) -> Option<(u8, &[u8])> {
    let (&at, rest) = data.split_first()?;
    Some((at, rest))
}

fn check_frame(frame: Frame, limits: &PolicyLimits) {
    let Frame::Attributes(attributes) = frame else {
        return;
    };
    assert!(attributes.len() <= limits.max_attributes);
    for (name, value) in &attributes {
        assert!(!name.is_empty());
        assert!(!name.contains('\n') && !value.contains('\n'));
        assert!(name.len() + value.len() < 3 * limits.max_line_bytes + 3);
    }
    if let Ok(request) = PolicyRequest::from_attributes(attributes) {
        assert_eq!(
            request.attributes.get("request").map(String::as_str),
            Some("smtpd_access_policy")
        );
        if let Some(user) = &request.sasl_username {
            assert!(!user.is_empty());
        }
    }
}

fn check_reply(action: PolicyAction) {
    let reply = action.reply();
    let line = reply
        .strip_suffix("\n\n")
        .expect("a reply ends with the empty line");
    assert!(line.starts_with("action="));
    assert!(line.bytes().all(|b| (0x20..0x7f).contains(&b)), "{line:?}");
}

fuzz_target!(|data: &[u8]| {
    let Some((at, input)) = split(data) else {
        return;
    };
    let limits = limits();
    let whole = decode_chunks([input], &limits);
    let at = usize::from(at) * input.len() / 255;
    let (first, second) = input.split_at(at);
    assert_eq!(decode_chunks([first, second], &limits), whole);
    for frame in whole.frames {
        check_frame(frame, &limits);
    }
    let text = String::from_utf8_lossy(input).into_owned();
    check_reply(PolicyAction::Reject(text.clone()));
    check_reply(PolicyAction::Defer(text));
});
