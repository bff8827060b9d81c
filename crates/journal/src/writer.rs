//! The journal writer: recovery on open, buffered appends and group commit.
//!
//! `append` only encodes into one reusable buffer; `commit` writes it with one positioned write
//! per segment touched and one `fdatasync` per segment written. Nothing may be acknowledged
//! before `commit` returns `Ok`.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::error::JournalError;
use crate::format::{
    RECORD_HEADER_BYTES, RECORD_PAYLOAD_BYTES_MAX, SEGMENT_BYTES_DEFAULT, SEGMENT_BYTES_MAX,
    SEGMENT_BYTES_MIN, SEGMENT_HEADER_BYTES, encode_record, encode_segment_header,
    read_record_header, segment_path,
};
use crate::fsync_dir;
use crate::scan::{LastSegment, TornTail, list_segments, scan_segments};

/// Name of the lock file that keeps a second writer out of the directory.
const LOCK_FILE_NAME: &str = "LOCK";
/// Suffix of a segment still being zero-filled; renamed to `.seg` only once complete.
const TEMP_SEGMENT_SUFFIX: &str = ".seg.tmp";
/// Chunk size for zero-filling new segments and torn tails.
const ZERO_FILL_CHUNK_BYTES: usize = 1 << 20;
/// After a commit, a write buffer grown beyond this is shrunk back so one huge batch does not
/// pin memory forever.
const WRITE_BUFFER_RETAIN_BYTES_MAX: usize = 16 << 20;

/// Whether commits are made durable.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// `fdatasync` every segment written on each commit (and sync new segments and the
    /// directory). The only setting under which acknowledging after `commit` is honest.
    #[default]
    Always,
    /// Never sync. NOT DURABLE: a power loss or kernel crash loses committed records. Exists
    /// only for benchmarks and tests that measure everything except the disk.
    Never,
}

/// Tunables for [`Journal::open`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalOptions {
    /// Preallocated size of each new segment, between [`SEGMENT_BYTES_MIN`] and
    /// [`SEGMENT_BYTES_MAX`]. Preallocation halves `fdatasync` latency on our VM because
    /// appends never change the file size.
    pub segment_bytes: u64,
    pub fsync: FsyncPolicy,
    /// Zero-fill the next segment in the background while the current one fills (on by
    /// default; off only to measure what it saves).
    pub spare_segment: bool,
}

impl Default for JournalOptions {
    fn default() -> Self {
        Self {
            segment_bytes: SEGMENT_BYTES_DEFAULT,
            fsync: FsyncPolicy::Always,
            spare_segment: true,
        }
    }
}

/// What [`Journal::open`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovered {
    pub segments: usize,
    pub records: u64,
    /// First seq in the journal; 0 when empty.
    pub first_seq: u64,
    /// Last valid (committed) seq; 0 when empty.
    pub last_seq: u64,
    /// The torn last record that was zeroed out, if any (also logged with `tracing::warn`).
    pub truncated: Option<TornTail>,
    /// Leftover half-created segment files (`*.seg.tmp`) that were deleted.
    pub temp_files_removed: usize,
}

/// What one [`Journal::commit`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CommitStats {
    pub records: u64,
    /// Record bytes written (headers + payloads).
    pub bytes: u64,
    /// Segments that received record bytes (one write each).
    pub segments_written: u32,
    /// New segments created (zero-filled) during this commit.
    pub segments_created: u32,
    /// `fdatasync` calls on record data (0 with [`FsyncPolicy::Never`]).
    pub data_syncs: u32,
}

struct ActiveSegment {
    file: File,
    path: PathBuf,
    first_seq: u64,
    write_offset: u64,
    capacity: u64,
}

/// A planned switch to a new segment at `buf_offset` of the pending batch.
struct Roll {
    buf_offset: usize,
    first_seq: u64,
}

/// The single writer of a journal directory.
///
/// Appends are buffered and become durable only with [`Journal::commit`]; dropping the journal
/// discards uncommitted appends (they were never acknowledged). After a failed commit the
/// writer is poisoned and must be reopened, because what reached the disk is unknown.
pub struct Journal {
    dir: PathBuf,
    options: JournalOptions,
    max_payload_bytes: usize,
    active: Option<ActiveSegment>,
    buf: Vec<u8>,
    rolls: Vec<Roll>,
    /// Where the next appended record lands in the segment it will go to.
    tail_offset: u64,
    tail_capacity: u64,
    last_seq: u64,
    next_seq: u64,
    pending_records: u64,
    poisoned: bool,
    /// The next segment's file, being zero-filled ahead of time.
    spare: Option<Spare>,
    _lock: File,
}

