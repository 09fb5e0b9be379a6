//! Durable mode: an append-only write-ahead log of JSON lines, replayed on start and
//! compacted (rewritten as a snapshot of the live state) on start and whenever it has grown
//! well past the live state.
//!
//! Durability policy: every mutating request writes its records with one `write(2)` call
//! on the log file *before* the request is acknowledged. The bytes are then in the
//! operating system's page cache, so an acknowledged send survives `kill -9` (or any crash
//! of this process). They survive a power loss or kernel crash only with `fsync = true`
//! (Config::fsync), which calls `fdatasync` before every acknowledgement; that costs
//! a few milliseconds per request on most disks, so it is off by default for a development
//! endpoint.
//!
//! Receives are logged too (one small record per ReceiveMessage that returned messages), so
//! receive counts, and with them redrive to a dead-letter queue, survive a restart; in-flight
//! state does not (after a restart every message is visible again).
//!
//! A torn last line (the process killed mid-write: no final newline) is ignored on replay: it
//! was never acknowledged. Every other record that cannot be read (garbage, changed bytes,
//! invalid UTF-8; each record carries a CRC-32) is never dropped silently: by default the
//! endpoint refuses to start, with a [`CorruptLog`] error naming the file, line, byte offset
//! and problem, and leaves the log untouched. With `Config::recover_corrupt_log`
//! (`--recover-corrupt-log`) it copies the original log aside (`wal.log.corrupt-<UTC time>`),
//! reports each damaged record on stderr, and starts with the readable records. See
//! [`open_dir`].

use crate::util::AttrValue;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// A stored message as logged.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredMsg {
    pub seq: u64,
    pub id: String,
    pub body: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attrs: BTreeMap<String, AttrValue>,
    pub sent: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dedup: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dlq_src: Option<String>,
    /// The `AWSTraceHeader` system attribute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<String>,
    /// Not visible before this time (DelaySeconds), ms since epoch; 0 = now.
    #[serde(default)]
    pub visible_at: u64,
    /// Receive count so far (so that redrive still happens after a restart).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub recv: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// One log record.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "t")]
pub enum Record {
    /// Queue created, or its attributes/tags replaced.
    Queue {
        name: String,
        inc: u64,
        attrs: BTreeMap<String, String>,
        tags: BTreeMap<String, String>,
        created: u64,
    },
    DeleteQueue {
        name: String,
        inc: u64,
    },
    Send {
        q: String,
        inc: u64,
        m: StoredMsg,
    },
    Delete {
        q: String,
        inc: u64,
        seq: u64,
    },
    /// Messages handed to a receiver (their receive counts grow by one).
    Received {
        q: String,
        inc: u64,
        seqs: Vec<u64>,
    },
    Purge {
        q: String,
        inc: u64,
        upto: u64,
    },
    Topic {
        name: String,
        attrs: BTreeMap<String, String>,
        tags: BTreeMap<String, String>,
    },
    DeleteTopic {
        name: String,
    },
    Subscription {
        arn: String,
        topic: String,
        endpoint: String,
        attrs: BTreeMap<String, String>,
    },
    Unsubscribe {
        arn: String,
    },
}

/// Default size past which the log is compacted (when also 4x its last compacted size).
pub const DEFAULT_COMPACT_AFTER: u64 = 64 * 1024 * 1024;

pub struct Wal {
    dir: PathBuf,
    fsync: bool,
    compact_after: u64,
    inner: Mutex<WalInner>,
}

struct WalInner {
    file: File,
    bytes: u64,
    live_at_compaction: u64,
    buf: Vec<u8>,
}

const LOG: &str = "wal.log";
const TMP: &str = "wal.log.tmp";

