//! What the decision history tells: read through one [`source::RowSource`] (the history
//! store or audit log files), aggregated in one pass, judged against the lists and shown.
//! Depends on [`crate::history`] (storage) and [`crate::auditlog`] (log lines); neither
//! depends on it.
//!
//! - [`source`]: `RowSource`, implemented by the store and by audit log files;
//! - [`aggregate`]: one pass over rows into the counts every view needs (`Summary`);
//! - [`status`]: how the lists treat an AS or a cloud (listed, caught, …, candidate);
//! - [`hosting`]: whether a group of logins looks like hosting (report and suggest agree);
//! - [`shape`]: host names generalised into Lua patterns;
//! - [`report`], [`suggest`]: what `badclients report` / `suggest` and the dashboard show;
//! - [`known_good`]: the ASes and host names `known_good.lst` vouches for;
//! - [`time`]: the times shown and `--since`.

pub mod aggregate;
pub mod hosting;
pub mod known_good;
pub mod report;
pub mod shape;
pub mod source;
pub mod status;
pub mod suggest;
pub mod time;
