//! Endless or huge input: `mega` reads at most its limit plus one byte, then fails with a size error (exit 2),
//! in bounded memory and time.

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `mega ARGS` under an address-space limit of 1 GB (reading an endless input to its end would exceed it
/// within a second and abort, not exit 2).
fn mega_limited(args: &str) -> Child {
    Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -v 1000000 && exec \"{}\" {args}",
            env!("CARGO_BIN_EXE_mega")
        ))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run mega")
}

/// Waits for the child at most 30 s (a hang fails the test), and returns its exit code and stderr.
fn finish(mut child: Child) -> (Option<i32>, String) {
    let t0 = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if t0.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("mega still running after 30 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (status.code(), err)
}

#[test]
fn endless_standard_input_is_refused_with_a_size_error() {
    let pattern = std::env::temp_dir().join(format!("mega-bounded-{}.json", std::process::id()));
    std::fs::write(&pattern, r#"{"a": 1}"#).unwrap();
    let match_command = format!("match --pattern {}", pattern.display());
    for command in [
        "decode",
        "decode --body",
        "encode --plaintext",
        &match_command,
    ] {
        let mut child = mega_limited(command);
        let mut stdin = child.stdin.take().unwrap();
        // `yes`: writes until mega closes the pipe.
        let writer = std::thread::spawn(move || {
            let chunk = b"y\n".repeat(32 * 1024);
            let t0 = Instant::now();
            while t0.elapsed() < Duration::from_secs(30) {
                if stdin.write_all(&chunk).is_err() {
                    return;
                }
            }
        });
        let (code, err) = finish(child);
        writer.join().unwrap();
        assert_eq!(code, Some(2), "mega {command}: {err}");
        assert!(
            err.contains("standard input is larger than the limit of"),
            "mega {command}: {err}"
        );
    }
}

#[test]
fn an_endless_file_is_refused_with_a_size_error_naming_it() {
    for command in [
        "decode /dev/zero",
        "encode --binary /dev/zero",
        "match --pattern /dev/zero /dev/null",
    ] {
        let child = mega_limited(command);
        let (code, err) = finish(child);
        assert_eq!(code, Some(2), "mega {command}: {err}");
        assert!(
            err.contains("/dev/zero is larger than the limit of"),
            "mega {command}: {err}"
        );
    }
}

#[test]
fn input_at_the_limit_is_still_read() {
    // A body of 1 MiB (the default maximum) is decoded; one byte more of input than the limit is not.
    let body = "x".repeat(1024 * 1024);
    let mut child = mega_limited("decode --body");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(body.as_bytes()).unwrap();
    drop(stdin);
    let (code, err) = finish(child);
    assert_eq!(code, Some(0), "{err}");

    let limit = 2 * 1024 * 1024 + 64 * 1024;
    let mut child = mega_limited("decode --body");
    let mut stdin = child.stdin.take().unwrap();
    let _ = stdin.write_all(&vec![b'x'; limit + 1]);
    drop(stdin);
    let (code, err) = finish(child);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains(&format!("limit of {limit} bytes")), "{err}");
}