impl Wal {
    /// Reads every record of the log in `dir` (created if missing).
    ///
    /// A torn last line (no final newline: a write cut short by a crash, never acknowledged)
    /// is ignored. Any other unreadable record is an error ([`CorruptLog`], as the inner
    /// error of an `InvalidData` I/O error), never silently skipped: see [`open_dir`] for
    /// the checks made before replay and for the opt-in recovery.
    pub fn load(dir: &Path) -> std::io::Result<Vec<Record>> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(LOG);
        match scan(&path)? {
            None => Ok(Vec::new()),
            Some(s) if s.damaged.is_empty() => Ok(s.records),
            Some(s) => Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                CorruptLog {
                    path,
                    damaged: s.damaged,
                    readable: s.records.len(),
                },
            )),
        }
    }

    /// Writes `records` as the new log (atomically replacing the old one) and opens it
    /// for appending.
    pub fn create(
        dir: &Path,
        records: &[Record],
        fsync: bool,
        compact_after: u64,
    ) -> std::io::Result<Wal> {
        let bytes = write_snapshot(dir, records)?;
        let file = OpenOptions::new().append(true).open(dir.join(LOG))?;
        Ok(Wal {
            dir: dir.to_path_buf(),
            fsync,
            compact_after,
            inner: Mutex::new(WalInner {
                file,
                bytes,
                live_at_compaction: bytes,
                buf: Vec::with_capacity(4096),
            }),
        })
    }

    /// Appends records with one write (and an fdatasync if configured).
    pub fn append(&self, records: &[Record]) -> std::io::Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let WalInner {
            file, buf, bytes, ..
        } = &mut *g;
        buf.clear();
        for r in records {
            encode_record(buf, r)?;
        }
        file.write_all(buf)?;
        if self.fsync {
            file.sync_data()?;
        }
        *bytes += buf.len() as u64;
        Ok(())
    }

    /// True when the log has grown enough past the last compaction to be worth rewriting.
    pub fn wants_compaction(&self) -> bool {
        let g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        g.bytes > self.compact_after && g.bytes > 4 * g.live_at_compaction.max(1)
    }

    /// Replaces the log by `records` (the live state). The caller must hold every lock that
    /// an appender holds, so that no record is lost between the snapshot and the switch.
    pub fn compact(&self, records: &[Record]) -> std::io::Result<()> {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let bytes = write_snapshot(&self.dir, records)?;
        g.file = OpenOptions::new().append(true).open(self.dir.join(LOG))?;
        g.bytes = bytes;
        g.live_at_compaction = bytes;
        Ok(())
    }
}

fn write_snapshot(dir: &Path, records: &[Record]) -> std::io::Result<u64> {
    let tmp = dir.join(TMP);
    let mut f = std::io::BufWriter::new(File::create(&tmp)?);
    let mut n = 0u64;
    let mut line = Vec::with_capacity(4096);
    for r in records {
        line.clear();
        encode_record(&mut line, r)?;
        f.write_all(&line)?;
        n += line.len() as u64;
    }
    let f = f.into_inner().map_err(|e| e.into_error())?;
    f.sync_all()?;
    std::fs::rename(&tmp, dir.join(LOG))?;
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(n)
}

// --- Record framing: a CRC-32 of each record, inside the record ---------------------------
//
// A line is the record's JSON with a first member `"c":CRC` added, where CRC is the CRC-32
// (IEEE) of the record's JSON without that member: `{"c":1234,"t":"Send",...}` for the record
// `{"t":"Send",...}`. Versions that do not know the member ignore it (serde skips unknown
// fields), and lines without it (logs written before it existed) are still read, as long as
// the whole log is of one kind: a log this version has compacted carries checksums on every
// line, so a line without one there is damage.

const CRC_MEMBER: &[u8] = b"{\"c\":";

/// Appends `r` as one framed line (with its newline) to `buf`.
fn encode_record(buf: &mut Vec<u8>, r: &Record) -> std::io::Result<()> {
    let json = serde_json::to_vec(r).map_err(std::io::Error::other)?;
    debug_assert!(json.len() > 2 && json[0] == b'{');
    let crc = crc32(&json);
    buf.extend_from_slice(CRC_MEMBER);
    buf.extend_from_slice(crc.to_string().as_bytes());
    buf.push(b',');
    buf.extend_from_slice(&json[1..]);
    buf.push(b'\n');
    Ok(())
}

/// Decodes one line (without its newline). `Ok((record, checksummed))`, or the problem.
fn decode_line(line: &[u8]) -> Result<(Record, bool), String> {
    if let Err(e) = std::str::from_utf8(line) {
        return Err(format!(
            "invalid UTF-8 at byte {} of the record",
            e.valid_up_to()
        ));
    }
    let checksummed = line.starts_with(CRC_MEMBER);
    if checksummed {
        let rest = &line[CRC_MEMBER.len()..];
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        let stored = std::str::from_utf8(&rest[..digits])
            .ok()
            .and_then(|d| d.parse::<u32>().ok())
            .filter(|_| rest.get(digits) == Some(&b','))
            .ok_or_else(|| "its checksum member is malformed".to_string())?;
        let computed = crc32_parts(&[b"{", &rest[digits + 1..]]);
        if computed != stored {
            return Err(format!(
                "checksum mismatch (stored {stored}, computed {computed}): the record's bytes changed"
            ));
        }
    }
    serde_json::from_slice::<Record>(line)
        .map(|r| (r, checksummed))
        .map_err(|e| format!("not a valid record: {e}"))
}

