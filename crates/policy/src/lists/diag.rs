//! Problems found while loading lists, printed as `PATH:LINE: error|warning: message`.

use std::fmt;
use std::path::PathBuf;

/// How bad a problem is: an error skips the line (or the file), a warning loads it anyway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The line (or file) is loaded anyway.
    Warning,
    /// The line (or file) is skipped.
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// One problem in one list file (and line, when it is about a line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The list file (or the list directory, for a problem with the directory).
    pub path: PathBuf,
    /// 1-based line number; `None` for a problem with the whole file.
    pub line: Option<usize>,
    /// Whether the line (or file) was skipped.
    pub severity: Severity,
    /// What is wrong, for a person to read.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        write!(f, ": {}: {}", self.severity, self.message)
    }
}

/// Collects the problems of one file.
#[derive(Debug)]
pub(crate) struct FileReport<'a> {
    pub(crate) path: &'a std::path::Path,
    pub(crate) out: &'a mut Vec<Diagnostic>,
}

impl FileReport<'_> {
    pub(crate) fn error(&mut self, line: usize, message: impl Into<String>) {
        self.push(line, Severity::Error, message.into());
    }

    pub(crate) fn warning(&mut self, line: usize, message: impl Into<String>) {
        self.push(line, Severity::Warning, message.into());
    }

    fn push(&mut self, line: usize, severity: Severity, message: String) {
        self.out.push(Diagnostic {
            path: self.path.to_path_buf(),
            line: Some(line),
            severity,
            message,
        });
    }
}
