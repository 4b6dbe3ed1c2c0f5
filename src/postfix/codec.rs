//! `PolicyCodec`: frames the byte stream of a policy connection into requests and
//! writes the replies.
//!
//! A request is `name=value` lines (`\n`, a `\r` before it is dropped) ended by an empty
//! line. Lines are bytes; names and values are converted to UTF-8 lossily, so a value
//! may hold any byte but a newline. The limits turn bad input into one of two outcomes:
//!
//! * a [`Frame::Malformed`] when the request can still be delimited — a line without
//!   `=`, an empty name, a line over `max_line_bytes` (skipped without buffering it), more
//!   than `max_attributes` attributes. The server answers it with `action=DUNNO` and the
//!   connection stays usable;
//! * a [`FrameError`] when it cannot — more than `max_request_bytes` without the empty
//!   line, or the peer closing in the middle of a request. The server closes the
//!   connection.
//!
//! The framing does not depend on how the bytes are split into reads
//! ([`decode_chunks`] exists to check that, in tests and in the fuzz target).

use std::io;

use bytes::{Buf, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use super::action::PolicyAction;
use super::handler::PolicyLimits;

/// One request as framed: its attributes in arrival order, or why it is unusable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Attributes(Vec<(String, String)>),
    Malformed(FrameProblem),
}

/// Why a delimited request is unusable (the first problem found; line numbers count
/// from 1 within the request).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FrameProblem {
    #[error("line {line} has no `=`")]
    MissingEquals { line: usize },
    #[error("line {line} has an empty attribute name")]
    EmptyName { line: usize },
    #[error("line {line} is longer than {limit} bytes")]
    LineTooLong { line: usize, limit: usize },
    #[error("more than {limit} attributes")]
    TooManyAttributes { limit: usize },
}

/// Why the connection cannot go on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("request is longer than {limit} bytes")]
    RequestTooLarge { limit: usize },
    #[error("connection closed in the middle of a request ({bytes} bytes received)")]
    Truncated { bytes: usize },
    #[error("I/O error: {message}")]
    Io {
        kind: io::ErrorKind,
        message: String,
    },
}

impl From<io::Error> for FrameError {
    fn from(err: io::Error) -> Self {
        FrameError::Io {
            kind: err.kind(),
            message: err.to_string(),
        }
    }
}

/// The request being read.
#[derive(Debug, Default)]
struct Pending {
    attributes: Vec<(String, String)>,
    problem: Option<FrameProblem>,
    /// Bytes of this request consumed so far (newlines included).
    bytes: usize,
    /// Complete lines consumed so far.
    lines: usize,
    /// Inside an over-long line: drop bytes up to the next newline.
    discarding: bool,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.bytes == 0 && !self.discarding
    }

    fn note(&mut self, problem: FrameProblem) {
        self.problem.get_or_insert(problem);
    }
}

/// The tokio-util codec for one policy connection.
#[derive(Debug)]
pub struct PolicyCodec {
    max_line_bytes: usize,
    max_attributes: usize,
    max_request_bytes: usize,
    pending: Pending,
    /// How far the current buffer was already searched for a newline.
    scanned: usize,
}

impl PolicyCodec {
    pub fn new(limits: &PolicyLimits) -> Self {
        PolicyCodec {
            max_line_bytes: limits.max_line_bytes,
            max_attributes: limits.max_attributes,
            max_request_bytes: limits.max_request_bytes,
            pending: Pending::default(),
            scanned: 0,
        }
    }

    /// Counts `n` more bytes of the current request against the cap.
    fn account(&mut self, n: usize) -> Result<(), FrameError> {
        self.pending.bytes = self.pending.bytes.saturating_add(n);
        if self.pending.bytes > self.max_request_bytes {
            return Err(FrameError::RequestTooLarge {
                limit: self.max_request_bytes,
            });
        }
        Ok(())
    }