/// CRC-32 (IEEE 802.3, as zlib and PNG), table-driven.
fn crc32(data: &[u8]) -> u32 {
    crc32_parts(&[data])
}

fn crc32_parts(parts: &[&[u8]]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut t = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
                k += 1;
            }
            t[i] = c;
            i += 1;
        }
        t
    };
    let mut c = !0u32;
    for part in parts {
        for &b in *part {
            c = TABLE[((c ^ b as u32) & 0xff) as usize] ^ (c >> 8);
        }
    }
    !c
}

// --- Reading the log: damaged records are found, named and never silently dropped --------

/// A record of the log that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DamagedRecord {
    /// 1-based line number in the log.
    pub line: u64,
    /// Byte offset of the line's first byte in the log.
    pub offset: u64,
    /// The line's length in bytes (without its newline).
    pub len: u64,
    /// What is wrong with it.
    pub problem: String,
    /// The line's first bytes, for a human (lossy UTF-8, at most 80 bytes).
    pub preview: String,
}

impl std::fmt::Display for DamagedRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "line {}, byte offset {} ({} bytes): {}; it starts with {:?}",
            self.line, self.offset, self.len, self.problem, self.preview
        )
    }
}

/// The log holds damaged records (not a torn last line): replay refused, the log untouched.
#[derive(Debug, Clone)]
pub struct CorruptLog {
    /// The log file.
    pub path: PathBuf,
    /// Every damaged record, in file order (at least one).
    pub damaged: Vec<DamagedRecord>,
    /// How many records could be read.
    pub readable: usize,
}

impl std::fmt::Display for CorruptLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let first = &self.damaged[0];
        write!(
            f,
            "the write-ahead log {} is damaged at {}",
            self.path.display(),
            first
        )?;
        if self.damaged.len() > 1 {
            let more: Vec<String> = self
                .damaged
                .iter()
                .skip(1)
                .take(5)
                .map(|d| format!("line {} (byte offset {})", d.line, d.offset))
                .collect();
            write!(
                f,
                "; {} more damaged record(s): {}{}",
                self.damaged.len() - 1,
                more.join(", "),
                if self.damaged.len() > 6 { ", ..." } else { "" }
            )?;
        }
        write!(
            f,
            ". {} record(s) are readable. Nothing was changed: the log is left as it is. To start \
             anyway, skipping only the damaged records, use --recover-corrupt-log \
             (Config::recover_corrupt_log): the original log is first copied aside",
            self.readable
        )
    }
}

impl std::error::Error for CorruptLog {}

struct Scan {
    records: Vec<Record>,
    damaged: Vec<DamagedRecord>,
    /// A torn last line (no final newline), ignored: (offset, len).
    torn: Option<(u64, u64)>,
}

/// Reads the log at `path`; `None` if there is none.
fn scan(path: &Path) -> std::io::Result<Option<Scan>> {
    let f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(with_path(e, "cannot open", path)),
    };
    let mut reader = BufReader::with_capacity(1 << 16, f);
    let mut out = Scan {
        records: Vec::new(),
        damaged: Vec::new(),
        torn: None,
    };
    let (mut offset, mut line_no) = (0u64, 0u64);
    // Records read from lines without a checksum: (index in `records`, where they are).
    let mut unchecked: Vec<(usize, DamagedRecord)> = Vec::new();
    let mut any_checked = false;
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| with_path(e, "cannot read", path))?;
        if n == 0 {
            break;
        }
        line_no += 1;
        let start = offset;
        offset += n as u64;
        let complete = line.last() == Some(&b'\n');
        if complete {
            line.pop();
        }
        if line.is_empty() {
            continue;
        }
        let at = |problem: String| DamagedRecord {
            line: line_no,
            offset: start,
            len: line.len() as u64,
            problem,
            preview: String::from_utf8_lossy(&line[..line.len().min(80)]).into_owned(),
        };
        match decode_line(&line) {
            Ok((r, checked)) => {
                if checked {
                    any_checked = true;
                } else {
                    unchecked.push((
                        out.records.len(),
                        at("a record without a checksum in a log whose records carry one".into()),
                    ));
                }
                out.records.push(r);
            }
            // The last line, cut short by a crash mid-write: never acknowledged.
            Err(_) if !complete => out.torn = Some((start, line.len() as u64)),
            Err(problem) => out.damaged.push(at(problem)),
        }
    }
    // A log is either all checksummed (written by this version) or all without (older): in a
    // checksummed log, a line without one is damage that happens to parse.
    if any_checked && !unchecked.is_empty() {
        for (i, _) in unchecked.iter().rev() {
            out.records.remove(*i);
        }
        out.damaged.extend(unchecked.into_iter().map(|(_, d)| d));
        out.damaged.sort_by_key(|d| d.offset);
    }
    Ok(Some(out))
}

