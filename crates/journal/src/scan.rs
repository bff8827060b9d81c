//! Reading and validating segments: shared by recovery ([`crate::Journal::open`]), [`replay`]
//! and [`verify`], so all three apply exactly the same integrity rules.
//!
//! A segment is read whole into one reused buffer and records are handed to the caller as
//! slices of it, so replay does no per-record allocation.

use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::JournalError;
use crate::format::{
    RECORD_HEADER_BYTES, RECORD_PAYLOAD_BYTES_MAX, RECORD_SEQ_OFFSET, SEGMENT_BYTES_MAX,
    SEGMENT_HEADER_BYTES, SEGMENT_MAGIC, all_zero, is_segment_like_name, parse_segment_name,
    read_record_header, read_u64,
};

/// A damaged last record at the very end of the journal, followed only by zeros.
///
/// Its commit cannot have returned (the fsync covering it did not complete), so nobody was told
/// about it and dropping it is safe. `Journal::open` zeroes it; `verify` and `replay` only report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    pub file: PathBuf,
    /// Where the damaged record starts (and where valid data ends).
    pub offset: u64,
    /// Non-zero bytes from `offset` to the last non-zero byte of the file.
    pub len_bytes: u64,
    pub reason: String,
}

/// What [`replay`] delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayStats {
    /// Records passed to the callback.
    pub records: u64,
    /// Seq of the first record delivered; 0 when none.
    pub first_seq: u64,
    /// Last valid seq in the journal; 0 when the journal is empty.
    pub last_seq: u64,
    /// A torn tail that replay stopped at (only possible if the journal was not opened for
    /// writing since the crash).
    pub torn_tail: Option<TornTail>,
}

/// Result of a full read-only [`verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    pub segments: usize,
    pub records: u64,
    /// First seq in the journal; 0 when empty (real seqs start at 1).
    pub first_seq: u64,
    /// Last valid seq; 0 when empty.
    pub last_seq: u64,
    /// Bytes of valid data: segment headers plus records (not the zero fill).
    pub bytes: u64,
    /// A torn tail `Journal::open` would truncate; reported, never modified here.
    pub torn_tail: Option<TornTail>,
}

/// A segment file found in the journal directory.
#[derive(Debug, Clone)]
pub(crate) struct SegmentFile {
    pub first_seq: u64,
    pub path: PathBuf,
}

/// The last segment as scanned: where the writer continues.
#[derive(Debug, Clone)]
pub(crate) struct LastSegment {
    pub path: PathBuf,
    pub first_seq: u64,
    pub data_end: u64,
    pub file_len: u64,
}

/// Totals over the scanned segments.
#[derive(Debug, Default)]
pub(crate) struct DirScan {
    pub segments: usize,
    pub records: u64,
    pub first_seq: u64,
    pub last_seq: u64,
    pub bytes: u64,
    pub torn: Option<TornTail>,
    pub last_segment: Option<LastSegment>,
}

/// Segment files in `dir`, ordered by first seq. A `*.seg` name that does not parse is an error:
/// it is either damage or a file someone put there, and guessing is not allowed.
pub(crate) fn list_segments(dir: &Path) -> Result<Vec<SegmentFile>, JournalError> {
    let entries = fs::read_dir(dir).map_err(|e| JournalError::io(dir, e))?;
    let mut segments = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| JournalError::io(dir, e))?;
        let path = entry.path();
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        match parse_segment_name(&name) {
            Some(first_seq) => segments.push(SegmentFile { first_seq, path }),
            None if is_segment_like_name(&name) => {
                return Err(JournalError::corrupt(
                    path,
                    0,
                    "segment file name is not <20-digit seq>.seg",
                ));
            }
            None => {}
        }
    }
    segments.sort_by_key(|s| s.first_seq);
    Ok(segments)
}

