//! [`ListDirFault`]: why the lists in force are not what the list directory holds now —
//! shared by the daemon's state (which decides it) and the metrics (which count it).

/// Why the lists in force are not what the list directory holds now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListDirFault {
    /// The list directory is missing, not a directory, or cannot be listed.
    Unavailable,
    /// A reload found no entry at all where the lists in force had some.
    Emptied,
}

impl ListDirFault {
    /// What the fault is, for the log and `/healthz` (no path, no entry).
    pub fn describe(self) -> &'static str {
        match self {
            ListDirFault::Unavailable => "the list directory is missing or cannot be read",
            ListDirFault::Emptied => {
                "the list directory holds no entries where the lists in force had some"
            }
        }
    }
}