fn with_path(e: std::io::Error, what: &str, path: &Path) -> std::io::Error {
    std::io::Error::new(e.kind(), format!("{what} {}: {e}", path.display()))
}

// --- The data directory: checks, lock, and the opt-in recovery -----------------------------

const LOCK: &str = "wal.lock";

/// Holds the data directory's lock (an advisory `flock` on `wal.lock`) while alive, so that
/// two endpoints never write one log.
#[derive(Debug)]
pub struct DirLock {
    _file: File,
}

/// Prepares a data directory before replay: creates it, takes its lock, and reads the log.
///
/// * Every error names the path it is about (not a directory, cannot create, permission
///   denied, lock held by another process).
/// * A damaged record (anything but a torn last line) makes it fail with [`CorruptLog`]
///   (file, line, byte offset, problem), leaving the log untouched, unless `recover` is set:
///   then the original log is first copied to `wal.log.corrupt-<UTC time>`, each damaged
///   record is reported on stderr, and the log is rewritten with the readable records only.
pub fn open_dir(dir: &Path, recover: bool) -> Result<DirLock, crate::Error> {
    let data_err = |what: String| crate::Error::Data(format!("{}: {what}", dir.display()));
    match std::fs::metadata(dir) {
        Ok(m) if !m.is_dir() => return Err(data_err("exists and is not a directory".into())),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::create_dir_all(dir)
            .map_err(|e| data_err(format!("cannot create the directory: {e}")))?,
        Err(e) => return Err(data_err(format!("cannot access: {e}"))),
    }
    let lock_path = dir.join(LOCK);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| {
            crate::Error::Data(format!(
                "{}: cannot open the lock file (is the directory writable?): {e}",
                lock_path.display()
            ))
        })?;
    // The previous owner may be shutting down in this very process: wait a little.
    let mut waited = 0;
    while !try_lock(&file)
        .map_err(|e| crate::Error::Data(format!("{}: cannot lock: {e}", lock_path.display())))?
    {
        if waited >= 3000 {
            return Err(data_err(format!(
                "in use by another sqs-mega-local endpoint (the lock {} is held)",
                lock_path.display()
            )));
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        waited += 50;
    }
    let lock = DirLock { _file: file };
    let path = dir.join(LOG);
    let Some(s) = scan(&path).map_err(|e| crate::Error::Data(e.to_string()))? else {
        return Ok(lock);
    };
    if let Some((offset, len)) = s.torn {
        eprintln!(
            "sqs-mega-local: note: {}: ignoring an incomplete last record ({len} bytes at byte \
             offset {offset}), a write cut short by a crash (never acknowledged)",
            path.display()
        );
    }
    if s.damaged.is_empty() {
        return Ok(lock);
    }
    let corrupt = CorruptLog {
        path: path.clone(),
        damaged: s.damaged,
        readable: s.records.len(),
    };
    if !recover {
        return Err(crate::Error::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            corrupt,
        )));
    }
    let aside = copy_aside(dir, &path)?;
    for d in &corrupt.damaged {
        eprintln!(
            "sqs-mega-local: WARNING: {}: SKIPPING A DAMAGED RECORD at {d}",
            path.display()
        );
    }
    eprintln!(
        "sqs-mega-local: WARNING: {}: skipped {} damaged record(s), kept {}; the original log \
         is preserved, unchanged, as {}",
        path.display(),
        corrupt.damaged.len(),
        corrupt.readable,
        aside.display()
    );
    write_snapshot(dir, &s.records)
        .map_err(|e| crate::Error::Data(format!("{}: cannot rewrite: {e}", path.display())))?;
    Ok(lock)
}