/// Calls `on_record(seq, payload)` for every record with `seq >= from_seq`, in order, after
/// validating it (CRC, sequence continuity, segment headers and names).
///
/// Segments that end before `from_seq` are not read (use [`verify`] for a full check). Errors
/// if records in `from_seq..` are missing (`Gap`) or `from_seq` is past `last_seq + 1`
/// (`FromSeqBeyondEnd`). A torn tail ends the replay and is reported in the stats. The
/// callback's error type must absorb [`JournalError`], so one `?` works for both.
pub fn replay<E, F>(dir: &Path, from_seq: u64, mut on_record: F) -> Result<ReplayStats, E>
where
    E: From<JournalError>,
    F: FnMut(u64, &[u8]) -> Result<(), E>,
{
    let segments = list_segments(dir)?;
    let want_seq = from_seq.max(1);
    let start = segments
        .partition_point(|s| s.first_seq <= want_seq)
        .saturating_sub(1);
    if let Some(first) = segments.get(start).filter(|s| s.first_seq > want_seq) {
        return Err(JournalError::Gap {
            file: first.path.clone(),
            expected_seq: want_seq,
            found_seq: first.first_seq,
        }
        .into());
    }
    let mut delivered = 0u64;
    let mut first_delivered = 0u64;
    let scan = scan_segments(
        segments.get(start..).unwrap_or(&[]),
        want_seq,
        |seq, payload| {
            if delivered == 0 {
                first_delivered = seq;
            }
            delivered += 1;
            on_record(seq, payload)
        },
    )?;
    if want_seq > scan.last_seq.saturating_add(1) {
        return Err(JournalError::FromSeqBeyondEnd {
            from_seq,
            last_seq: scan.last_seq,
        }
        .into());
    }
    Ok(ReplayStats {
        records: delivered,
        first_seq: first_delivered,
        last_seq: scan.last_seq,
        torn_tail: scan.torn,
    })
}

/// Read-only full check of every segment and record; never modifies anything (it backs
/// `bulwark journal verify`, which must be safe to run against a live or crashed journal).
pub fn verify(dir: &Path) -> Result<VerifyReport, JournalError> {
    let segments = list_segments(dir)?;
    let scan = scan_segments(&segments, u64::MAX, |_, _| Ok::<(), JournalError>(()))?;
    Ok(VerifyReport {
        segments: scan.segments,
        records: scan.records,
        first_seq: scan.first_seq,
        last_seq: scan.last_seq,
        bytes: scan.bytes,
        torn_tail: scan.torn,
    })
}

/// Scans `segments` in order (the first one's seq is taken as given), delivering records with
/// `seq >= from_seq`. Only the last segment may end in a torn record.
pub(crate) fn scan_segments<E, F>(
    segments: &[SegmentFile],
    from_seq: u64,
    mut on_record: F,
) -> Result<DirScan, E>
where
    E: From<JournalError>,
    F: FnMut(u64, &[u8]) -> Result<(), E>,
{
    let mut out = DirScan {
        first_seq: segments.first().map_or(0, |s| s.first_seq),
        ..DirScan::default()
    };
    let mut buf = Vec::new();
    let mut expected_first: Option<u64> = None;
    for (index, seg) in segments.iter().enumerate() {
        let is_last = index + 1 == segments.len();
        read_segment(&seg.path, &mut buf)?;
        check_header(seg, &buf, expected_first)?;
        let summary = scan_records(seg, &buf, is_last, from_seq, &mut on_record)?;
        expected_first = Some(seg.first_seq + summary.records);
        out.segments += 1;
        out.records += summary.records;
        out.bytes += summary.data_end;
        // An empty segment still pins the seq before its first (a writer continues there).
        out.last_seq = (seg.first_seq + summary.records).saturating_sub(1);
        if is_last {
            out.torn = summary.torn;
            out.last_segment = Some(LastSegment {
                path: seg.path.clone(),
                first_seq: seg.first_seq,
                data_end: summary.data_end,
                file_len: buf.len() as u64,
            });
        }
    }
    if out.records == 0 {
        out.first_seq = 0;
    }
    Ok(out)
}