/// A segment-sized zero-filled file made by a thread of its own while the current segment fills,
/// so a roll-over only writes a header and renames (the zero fill of a 64 MiB segment stalled
/// the writer for tens of milliseconds). It carries a temporary name until then, so a crash
/// leaves nothing `open` would take for a segment.
struct Spare {
    path: PathBuf,
    thread: Option<std::thread::JoinHandle<Result<File, JournalError>>>,
}

impl Spare {
    fn start(dir: &Path, segment_bytes: u64, sync: bool) -> Spare {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = dir.join(format!(
            "spare-{}-{n}{TEMP_SEGMENT_SUFFIX}",
            std::process::id()
        ));
        let target = path.clone();
        let thread = std::thread::Builder::new()
            .name("journal-spare".into())
            .spawn(move || create_zeroed(&target, segment_bytes, sync, sync))
            .ok();
        Spare { path, thread }
    }

    /// The finished file (waiting for it if need be); `None` when making it failed.
    fn take(mut self) -> Option<(File, PathBuf)> {
        let made = self.thread.take()?.join().ok()?;
        match made {
            Ok(file) => Some((file, std::mem::take(&mut self.path))),
            Err(error) => {
                tracing::warn!(%error, "journal: the spare segment could not be made; creating one now");
                None
            }
        }
    }
}

impl Drop for Spare {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        if !self.path.as_os_str().is_empty() {
            let _ = fs::remove_file(&self.path);
        }
    }
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("dir", &self.dir)
            .field("last_seq", &self.last_seq)
            .field("pending_records", &self.pending_records)
            .field("poisoned", &self.poisoned)
            .finish_non_exhaustive()
    }
}

impl Journal {
    /// Opens (creating if needed) the journal in `dir`: takes the directory lock, validates
    /// every segment and record, truncates a torn tail, and positions after the last valid
    /// record. Any other damage is an error; start-up must stop.
    pub fn open(dir: &Path, options: JournalOptions) -> Result<(Self, Recovered), JournalError> {
        let max_payload_bytes = validate_options(&options)?;
        fs::create_dir_all(dir).map_err(|e| JournalError::io(dir, e))?;
        let lock = lock_dir(dir)?;
        let temp_files_removed = remove_temp_segments(dir)?;
        let segments = list_segments(dir)?;
        let scan = scan_segments(&segments, u64::MAX, |_, _| Ok::<(), JournalError>(()))?;
        if let Some(torn) = &scan.torn {
            tracing::warn!(
                file = %torn.file.display(),
                offset = torn.offset,
                len_bytes = torn.len_bytes,
                reason = %torn.reason,
                "journal: truncating torn last record"
            );
            zero_torn_tail(torn, options.fsync)?;
        }
        let active = scan.last_segment.map(open_active).transpose()?;
        let (tail_offset, tail_capacity) = active
            .as_ref()
            .map_or((0, 0), |a| (a.write_offset, a.capacity));
        tracing::info!(
            dir = %dir.display(),
            segments = scan.segments,
            records = scan.records,
            last_seq = scan.last_seq,
            "journal opened"
        );
        let journal = Self {
            dir: dir.to_path_buf(),
            options,
            max_payload_bytes,
            active,
            buf: Vec::new(),
            rolls: Vec::new(),
            tail_offset,
            tail_capacity,
            last_seq: scan.last_seq,
            next_seq: scan.last_seq.saturating_add(1),
            pending_records: 0,
            poisoned: false,
            spare: None,
            _lock: lock,
        };
        let mut journal = journal;
        if journal.options.spare_segment {
            journal.spare = Some(Spare::start(
                dir,
                journal.options.segment_bytes,
                journal.options.fsync == FsyncPolicy::Always,
            ));
        }
        let recovered = Recovered {
            segments: scan.segments,
            records: scan.records,
            first_seq: scan.first_seq,
            last_seq: scan.last_seq,
            truncated: scan.torn,
            temp_files_removed,
        };
        Ok((journal, recovered))
    }