/// Copies the log to a new `wal.log.corrupt-<UTC time>[-N]` (synced), returning its path.
fn copy_aside(dir: &Path, log: &Path) -> Result<PathBuf, crate::Error> {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
    let fail = |p: &Path, e: std::io::Error| {
        crate::Error::Data(format!(
            "cannot copy the damaged log {} aside to {} (nothing was changed): {e}",
            log.display(),
            p.display()
        ))
    };
    for n in 0..1000 {
        let name = if n == 0 {
            format!("{LOG}.corrupt-{stamp}")
        } else {
            format!("{LOG}.corrupt-{stamp}-{n}")
        };
        let dest = dir.join(name);
        let mut out = match OpenOptions::new().write(true).create_new(true).open(&dest) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(fail(&dest, e)),
        };
        let mut src = File::open(log).map_err(|e| fail(&dest, e))?;
        std::io::copy(&mut src, &mut out).map_err(|e| fail(&dest, e))?;
        out.sync_all().map_err(|e| fail(&dest, e))?;
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        return Ok(dest);
    }
    Err(fail(
        &dir.join(format!("{LOG}.corrupt-{stamp}")),
        std::io::Error::other("too many copies"),
    ))
}

/// Takes the exclusive advisory lock of `f` (`flock(2)` on Linux) without waiting: `Ok(false)` when another
/// open file holds it. Where the platform has no file locks, no lock (as before `File::try_lock`).
fn try_lock(f: &File) -> std::io::Result<bool> {
    use std::fs::TryLockError;
    match f.try_lock() {
        Ok(()) => Ok(true),
        Err(TryLockError::WouldBlock) => Ok(false),
        Err(TryLockError::Error(e)) if e.kind() == std::io::ErrorKind::Unsupported => Ok(true),
        Err(TryLockError::Error(e)) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(i: u64) -> Record {
        Record::Delete {
            q: "q".into(),
            inc: 1,
            seq: i,
        }
    }

    #[test]
    fn crc32_is_the_ieee_one() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn a_line_round_trips_and_any_changed_byte_is_caught() {
        let mut buf = Vec::new();
        encode_record(&mut buf, &rec(7)).unwrap();
        assert!(buf.starts_with(b"{\"c\":"));
        let line = &buf[..buf.len() - 1];
        // An old reader sees a plain record (the member is ignored).
        assert!(serde_json::from_slice::<Record>(line).is_ok());
        let (r, c) = decode_line(line).unwrap();
        assert!(c && matches!(r, Record::Delete { seq: 7, .. }));
        for i in CRC_MEMBER.len()..line.len() {
            let mut bad = line.to_vec();
            bad[i] = if bad[i] == b'8' { b'9' } else { b'8' };
            assert!(decode_line(&bad).is_err(), "byte {i} changed unnoticed");
        }
        // Lines written before checksums are still read.
        let old = serde_json::to_vec(&rec(3)).unwrap();
        assert!(!decode_line(&old).unwrap().1);
    }

    fn temp(tag: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!(
            "sqs-mega-durable-unit-{tag}-{}-{}",
            std::process::id(),
            crate::util::now_ms()
        ));
        std::fs::create_dir_all(&p).unwrap();
        p
    }

    #[test]
    fn scan_finds_any_changed_byte_of_a_middle_record_and_ignores_a_torn_tail() {
        let dir = temp("scan");
        let mut log = Vec::new();
        for i in 0..3 {
            encode_record(&mut log, &rec(i)).unwrap();
        }
        let second = log.iter().position(|&b| b == b'\n').unwrap() + 1;
        let third = second + log[second..].iter().position(|&b| b == b'\n').unwrap() + 1;
        let path = dir.join(LOG);
        for i in second..third - 1 {
            let mut bad = log.clone();
            bad[i] = if bad[i] == b'8' { b'9' } else { b'8' };
            bad.extend_from_slice(b"{\"c\":12,\"t\":\"Del"); // torn tail
            std::fs::write(&path, &bad).unwrap();
            let s = scan(&path).unwrap().unwrap();
            assert_eq!(s.records.len(), 2, "byte {i}");
            assert_eq!(s.damaged.len(), 1, "byte {i}");
            assert_eq!((s.damaged[0].line, s.damaged[0].offset), (2, second as u64));
            assert_eq!(s.torn, Some((log.len() as u64, 16)));
        }
        // A log written before checksums: read as it is.
        let mut old = Vec::new();
        for i in 0..3 {
            old.extend_from_slice(&serde_json::to_vec(&rec(i)).unwrap());
            old.push(b'\n');
        }
        std::fs::write(&path, &old).unwrap();
        let s = scan(&path).unwrap().unwrap();
        assert_eq!((s.records.len(), s.damaged.len()), (3, 0));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