    /// In discarding mode: drops bytes through the next newline. `true` once the
    /// over-long line has ended.
    fn skip_long_line(&mut self, buf: &mut BytesMut) -> Result<bool, FrameError> {
        match memchr_newline(buf, 0) {
            Some(pos) => {
                self.account(pos + 1)?;
                buf.advance(pos + 1);
                self.pending.discarding = false;
                self.pending.lines += 1;
                Ok(true)
            }
            None => {
                self.account(buf.len())?;
                buf.clear();
                Ok(false)
            }
        }
    }

    /// The next complete line (without its newline), or `None` when more bytes are
    /// needed; starts discarding when the unterminated rest is already too long.
    fn next_line(&mut self, buf: &mut BytesMut) -> Result<Option<BytesMut>, FrameError> {
        if let Some(pos) = memchr_newline(buf, self.scanned) {
            self.scanned = 0;
            self.account(pos + 1)?;
            let mut line = buf.split_to(pos + 1);
            line.truncate(pos);
            return Ok(Some(line));
        }
        self.scanned = buf.len();
        if self.pending.bytes.saturating_add(buf.len()) > self.max_request_bytes {
            return Err(FrameError::RequestTooLarge {
                limit: self.max_request_bytes,
            });
        }
        if buf.len() > self.max_line_bytes.saturating_add(1) {
            self.start_discarding(buf)?;
        }
        Ok(None)
    }

    /// The current line is too long: note it and drop what is buffered of it.
    fn start_discarding(&mut self, buf: &mut BytesMut) -> Result<(), FrameError> {
        self.pending.note(FrameProblem::LineTooLong {
            line: self.pending.lines + 1,
            limit: self.max_line_bytes,
        });
        self.pending.discarding = true;
        self.account(buf.len())?;
        buf.clear();
        self.scanned = 0;
        Ok(())
    }

    /// Takes one complete line; returns the frame when it was the empty line.
    fn take_line(&mut self, line: &[u8]) -> Option<Frame> {
        self.pending.lines += 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            return Some(self.finish());
        }
        let number = self.pending.lines;
        if line.len() > self.max_line_bytes {
            self.pending.note(FrameProblem::LineTooLong {
                line: number,
                limit: self.max_line_bytes,
            });
        } else if self.pending.problem.is_none() {
            self.take_attribute(line, number);
        }
        None
    }

    /// Parses `name=value` into the pending request.
    fn take_attribute(&mut self, line: &[u8], number: usize) {
        if self.pending.attributes.len() >= self.max_attributes {
            self.pending.note(FrameProblem::TooManyAttributes {
                limit: self.max_attributes,
            });
            return;
        }
        let Some(eq) = line.iter().position(|&b| b == b'=') else {
            self.pending
                .note(FrameProblem::MissingEquals { line: number });
            return;
        };
        let (name, value) = (&line[..eq], &line[eq + 1..]);
        if name.is_empty() {
            self.pending.note(FrameProblem::EmptyName { line: number });
            return;
        }
        self.pending.attributes.push((
            String::from_utf8_lossy(name).into_owned(),
            String::from_utf8_lossy(value).into_owned(),
        ));
    }

    /// Ends the pending request and resets for the next one.
    fn finish(&mut self) -> Frame {
        let pending = std::mem::take(&mut self.pending);
        match pending.problem {
            Some(problem) => Frame::Malformed(problem),
            None => Frame::Attributes(pending.attributes),
        }
    }
}

/// The position of the first `\n` in `buf` at or after `from`.
fn memchr_newline(buf: &[u8], from: usize) -> Option<usize> {
    buf.get(from..)?
        .iter()
        .position(|&b| b == b'\n')
        .map(|pos| pos + from)
}