    /// Last committed seq (durable under [`FsyncPolicy::Always`]); 0 when empty.
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// The seq the next `append` must carry (`last appended + 1`).
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Appended but not yet committed records.
    pub fn pending_records(&self) -> u64 {
        self.pending_records
    }

    /// Largest payload `append` accepts with these options.
    pub fn max_payload_bytes(&self) -> usize {
        self.max_payload_bytes
    }

    /// The journal directory, for readers ([`crate::replay`], [`crate::verify`]) to use.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Buffers one record. `seq` must be exactly `next_seq()`; the payload must be non-empty
    /// and at most `max_payload_bytes()`. Nothing is written until [`Journal::commit`].
    pub fn append(&mut self, seq: u64, payload: &[u8]) -> Result<(), JournalError> {
        if self.poisoned {
            return Err(JournalError::Poisoned);
        }
        if seq != self.next_seq {
            return Err(JournalError::SeqOutOfOrder {
                expected_seq: self.next_seq,
                got_seq: seq,
            });
        }
        if payload.is_empty() {
            return Err(JournalError::EmptyPayload);
        }
        let too_large = JournalError::RecordTooLarge {
            len_bytes: payload.len(),
            max_bytes: self.max_payload_bytes,
        };
        if payload.len() > self.max_payload_bytes {
            return Err(too_large);
        }
        let len = u32::try_from(payload.len()).map_err(|_| too_large)?;
        let record_bytes = (RECORD_HEADER_BYTES + payload.len()) as u64;
        if self.tail_offset + record_bytes > self.tail_capacity {
            self.rolls.push(Roll {
                buf_offset: self.buf.len(),
                first_seq: seq,
            });
            self.tail_offset = SEGMENT_HEADER_BYTES as u64;
            self.tail_capacity = self.options.segment_bytes;
        }
        encode_record(&mut self.buf, seq, payload, len);
        self.tail_offset += record_bytes;
        self.next_seq = seq.saturating_add(1);
        self.pending_records += 1;
        Ok(())
    }

    /// Writes every appended record and makes it durable: one write per segment touched and
    /// one `fdatasync` per segment written (group commit). Only after `Ok` may the caller
    /// acknowledge the records. On error the writer is poisoned (see [`JournalError::Poisoned`]).
    pub fn commit(&mut self) -> Result<CommitStats, JournalError> {
        if self.poisoned {
            return Err(JournalError::Poisoned);
        }
        if self.pending_records == 0 {
            return Ok(CommitStats::default());
        }
        self.assert_batch_encoding();
        match self.write_batch() {
            Ok(stats) => {
                self.last_seq = self.next_seq - 1;
                self.pending_records = 0;
                self.buf.clear();
                self.buf.shrink_to(WRITE_BUFFER_RETAIN_BYTES_MAX);
                self.rolls.clear();
                Ok(stats)
            }
            Err(err) => {
                self.poisoned = true;
                tracing::error!(error = %err, "journal commit failed; writer poisoned");
                Err(err)
            }
        }
    }

    /// Pair assertion: re-reads the framing `append` encoded (lengths, seqs, segment switch
    /// points) before a single byte goes to disk. A mismatch is a bug in this crate.
    fn assert_batch_encoding(&self) {
        let mut offset = 0usize;
        let mut seq = self.last_seq + 1;
        let mut rolls = self.rolls.iter().peekable();
        assert!(
            self.active.is_some() || rolls.peek().is_some_and(|r| r.buf_offset == 0),
            "journal batch has no segment to go to"
        );
        while offset < self.buf.len() {
            if let Some(roll) = rolls.next_if(|r| r.buf_offset == offset) {
                assert_eq!(roll.first_seq, seq, "journal roll point seq mismatch");
            }
            let header = read_record_header(&self.buf, offset);
            assert!(
                header.is_some_and(|h| h.seq == seq && h.len > 0),
                "journal batch encoding broken at buffer offset {offset} (seq {seq})"
            );
            offset += RECORD_HEADER_BYTES + header.map_or(0, |h| h.len as usize);
            seq += 1;
        }
        assert_eq!(offset, self.buf.len(), "journal batch overruns its buffer");
        assert_eq!(seq, self.next_seq, "journal batch record count mismatch");
        assert!(rolls.next().is_none(), "journal roll point past batch end");
    }

