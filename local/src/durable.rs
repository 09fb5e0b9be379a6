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
//! A torn last line (the process killed mid-write) is ignored on replay: it was never
//! acknowledged.

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
    pub fn load(dir: &Path) -> std::io::Result<Vec<Record>> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(LOG);
        let mut out = Vec::new();
        let f = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(e),
        };
        for line in BufReader::new(f).split(b'\n') {
            let line = line?;
            if line.is_empty() {
                continue;
            }
            match serde_json::from_slice::<Record>(&line) {
                Ok(r) => out.push(r),
                // A torn write at the tail (never acknowledged): stop here.
                Err(_) => break,
            }
        }
        Ok(out)
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
            serde_json::to_writer(&mut *buf, r).map_err(std::io::Error::other)?;
            buf.push(b'\n');
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
    for r in records {
        let line = serde_json::to_vec(r).map_err(std::io::Error::other)?;
        f.write_all(&line)?;
        f.write_all(b"\n")?;
        n += line.len() as u64 + 1;
    }
    let f = f.into_inner().map_err(|e| e.into_error())?;
    f.sync_all()?;
    std::fs::rename(&tmp, dir.join(LOG))?;
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(n)
}
