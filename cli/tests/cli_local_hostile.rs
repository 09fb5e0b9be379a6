//! `mega local` facing hostile conditions: a non-loopback bind, a damaged data directory.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn temp_path(tag: &str) -> std::path::PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    std::env::temp_dir().join(format!("mega-cli-{tag}-{}-{nanos}", std::process::id()))
}

/// One request on a new connection: (status, body).
fn http(hostport: &str, method: &str, path: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(hostport).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {hostport}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out.split(' ').nth(1).unwrap().parse().unwrap();
    (status, out.split_once("\r\n\r\n").unwrap().1.to_string())
}

fn wait_for(path: &std::path::Path, what: &str) -> String {
    let start = Instant::now();
    loop {
        let s = std::fs::read_to_string(path).unwrap_or_default();
        if s.contains(what) || start.elapsed() > Duration::from_secs(20) {
            return s;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn mega_local_on_all_interfaces_says_so_warns_and_turns_the_admin_api_off() {
    let err = temp_path("bind-stderr");
    let mut child = Command::new(env!("CARGO_BIN_EXE_mega"))
        .args(["local", "--port", "0", "--host", "0.0.0.0"])
        .env_remove("MEGA_ADMIN_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::from(std::fs::File::create(&err).unwrap()))
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _p = Proc(child);
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().unwrap().unwrap();
    let bound = first
        .split_whitespace()
        .find(|w| w.starts_with("0.0.0.0:"))
        .unwrap_or_else(|| panic!("the real bound address is not in {first:?}"))
        .trim_end_matches(',')
        .to_string();
    assert!(first.contains("all interfaces"), "{first}");
    let port = bound.rsplit(':').next().unwrap();
    let admin_line = lines
        .take(3)
        .map(|l| l.unwrap())
        .find(|l| l.contains("admin API"))
        .expect("an admin API line");
    assert!(admin_line.contains("off"), "{admin_line}");
    let said = wait_for(&err, "OFF");
    assert!(
        said.contains("WARNING") && said.contains(&bound) && said.contains("OFF"),
        "{said}"
    );
    let (status, body) = http(&format!("127.0.0.1:{port}"), "GET", "/_mega/anomalies");
    assert_eq!(status, 403, "{body}");
    let _ = std::fs::remove_file(&err);
}

#[test]
fn mega_local_help_documents_the_new_options() {
    let out = Command::new(env!("CARGO_BIN_EXE_mega"))
        .args(["local", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for want in [
        "--admin-token",
        "MEGA_ADMIN_TOKEN",
        "--recover-corrupt-log",
        "x-mega-admin-token",
    ] {
        assert!(help.contains(want), "{want} not in --help: {help}");
    }
}

#[test]
fn mega_local_refuses_a_damaged_log_and_names_it() {
    let dir = temp_path("damaged");
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("wal.log");
    let content = b"{\"t\":\"DeleteTopic\",\"name\":\"a\"}\nGARBAGE\n{\"t\":\"DeleteTopic\",\"name\":\"b\"}\n";
    std::fs::write(&log, content).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_mega"))
        .args(["local", "--port", "0", "--data-dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&log.display().to_string())
            && err.contains("line 2")
            && err.contains("byte offset 31"),
        "{err}"
    );
    assert_eq!(std::fs::read(&log).unwrap(), content);
    let _ = std::fs::remove_dir_all(&dir);
}