    fn write_batch(&mut self) -> Result<CommitStats, JournalError> {
        let mut stats = CommitStats {
            records: self.pending_records,
            bytes: self.buf.len() as u64,
            ..CommitStats::default()
        };
        let rolls = std::mem::take(&mut self.rolls);
        let mut part_start = 0usize;
        let mut new_segment: Option<u64> = None;
        for index in 0..=rolls.len() {
            let part_end = rolls.get(index).map_or(self.buf.len(), |r| r.buf_offset);
            if let Some(first_seq) = new_segment {
                self.roll_to(first_seq)?;
                stats.segments_created += 1;
            }
            if part_end > part_start {
                self.write_part(part_start, part_end, &mut stats)?;
            }
            new_segment = rolls.get(index).map(|r| r.first_seq);
            part_start = part_end;
        }
        self.rolls = rolls;
        Ok(stats)
    }

    fn write_part(
        &mut self,
        start: usize,
        end: usize,
        stats: &mut CommitStats,
    ) -> Result<(), JournalError> {
        let bytes = self.buf.get(start..end).unwrap_or(&[]);
        // assert_batch_encoding guarantees an active segment whenever there are bytes for it.
        let Some(active) = self.active.as_mut() else {
            return Err(JournalError::Poisoned);
        };
        let len = bytes.len() as u64;
        assert!(
            active.write_offset + len <= active.capacity,
            "journal part of {len} bytes overflows segment {} at offset {}",
            active.path.display(),
            active.write_offset
        );
        active
            .file
            .write_all_at(bytes, active.write_offset)
            .map_err(|e| JournalError::io(&active.path, e))?;
        active.write_offset += len;
        stats.segments_written += 1;
        if self.options.fsync == FsyncPolicy::Always {
            active
                .file
                .sync_data()
                .map_err(|e| JournalError::io(&active.path, e))?;
            stats.data_syncs += 1;
        }
        Ok(())
    }

    fn roll_to(&mut self, first_seq: u64) -> Result<(), JournalError> {
        let sync = self.options.fsync == FsyncPolicy::Always;
        let promoted = self
            .spare
            .take()
            .and_then(Spare::take)
            .and_then(|(file, spare)| {
                match promote(file, &spare, &self.dir, first_seq, sync) {
                    Ok(made) => Some(made),
                    Err(error) => {
                        tracing::warn!(%error, "journal: the spare segment could not be used; creating one now");
                        let _ = fs::remove_file(&spare);
                        None
                    }
                }
            });
        let (file, path) = match promoted {
            Some(made) => made,
            None => create_segment(&self.dir, first_seq, self.options.segment_bytes, sync)?,
        };
        if self.options.spare_segment {
            self.spare = Some(Spare::start(&self.dir, self.options.segment_bytes, sync));
        }
        if let Some(previous) = &self.active {
            tracing::debug!(from = %previous.path.display(), first_seq = previous.first_seq, to = %path.display(), "journal segment roll");
        }
        self.active = Some(ActiveSegment {
            file,
            path,
            first_seq,
            write_offset: SEGMENT_HEADER_BYTES as u64,
            capacity: self.options.segment_bytes,
        });
        Ok(())
    }
}

/// Returns the largest payload these options allow: a record must fit an empty segment.
fn validate_options(options: &JournalOptions) -> Result<usize, JournalError> {
    if !(SEGMENT_BYTES_MIN..=SEGMENT_BYTES_MAX).contains(&options.segment_bytes) {
        return Err(JournalError::InvalidOptions(format!(
            "segment_bytes {} outside {SEGMENT_BYTES_MIN}..={SEGMENT_BYTES_MAX}",
            options.segment_bytes
        )));
    }
    let room = options.segment_bytes - (SEGMENT_HEADER_BYTES + RECORD_HEADER_BYTES) as u64;
    Ok(usize::try_from(room).map_or(RECORD_PAYLOAD_BYTES_MAX, |r| {
        r.min(RECORD_PAYLOAD_BYTES_MAX)
    }))
}

fn lock_dir(dir: &Path) -> Result<File, JournalError> {
    let path = dir.join(LOCK_FILE_NAME);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| JournalError::io(&path, e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(JournalError::Locked { path }),
        Err(TryLockError::Error(e)) => Err(JournalError::io(path, e)),
    }
}

