//! Standalone `sqs-mega-local` server (the same as `mega local`).
//!
//! Usage: sqs-mega-local [--host H] [--port P] [--data-dir DIR] [--fsync]
//!                       [--recover-corrupt-log] [--admin-token T]
//!                       [--header-read-timeout SECS] [--idle-timeout SECS]
//!                       [--region R] [--account-id A] [--anomalies QUEUE=JSON]...
//! Prints `listening on URL` on stdout once it accepts connections (URL is the endpoint URL
//! for clients on this host; the bound address, when it differs, goes to stderr).
//! The admin token may also come from the environment variable `MEGA_ADMIN_TOKEN` (better:
//! a command line is visible to other users of the machine).

use sqs_mega_local::{Config, Server};
use std::io::Write;

fn main() {
    let mut cfg = Config {
        port: 4566,
        ..Config::default()
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = |name: &str| {
            args.next().unwrap_or_else(|| {
                eprintln!("missing value for {name}");
                std::process::exit(2)
            })
        };
        match a.as_str() {
            "--host" => cfg.host = val("--host"),
            "--port" => {
                cfg.port = val("--port").parse().unwrap_or_else(|_| {
                    eprintln!("invalid --port");
                    std::process::exit(2)
                })
            }
            "--data-dir" => cfg.data_dir = Some(val("--data-dir").into()),
            "--fsync" => cfg.fsync = true,
            "--recover-corrupt-log" => cfg.recover_corrupt_log = true,
            "--admin-token" => cfg.admin_token = Some(val("--admin-token")),
            "--header-read-timeout" | "--idle-timeout" => {
                let v = val(&a);
                let secs: u64 = v.parse().unwrap_or_else(|_| {
                    eprintln!("{a} {v}: expected a number of seconds (0: no limit)");
                    std::process::exit(2)
                });
                let d = (secs > 0).then(|| std::time::Duration::from_secs(secs));
                if a == "--idle-timeout" {
                    cfg.idle_timeout = d;
                } else {
                    cfg.header_read_timeout = d;
                }
            }
            "--region" => cfg.region = val("--region"),
            "--account-id" => cfg.account_id = val("--account-id"),
            "--anomalies" => {
                let v = val("--anomalies");
                let parsed = sqs_mega_local::parse_anomaly_flag(&v).unwrap_or_else(|e| {
                    eprintln!("--anomalies {v}: {e}");
                    std::process::exit(2)
                });
                cfg.anomalies.push(parsed);
            }
            "-h" | "--help" => {
                println!(
                    "sqs-mega-local [--host H] [--port P] [--data-dir DIR] [--fsync] \
                     [--recover-corrupt-log] [--admin-token T] [--header-read-timeout SECS \
                     (default 30, 0: none)] [--idle-timeout SECS (default 60, 0: none)] \
                     [--region R] [--account-id A] [--anomalies QUEUE=JSON]\n\
                     A non-loopback --host (e.g. 0.0.0.0) exposes the endpoint to the network and \
                     turns the admin API (/_mega/) off unless an admin token is set (--admin-token \
                     or MEGA_ADMIN_TOKEN; clients send it as x-mega-admin-token or \
                     Authorization: Bearer)."
                );
                return;
            }
            other => {
                eprintln!("unknown argument {other}");
                std::process::exit(2)
            }
        }
    }
    if cfg.admin_token.is_none() {
        cfg.admin_token = std::env::var("MEGA_ADMIN_TOKEN").ok();
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async {
        let running = match Server::bind(cfg).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("sqs-mega-local: {e}");
                std::process::exit(1)
            }
        };
        println!("listening on {}", running.url());
        let addr = running.local_addr();
        if !running.url().contains(&addr.to_string()) {
            eprintln!("sqs-mega-local: bound to {addr}");
        }
        let _ = std::io::stdout().flush();
        running
            .run(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await;
    });
}