fn read_segment(path: &Path, buf: &mut Vec<u8>) -> Result<(), JournalError> {
    let mut file = File::open(path).map_err(|e| JournalError::io(path, e))?;
    let len_bytes = file
        .metadata()
        .map_err(|e| JournalError::io(path, e))?
        .len();
    if len_bytes > SEGMENT_BYTES_MAX {
        return Err(JournalError::corrupt(
            path,
            0,
            format!("segment is {len_bytes} bytes, more than the maximum {SEGMENT_BYTES_MAX}"),
        ));
    }
    buf.clear();
    file.read_to_end(buf)
        .map_err(|e| JournalError::io(path, e))?;
    Ok(())
}

fn check_header(
    seg: &SegmentFile,
    buf: &[u8],
    expected_first: Option<u64>,
) -> Result<(), JournalError> {
    let magic_ok = buf.get(..SEGMENT_MAGIC.len()) == Some(&SEGMENT_MAGIC[..]);
    if buf.len() < SEGMENT_HEADER_BYTES || !magic_ok {
        return Err(JournalError::corrupt(
            &seg.path,
            0,
            "bad segment header (magic BWJRNL01 missing or file too short)",
        ));
    }
    let header_seq = read_u64(buf, SEGMENT_MAGIC.len()).unwrap_or(0);
    if header_seq != seg.first_seq {
        return Err(JournalError::corrupt(
            &seg.path,
            SEGMENT_MAGIC.len() as u64,
            format!(
                "segment header says first seq {header_seq}, file name says {}",
                seg.first_seq
            ),
        ));
    }
    match expected_first {
        Some(expected_seq) if expected_seq != seg.first_seq => Err(JournalError::Gap {
            file: seg.path.clone(),
            expected_seq,
            found_seq: seg.first_seq,
        }),
        _ => Ok(()),
    }
}

struct SegmentSummary {
    records: u64,
    data_end: u64,
    torn: Option<TornTail>,
}

enum RecordCheck {
    Valid { len: usize },
    End,
    Bad(BadRecord),
}

struct BadRecord {
    reason: String,
    /// Where the damaged record would end; everything after must be zero for a torn tail.
    extent_end: usize,
    /// False for damage a torn write cannot produce (a CRC-valid record with the wrong seq).
    may_be_torn: bool,
}

fn scan_records<E, F>(
    seg: &SegmentFile,
    buf: &[u8],
    is_last: bool,
    from_seq: u64,
    on_record: &mut F,
) -> Result<SegmentSummary, E>
where
    E: From<JournalError>,
    F: FnMut(u64, &[u8]) -> Result<(), E>,
{
    let mut offset = SEGMENT_HEADER_BYTES;
    let mut next_seq = seg.first_seq;
    let mut records = 0u64;
    loop {
        match check_record(buf, offset, next_seq) {
            RecordCheck::Valid { len } => {
                let payload_start = offset + RECORD_HEADER_BYTES;
                let payload = buf.get(payload_start..payload_start + len).unwrap_or(&[]);
                if next_seq >= from_seq {
                    on_record(next_seq, payload)?;
                }
                next_seq += 1;
                records += 1;
                offset = payload_start + len;
            }
            RecordCheck::End => {
                return Ok(SegmentSummary {
                    records,
                    data_end: offset as u64,
                    torn: None,
                });
            }
            RecordCheck::Bad(bad) => {
                let torn = classify_bad(seg, buf, offset, next_seq, is_last, bad)?;
                return Ok(SegmentSummary {
                    records,
                    data_end: offset as u64,
                    torn: Some(torn),
                });
            }
        }
    }
}

