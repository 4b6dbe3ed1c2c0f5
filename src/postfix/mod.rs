//! Postfix SMTPD access policy delegation (`check_policy_service`): the protocol, the
//! listener and the per-connection loop. The daemon supplies the decision through
//! [`PolicyHandler`].
//!
//! # The protocol (as Postfix 3.7 speaks it)
//!
//! Postfix connects (TCP or unix socket) and sends `name=value` lines ending with an
//! empty line; the server answers `action=<ACTION>\n\n`. Postfix keeps the connection
//! and sends further requests on it, so the server loops. A captured request (RCPT
//! stage, after `XCLIENT ADDR=8.8.8.8` and `AUTH PLAIN`) carries `request=
//! smtpd_access_policy`, `protocol_state=RCPT`, `client_address`, `client_name`,
//! `reverse_client_name`, `helo_name`, `sender`, `recipient`, `instance`,
//! `sasl_method=PLAIN`, `sasl_username=alice`, `sasl_sender=` and more; all of them are
//! kept in [`PolicyRequest::attributes`], a few are typed.
//!
//! Answers ([`PolicyAction`]): `DUNNO` (no decision), `OK`, `REJECT <text>` (Postfix
//! replies e.g. `554 5.7.1 <rcpt>: Recipient address rejected: <text>`), and for a
//! temporary failure `DEFER_IF_PERMIT <text>` — see [`action`] for why that one and not
//! `451 4.7.1 <text>`.
//!
//! # Configuring Postfix
//!
//! ```text
//! # main.cf
//! smtpd_recipient_restrictions =
//!     ...,
//!     check_policy_service { inet:127.0.0.1:8671, timeout=10s, default_action=DUNNO }
//! ```
//! (the short form `check_policy_service inet:127.0.0.1:8671` works too).
//!
//! * The policy service only acts at a restriction stage (connect, HELO, MAIL, RCPT,
//!   DATA, END-OF-DATA, ETRN); it cannot veto the SMTP `AUTH` command itself — refuse
//!   SMTP AUTH per IP on the Dovecot side (Postfix asks Dovecot SASL with `rip=`).
//!   Listed in `smtpd_recipient_restrictions` (or `smtpd_sender_restrictions`), the
//!   request of an authenticated session has `sasl_username` set, so sessions that
//!   already logged in can be refused too. Put it before any `permit_sasl_authenticated`
//!   in the same list, or it is never reached for them.
//! * Inet on loopback is the simple option. A unix socket (`check_policy_service
//!   unix:private/badclients`) must be inside the Postfix chroot (the queue directory)
//!   when smtpd runs chrooted in `master.cf`; then bind it with a mode Postfix can use,
//!   e.g. `0o660` and the `postfix` group.
//! * `default_action=DUNNO` lets mail through when this service cannot be reached.
//! * Postfix closes an idle policy connection after `smtpd_policy_service_max_idle`
//!   (300 s by default). This server closes one after [`PolicyLimits::idle_timeout`]
//!   (60 s by default; the daemon's `[postfix] idle_timeout_ms` is 330 s); Postfix then
//!   notices the closed connection on its next request, waits a second (`attr_clnt.c`)
//!   and reconnects. Set `smtpd_policy_service_max_idle` below `idle_timeout` to avoid
//!   that pause.
//! * At most [`PolicyLimits::max_connections`] connections are open; at the cap the one
//!   idle longest is closed to admit a new one, so idle clients holding every place
//!   cannot lock Postfix out (its requests would get `default_action`).
//!
//! # Bad input
//!
//! Every limit in [`PolicyLimits`] is enforced while reading ([`codec`]). A request that
//! can still be delimited but is unusable (a line without `=`, an over-long line, too
//! many attributes, a `request` other than `smtpd_access_policy`) is logged and answered
//! `action=DUNNO`; a stream that cannot be framed (over `max_request_bytes` without the
//! empty line, closed mid-request, silent for `idle_timeout`) closes that connection.
//! Neither affects other connections.

pub mod action;
pub mod codec;
mod handler;
pub mod listen;
pub mod request;
pub mod server;

pub use action::PolicyAction;
pub use handler::{PolicyHandler, PolicyLimits};
pub use listen::{ListenAddr, ListenAddrError};
pub use request::{PolicyRequest, RequestError};
pub use server::{serve, serve_with, BindError, PolicyListener};
