//! One line for an error and its causes, for log lines and error messages.

use std::error::Error;

/// `error: cause: cause…`, without repeating a cause's text that its parent already shows.
pub(crate) fn error_chain(error: &dyn Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let part = cause.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = cause.source();
    }
    text
}
