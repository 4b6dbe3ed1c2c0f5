//! The compact form of records in the store: strings interned to numbers, records packed
//! into blocks of variable-length integers.
//!
//! A block is what one batch of the writer commits: a version byte, the record count, then
//! per record the time as an offset from the block's key, the interned string ids, the
//! address and the outcome. Id 0 means "none"; lists carry their length. A record is about
//! 20–40 bytes, so ten million fit in a few hundred megabytes and a scan decodes them
//! without allocating.
//!
//! - [`Strings`] (`strings.rs`): the interned strings;
//! - [`Row`] (`row.rs`): a record as string ids;
//! - `block.rs`: rows encoded into blocks and read back;
//! - `standalone.rs`: the journal's form of one record on its own (strings inline).
//!
//! Only [`Strings`], [`Row`], [`DecodeError`] and the caps are API; the encodings are the
//! crate's own (the `fuzzing` feature opens the journal form's decoder to the fuzz targets).

mod block;
mod row;
mod standalone;
mod strings;
#[cfg(test)]
mod tests;

pub use block::DecodeError;
pub(crate) use block::{
    block_from_body, block_len, decode_body, encode_body, put_varint, BlockReader,
};
pub use row::Row;
pub use standalone::encode_decision;
#[cfg(feature = "fuzzing")]
pub use standalone::{decode_record, decode_record_ref, RecordRef};
#[cfg(not(feature = "fuzzing"))]
pub(crate) use standalone::{decode_record, decode_record_ref, RecordRef};
pub(crate) use standalone::{encode_record, split_time};
pub(crate) use strings::capped;
pub use strings::{Strings, MAX_LIST_ITEMS, MAX_STRING_BYTES};
