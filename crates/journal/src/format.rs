//! On-disk byte layout of segments and records, and the helpers to read it without panicking.
//!
//! Kept in one place so the writer and every reader agree on the format by construction.

use std::path::{Path, PathBuf};

/// Identifies a journal segment (and its format version) so a stray file is never replayed.
pub const SEGMENT_MAGIC: [u8; 8] = *b"BWJRNL01";
/// Segment header: magic + first seq (u64 LE).
pub const SEGMENT_HEADER_BYTES: usize = 16;
/// Record header: len u32 + crc32c u32 + seq u64.
pub const RECORD_HEADER_BYTES: usize = 16;
/// Upper bound on one record's payload. Commands are small; the bound keeps a corrupt length
/// from making a reader wander through megabytes and keeps batches predictable.
pub const RECORD_PAYLOAD_BYTES_MAX: usize = 1 << 20;
/// Preallocated size of a new segment. Large enough that rolling (which zero-fills and syncs a
/// new file) is rare, small enough that a reader can hold one segment in memory.
pub const SEGMENT_BYTES_DEFAULT: u64 = 64 << 20;
/// Smallest accepted segment size (tests use tiny segments to exercise rolling).
pub const SEGMENT_BYTES_MIN: u64 = 1024;
/// Largest accepted segment size: readers load a whole segment into memory.
pub const SEGMENT_BYTES_MAX: u64 = 1 << 30;

/// Byte offset of the crc field inside a record; the CRC covers everything after it.
pub(crate) const RECORD_CRC_OFFSET: usize = 4;
/// Byte offset of the seq field inside a record.
pub(crate) const RECORD_SEQ_OFFSET: usize = 8;

const SEGMENT_SUFFIX: &str = ".seg";
const SEQ_DIGITS: usize = 20;

/// `<seq, 20 digits><suffix>`: fixed width so names sort like the numbers they hold.
pub(crate) fn seq_file_name(seq: u64, suffix: &str) -> String {
    format!("{seq:020}{suffix}")
}

/// Parses `<20 digits><suffix>`; `None` for any other name.
pub(crate) fn parse_seq_file_name(name: &str, suffix: &str) -> Option<u64> {
    let digits = name.strip_suffix(suffix)?;
    if digits.len() != SEQ_DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

pub(crate) fn segment_path(dir: &Path, first_seq: u64) -> PathBuf {
    dir.join(seq_file_name(first_seq, SEGMENT_SUFFIX))
}

pub(crate) fn parse_segment_name(name: &str) -> Option<u64> {
    parse_seq_file_name(name, SEGMENT_SUFFIX)
}

pub(crate) fn is_segment_like_name(name: &str) -> bool {
    name.ends_with(SEGMENT_SUFFIX)
}

pub(crate) fn encode_segment_header(first_seq: u64) -> [u8; SEGMENT_HEADER_BYTES] {
    let mut header = [0u8; SEGMENT_HEADER_BYTES];
    let (magic, seq) = header.split_at_mut(SEGMENT_MAGIC.len());
    magic.copy_from_slice(&SEGMENT_MAGIC);
    seq.copy_from_slice(&first_seq.to_le_bytes());
    header
}

/// Appends one framed record to `buf`: the payload is copied exactly once, straight into the
/// write buffer, and the CRC is computed over the bytes already in place.
pub(crate) fn encode_record(buf: &mut Vec<u8>, seq: u64, payload: &[u8], len: u32) {
    let start = buf.len();
    buf.reserve(RECORD_HEADER_BYTES + payload.len());
    buf.extend_from_slice(&len.to_le_bytes());
    buf.extend_from_slice(&[0u8; 4]);
    buf.extend_from_slice(&seq.to_le_bytes());
    buf.extend_from_slice(payload);
    let crc = buf
        .get(start + RECORD_SEQ_OFFSET..)
        .map_or(0, crc32c::crc32c);
    if let Some(slot) = buf.get_mut(start + RECORD_CRC_OFFSET..start + RECORD_SEQ_OFFSET) {
        slot.copy_from_slice(&crc.to_le_bytes());
    }
}

pub(crate) fn read_u32(buf: &[u8], offset: usize) -> Option<u32> {
    let bytes = buf.get(offset..offset.checked_add(4)?)?;
    Some(u32::from_le_bytes(bytes.try_into().ok()?))
}

pub(crate) fn read_u64(buf: &[u8], offset: usize) -> Option<u64> {
    let bytes = buf.get(offset..offset.checked_add(8)?)?;
    Some(u64::from_le_bytes(bytes.try_into().ok()?))
}

/// A record header as found on disk, before any validation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawHeader {
    pub len: u32,
    pub crc: u32,
    pub seq: u64,
}

pub(crate) fn read_record_header(buf: &[u8], offset: usize) -> Option<RawHeader> {
    Some(RawHeader {
        len: read_u32(buf, offset)?,
        crc: read_u32(buf, offset.checked_add(RECORD_CRC_OFFSET)?)?,
        seq: read_u64(buf, offset.checked_add(RECORD_SEQ_OFFSET)?)?,
    })
}

/// True when every byte is zero; chunked so the compiler can vectorise the OR.
pub(crate) fn all_zero(bytes: &[u8]) -> bool {
    bytes
        .chunks(64)
        .all(|chunk| chunk.iter().fold(0u8, |acc, b| acc | b) == 0)
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )]
    use super::*;

    #[test]
    fn names_round_trip_and_sort() {
        assert_eq!(seq_file_name(1, ".seg"), "00000000000000000001.seg");
        assert_eq!(parse_segment_name("00000000000000000042.seg"), Some(42));
        assert_eq!(parse_segment_name("0000000000000000042.seg"), None);
        assert_eq!(parse_segment_name("0000000000000000004x.seg"), None);
        assert_eq!(parse_segment_name("99999999999999999999.seg"), None);
        assert_eq!(parse_segment_name("00000000000000000042.snap"), None);
    }

    #[test]
    fn record_crc_covers_seq_and_payload() {
        let mut buf = Vec::new();
        encode_record(&mut buf, 7, b"abc", 3);
        let header = read_record_header(&buf, 0).unwrap();
        assert_eq!(header.len, 3);
        assert_eq!(header.seq, 7);
        assert_eq!(header.crc, crc32c::crc32c(&buf[8..]));
        let mut manual = 7u64.to_le_bytes().to_vec();
        manual.extend_from_slice(b"abc");
        assert_eq!(header.crc, crc32c::crc32c(&manual));
    }

    #[test]
    fn all_zero_detects_any_bit() {
        let mut bytes = vec![0u8; 1000];
        assert!(all_zero(&bytes));
        bytes[999] = 1;
        assert!(!all_zero(&bytes));
        assert!(all_zero(&[]));
    }
}