#[inline]
fn check_record(buf: &[u8], offset: usize, expected_seq: u64) -> RecordCheck {
    let rest = buf.get(offset..).unwrap_or(&[]);
    let Some(header) = read_record_header(rest, 0) else {
        // The file ends inside a header: a write cut short at the end of the file, so a torn
        // tail when it is the last segment's (nothing can follow it).
        if all_zero(rest) {
            return RecordCheck::End;
        }
        return RecordCheck::Bad(BadRecord {
            reason: "the file ends inside a record header".to_owned(),
            extent_end: offset + rest.len(),
            may_be_torn: true,
        });
    };
    if header.len == 0 {
        return end_or_bad(rest, "zero record length followed by non-zero data");
    }
    let len = header.len as usize;
    if len > RECORD_PAYLOAD_BYTES_MAX {
        return RecordCheck::Bad(BadRecord {
            reason: format!("record length {len} exceeds the maximum {RECORD_PAYLOAD_BYTES_MAX}"),
            extent_end: offset + RECORD_HEADER_BYTES,
            may_be_torn: true,
        });
    }
    let extent_end = offset + RECORD_HEADER_BYTES + len;
    let Some(covered) = buf.get(offset + RECORD_SEQ_OFFSET..extent_end) else {
        return RecordCheck::Bad(BadRecord {
            reason: format!("record of {len} bytes runs past the end of the file"),
            extent_end: buf.len(),
            may_be_torn: true,
        });
    };
    if crc32c::crc32c(covered) != header.crc {
        return RecordCheck::Bad(BadRecord {
            reason: "record CRC mismatch".to_owned(),
            extent_end,
            may_be_torn: true,
        });
    }
    if header.seq != expected_seq {
        return RecordCheck::Bad(BadRecord {
            reason: format!(
                "record has seq {} where {expected_seq} was expected",
                header.seq
            ),
            extent_end,
            may_be_torn: false,
        });
    }
    RecordCheck::Valid { len }
}

fn end_or_bad(rest: &[u8], reason: &str) -> RecordCheck {
    if all_zero(rest) {
        RecordCheck::End
    } else {
        RecordCheck::Bad(BadRecord {
            reason: reason.to_owned(),
            extent_end: 0,
            may_be_torn: false,
        })
    }
}

/// Decides whether a bad record is a torn tail (last segment, nothing but zeros after it, no
/// valid record hiding after it) or corruption, which is an error.
fn classify_bad(
    seg: &SegmentFile,
    buf: &[u8],
    offset: usize,
    next_seq: u64,
    is_last: bool,
    bad: BadRecord,
) -> Result<TornTail, JournalError> {
    let corrupt = |reason: String| JournalError::corrupt(&seg.path, offset as u64, reason);
    if !bad.may_be_torn {
        return Err(corrupt(bad.reason));
    }
    if !is_last {
        return Err(corrupt(format!("{} (not in the last segment)", bad.reason)));
    }
    let after = buf.get(bad.extent_end..).unwrap_or(&[]);
    if let Some(pos) = after.iter().position(|b| *b != 0) {
        return Err(corrupt(format!(
            "{}, followed by non-zero data at offset {}",
            bad.reason,
            bad.extent_end + pos
        )));
    }
    if let Some((pos, seq)) = find_valid_record(buf, offset + 1, bad.extent_end, next_seq) {
        return Err(corrupt(format!(
            "{}, but a valid record (seq {seq}) follows at offset {pos}",
            bad.reason
        )));
    }
    let nonzero_end = buf.iter().rposition(|b| *b != 0).map_or(offset, |i| i + 1);
    Ok(TornTail {
        file: seg.path.clone(),
        offset: offset as u64,
        len_bytes: nonzero_end.saturating_sub(offset) as u64,
        reason: bad.reason,
    })
}

/// Looks for any CRC-valid record with `seq >= min_seq` starting in `from..to`: if one exists,
/// the bad record before it was committed data, not a torn write (e.g. a corrupted length).
fn find_valid_record(buf: &[u8], from: usize, to: usize, min_seq: u64) -> Option<(usize, u64)> {
    let max_records = (buf.len() / RECORD_HEADER_BYTES) as u64;
    (from..to).find_map(|pos| {
        let header = read_record_header(buf, pos)?;
        let len = header.len as usize;
        let plausible = len > 0
            && len <= RECORD_PAYLOAD_BYTES_MAX
            && header.seq >= min_seq
            && header.seq - min_seq <= max_records;
        if !plausible {
            return None;
        }
        let covered = buf.get(pos + RECORD_SEQ_OFFSET..pos + RECORD_HEADER_BYTES + len)?;
        (crc32c::crc32c(covered) == header.crc).then_some((pos, header.seq))
    })
}