impl Decoder for PolicyCodec {
    type Item = Frame;
    type Error = FrameError;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
        loop {
            if self.pending.discarding {
                if !self.skip_long_line(buf)? {
                    return Ok(None);
                }
                continue;
            }
            let Some(line) = self.next_line(buf)? else {
                return Ok(None);
            };
            if let Some(frame) = self.take_line(&line) {
                return Ok(Some(frame));
            }
        }
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
        if let Some(frame) = self.decode(buf)? {
            return Ok(Some(frame));
        }
        if buf.is_empty() && self.pending.is_empty() {
            return Ok(None);
        }
        Err(FrameError::Truncated {
            bytes: self.pending.bytes.saturating_add(buf.len()),
        })
    }
}

impl Encoder<PolicyAction> for PolicyCodec {
    type Error = FrameError;

    fn encode(&mut self, action: PolicyAction, dst: &mut BytesMut) -> Result<(), FrameError> {
        dst.extend_from_slice(action.reply().as_bytes());
        Ok(())
    }
}

/// Everything one connection's bytes frame into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// The frames, in order.
    pub frames: Vec<Frame>,
    /// How the stream ended: `Ok` at a request boundary, else the error that would
    /// close the connection.
    pub end: Result<(), FrameError>,
}

/// Frames a whole connection given as chunks (each one as if from a separate read),
/// then the end of the stream.
pub fn decode_chunks<'a, I>(chunks: I, limits: &PolicyLimits) -> Decoded
where
    I: IntoIterator<Item = &'a [u8]>,
{
    let mut codec = PolicyCodec::new(limits);
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        if let Err(err) = drain(&mut codec, &mut buf, &mut frames, false) {
            return Decoded {
                frames,
                end: Err(err),
            };
        }
    }
    let end = drain(&mut codec, &mut buf, &mut frames, true);
    Decoded { frames, end }
}