/// Deletes segments whose creation was interrupted; they never held a record.
fn remove_temp_segments(dir: &Path) -> Result<usize, JournalError> {
    let mut removed = 0;
    for entry in fs::read_dir(dir).map_err(|e| JournalError::io(dir, e))? {
        let path = entry.map_err(|e| JournalError::io(dir, e))?.path();
        let is_temp = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.ends_with(TEMP_SEGMENT_SUFFIX));
        if is_temp {
            tracing::warn!(file = %path.display(), "journal: removing half-created segment");
            fs::remove_file(&path).map_err(|e| JournalError::io(&path, e))?;
            removed += 1;
        }
    }
    Ok(removed)
}

fn zero_torn_tail(torn: &TornTail, fsync: FsyncPolicy) -> Result<(), JournalError> {
    let io = |e| JournalError::io(&torn.file, e);
    let file = OpenOptions::new()
        .write(true)
        .open(&torn.file)
        .map_err(io)?;
    let zeros = vec![0u8; ZERO_FILL_CHUNK_BYTES.min(usize::try_from(torn.len_bytes).unwrap_or(0))];
    let mut offset = torn.offset;
    let end = torn.offset + torn.len_bytes;
    while offset < end {
        let chunk = zeros.len().min(usize::try_from(end - offset).unwrap_or(0));
        file.write_all_at(zeros.get(..chunk).unwrap_or(&[]), offset)
            .map_err(io)?;
        offset += chunk as u64;
    }
    if fsync == FsyncPolicy::Always {
        file.sync_data().map_err(io)?;
    }
    Ok(())
}

fn open_active(last: LastSegment) -> Result<ActiveSegment, JournalError> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&last.path)
        .map_err(|e| JournalError::io(&last.path, e))?;
    Ok(ActiveSegment {
        file,
        path: last.path,
        first_seq: last.first_seq,
        write_offset: last.data_end,
        capacity: last.file_len,
    })
}

/// Creates a zero-filled segment under a temporary name and renames it into place once it is
/// complete (and synced), so a crash never leaves a half-created `.seg` file.
fn create_segment(
    dir: &Path,
    first_seq: u64,
    segment_bytes: u64,
    sync: bool,
) -> Result<(File, PathBuf), JournalError> {
    let tmp = segment_path(dir, first_seq).with_extension("seg.tmp");
    let file = create_zeroed(&tmp, segment_bytes, sync, false)?;
    promote(file, &tmp, dir, first_seq, sync)
}

/// A file of `segment_bytes` zeros at `path` (a temporary name), synced when `sync`. `paced`
/// syncs every chunk as it goes: a spare made next to a busy journal then never hands the disk
/// one 64 MiB flush that the journal's own `fdatasync` calls would queue behind.
fn create_zeroed(
    path: &Path,
    segment_bytes: u64,
    sync: bool,
    paced: bool,
) -> Result<File, JournalError> {
    let io = |e| JournalError::io(path, e);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .map_err(io)?;
    let chunk_bytes = usize::try_from(segment_bytes)
        .map_or(ZERO_FILL_CHUNK_BYTES, |s| s.min(ZERO_FILL_CHUNK_BYTES));
    let chunk = vec![0u8; chunk_bytes];
    let mut offset = 0u64;
    while offset < segment_bytes {
        let len = chunk
            .len()
            .min(usize::try_from(segment_bytes - offset).unwrap_or(0));
        file.write_all_at(chunk.get(..len).unwrap_or(&[]), offset)
            .map_err(io)?;
        if paced {
            file.sync_data().map_err(io)?;
        }
        offset += len as u64;
    }
    if sync {
        file.sync_all().map_err(io)?;
    }
    Ok(file)
}

/// Turns a zero-filled temporary file into the segment starting at `first_seq`: its header
/// written (and synced), then renamed into place and the directory synced.
fn promote(
    file: File,
    tmp: &Path,
    dir: &Path,
    first_seq: u64,
    sync: bool,
) -> Result<(File, PathBuf), JournalError> {
    let io = |e| JournalError::io(tmp, e);
    file.write_all_at(&encode_segment_header(first_seq), 0)
        .map_err(io)?;
    if sync {
        file.sync_data().map_err(io)?;
    }
    let path = segment_path(dir, first_seq);
    fs::rename(tmp, &path).map_err(io)?;
    if sync {
        fsync_dir(dir).map_err(|e| JournalError::io(dir, e))?;
    }
    Ok((file, path))
}
