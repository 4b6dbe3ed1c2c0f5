//! An error as the one line the command prints.

/// An error and its causes as one line, `outer: cause: …`, where a cause the message
/// before it already quotes (library errors often end in their source's text) is said once.
pub(crate) fn error_text(error: &anyhow::Error) -> String {
    let mut text = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}