/// Decodes every frame the buffer holds (at the end of the stream when `eof`).
fn drain(
    codec: &mut PolicyCodec,
    buf: &mut BytesMut,
    frames: &mut Vec<Frame>,
    eof: bool,
) -> Result<(), FrameError> {
    loop {
        let next = if eof {
            codec.decode_eof(buf)?
        } else {
            codec.decode(buf)?
        };
        match next {
            Some(frame) => frames.push(frame),
            None => return Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> PolicyLimits {
        PolicyLimits {
            max_line_bytes: 16,
            max_attributes: 3,
            max_request_bytes: 64,
            ..PolicyLimits::default()
        }
    }

    fn decode(input: &[u8]) -> Decoded {
        decode_chunks([input], &limits())
    }

    fn attrs(pairs: &[(&str, &str)]) -> Frame {
        Frame::Attributes(
            pairs
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn frames_requests_and_keeps_going() {
        let out = decode(b"a=1\nb=\n\nc=x=y\n\n");
        assert_eq!(
            out.frames,
            vec![attrs(&[("a", "1"), ("b", "")]), attrs(&[("c", "x=y")])]
        );
        assert_eq!(out.end, Ok(()));
    }

    #[test]
    fn crlf_is_accepted() {
        let out = decode(b"a=1\r\n\r\n");
        assert_eq!(out.frames, vec![attrs(&[("a", "1")])]);
    }

    #[test]
    fn an_empty_request_is_a_frame_without_attributes() {
        assert_eq!(decode(b"\n").frames, vec![Frame::Attributes(vec![])]);
    }

    #[test]
    fn invalid_utf8_is_converted_lossily() {
        let out = decode(b"n=\xff\x00v\n\n");
        assert_eq!(out.frames, vec![attrs(&[("n", "\u{fffd}\0v")])]);
    }

    #[test]
    fn a_line_without_equals_is_malformed_but_delimited() {
        let out = decode(b"a=1\ngarbage\nb=2\n\nc=3\n\n");
        assert_eq!(
            out.frames,
            vec![
                Frame::Malformed(FrameProblem::MissingEquals { line: 2 }),
                attrs(&[("c", "3")]),
            ]
        );
    }

    #[test]
    fn an_empty_name_is_malformed() {
        let out = decode(b"=v\n\n");
        assert_eq!(
            out.frames,
            vec![Frame::Malformed(FrameProblem::EmptyName { line: 1 })]
        );
    }

    #[test]
    fn too_many_attributes_is_malformed() {
        let out = decode(b"a=1\nb=2\nc=3\nd=4\n\ne=5\n\n");
        assert_eq!(
            out.frames,
            vec![
                Frame::Malformed(FrameProblem::TooManyAttributes { limit: 3 }),
                attrs(&[("e", "5")]),
            ]
        );
    }

    #[test]
    fn a_long_line_is_skipped_and_reported() {
        let mut input = b"a=1\nlong=".to_vec();
        input.extend_from_slice(&[b'x'; 30]);
        input.extend_from_slice(b"\n\nb=2\n\n");
        let out = decode(&input);
        assert_eq!(
            out.frames,
            vec![
                Frame::Malformed(FrameProblem::LineTooLong { line: 2, limit: 16 }),
                attrs(&[("b", "2")]),
            ]
        );
        assert_eq!(out.end, Ok(()));
    }

    #[test]
    fn a_line_of_exactly_the_limit_is_fine() {
        let line = format!("n={}\r\n\n", "v".repeat(14));
        let out = decode(line.as_bytes());
        assert_eq!(out.frames, vec![attrs(&[("n", &"v".repeat(14))])]);
    }

    #[test]
    fn an_oversized_request_is_an_error() {
        let out = decode(&[b'a'; 100]);
        assert_eq!(out.end, Err(FrameError::RequestTooLarge { limit: 64 }));
        let many_lines = "a=1\n".repeat(20);
        let out = decode(many_lines.as_bytes());
        assert_eq!(out.end, Err(FrameError::RequestTooLarge { limit: 64 }));
        assert!(out.frames.is_empty());
    }

    #[test]
    fn the_cap_is_per_request() {
        let input = "a=1234567890\n\n".repeat(20);
        let out = decode(input.as_bytes());
        assert_eq!(out.frames.len(), 20);
        assert_eq!(out.end, Ok(()));
    }

    #[test]
    fn eof_mid_request_is_truncated() {
        assert_eq!(
            decode(b"a=1\n\nb=2\n").end,
            Err(FrameError::Truncated { bytes: 4 })
        );
        assert_eq!(
            decode(b"a=1\nb=").end,
            Err(FrameError::Truncated { bytes: 6 })
        );
        assert_eq!(decode(b"").end, Ok(()));
    }

    #[test]
    fn chunking_never_changes_the_result() {
        let mut long = b"a=1\nlong=".to_vec();
        long.extend_from_slice(&[b'y'; 40]);
        long.extend_from_slice(b"\r\n\nb=2\n\n");
        let inputs: Vec<Vec<u8>> = vec![
            b"a=1\nb=2\n\nc=3\r\n\r\n".to_vec(),
            b"a=1\ngarbage\n\n\n=x\n\nd=\xfe\n\n".to_vec(),
            long,
            b"a=1\nb=2\nc=3\nd=4\n\nz=".to_vec(),
            vec![b'q'; 70],
            "k=v\n".repeat(17).into_bytes(),
        ];
        for input in inputs {
            let whole = decode(&input);
            for split in 0..=input.len() {
                let (a, b) = input.split_at(split);
                assert_eq!(decode_chunks([a, b], &limits()), whole, "split at {split}");
            }
            let bytes: Vec<&[u8]> = input.chunks(1).collect();
            assert_eq!(decode_chunks(bytes, &limits()), whole, "byte by byte");
        }
    }

    #[test]
    fn encodes_the_reply() {
        let mut codec = PolicyCodec::new(&limits());
        let mut dst = BytesMut::new();
        codec
            .encode(PolicyAction::Reject("a\nb".into()), &mut dst)
            .unwrap();
        assert_eq!(&dst[..], b"action=REJECT a b\n\n");
    }
}
