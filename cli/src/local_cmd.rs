//! `mega local`: the embedded SQS + SNS endpoint as a server.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use sqs_mega_local::{AdminApi, Config, Server};

use crate::CliError;

#[derive(Args)]
pub struct LocalArgs {
    /// Address to listen on (loopback by default). Any other address (e.g. 0.0.0.0) exposes the
    /// endpoint, which does not authenticate requests, to the network: a warning is printed, and the
    /// admin API (/_mega/: clock, anomalies) is off unless --admin-token is set.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on (0: any free port).
    #[arg(long, default_value_t = 4566)]
    port: u16,
    /// Keep queues and messages in this directory: every acknowledged send survives a crash.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// With --data-dir: fdatasync before acknowledging (survives power loss too; slower).
    #[arg(long)]
    fsync: bool,
    /// With --data-dir: start even if the log holds damaged records, skipping only those (each
    /// reported on stderr) after copying the original log aside to DIR/wal.log.corrupt-TIME (UTC).
    /// Without it, a damaged log stops the start with its file, line and byte offset, untouched.
    #[arg(long)]
    recover_corrupt_log: bool,
    /// A secret that turns the admin API (/_mega/) on for clients that send it (header
    /// x-mega-admin-token: TOKEN, or Authorization: Bearer TOKEN), on any address. Better given as
    /// the environment variable MEGA_ADMIN_TOKEN (a command line is visible to other users). Never
    /// printed.
    #[arg(long, value_name = "TOKEN", hide_default_value = true)]
    admin_token: Option<String>,
    /// Close a connection that has not sent a complete request head this many seconds after the
    /// endpoint started waiting for one (also ends idle keep-alive connections); 0: no limit.
    /// Never applies while a request is handled (long polls are safe).
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    header_read_timeout: u64,
    /// Close a connection on which no byte moves for this many seconds while none of its requests
    /// is being handled (stalled bodies, clients that stopped reading); 0: no limit.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    idle_timeout: u64,
    #[arg(long, default_value = "us-east-1")]
    region: String,
    #[arg(long, default_value = "000000000000")]
    account_id: String,
    /// Anomaly injection for a queue (`*` for all): QUEUE={"seed":1,"duplicate_rate":0.1,"reorder_rate":0.2,
    /// "error_rate":0.05,"throttle_rate":0.05,"latency_rate":0.1,"latency_ms":200}. Repeatable.
    #[arg(long, value_name = "QUEUE=JSON")]
    anomalies: Vec<String>,
    /// Also serve the web console (`mega ui`) for this endpoint, on loopback.
    #[arg(long)]
    ui: bool,
    /// With --ui: the console's port (0: any free port).
    #[arg(long, value_name = "PORT", default_value_t = 4570)]
    ui_port: u16,
}

pub fn run(args: LocalArgs) -> Result<ExitCode, CliError> {
    let (ui, ui_port, region) = (args.ui, args.ui_port, args.region.clone());
    let admin_token = args
        .admin_token
        .clone()
        .or_else(|| std::env::var("MEGA_ADMIN_TOKEN").ok());
    let mut config = Config {
        host: args.host,
        port: args.port,
        region: args.region,
        account_id: args.account_id,
        data_dir: args.data_dir,
        fsync: args.fsync,
        recover_corrupt_log: args.recover_corrupt_log,
        admin_token: admin_token.clone(),
        header_read_timeout: seconds(args.header_read_timeout),
        idle_timeout: seconds(args.idle_timeout),
        ..Config::default()
    };
    for flag in &args.anomalies {
        config.anomalies.push(
            sqs_mega_local::parse_anomaly_flag(flag)
                .map_err(|e| CliError(format!("--anomalies {flag}: {e}")))?,
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError(format!("cannot start a runtime: {e}")))?;
    runtime.block_on(async {
        let running = Server::bind(config).await?;
        let addr = running.local_addr();
        let scope = if addr.ip().is_unspecified() {
            "all interfaces: reachable from the network"
        } else if addr.ip().is_loopback() {
            "loopback: this host only"
        } else {
            "reachable from the network"
        };
        println!(
            "mega local: SQS and SNS endpoint on {} (listening on {addr}, {scope})",
            running.url()
        );
        println!(
            "  use it with: --endpoint-url {} (any access key and secret, region us-east-1)",
            running.url()
        );
        println!(
            "  admin API (/_mega/): {}",
            match running.admin_api() {
                AdminApi::Open => "on",
                AdminApi::TokenRequired => "on, for requests carrying the admin token",
                AdminApi::Off => "off (not a loopback address and no --admin-token)",
            }
        );
        if ui {
            let listener = crate::ui::bind("127.0.0.1", ui_port, false).await?;
            let ui_addr = listener
                .local_addr()
                .map_err(|e| CliError(format!("cannot read the console's address: {e}")))?;
            // The embedded endpoint takes any credentials: dummy ones, never the user's.
            let settings =
                sqs_mega::aws::AwsSettings::local(running.url()).with_region(region.as_str());
            let console = crate::ui::Console::new(
                &settings,
                running.url().to_owned(),
                ui_addr,
                false,
                admin_token,
            )
            .await;
            println!("  web console: http://{ui_addr}/");
            tokio::spawn(crate::ui::serve(listener, std::sync::Arc::new(console)));
        }
        let _ = std::io::stdout().flush();
        running.run(crate::conn::shutdown_signal()).await;
        eprintln!("mega local: stopped");
        Ok::<_, CliError>(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// A limit in seconds, 0 for none.
fn seconds(s: u64) -> Option<std::time::Duration> {
    (s > 0).then(|| std::time::Duration::from_secs(s))
}
