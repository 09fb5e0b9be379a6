//! `mega redrive`: move the messages of a dead-letter queue back (StartMessageMoveTask).

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use sqs_mega::admin;

use crate::conn::ConnArgs;
use crate::{print_out, CliError};

#[derive(Args)]
pub struct RedriveArgs {
    /// The dead-letter queue (URL or ARN).
    dead_letter_queue: String,
    /// Move to this queue (URL or ARN) instead of each message's source queue.
    #[arg(long, value_name = "QUEUE")]
    to: Option<String>,
    /// At most this many messages per second.
    #[arg(long, value_name = "N")]
    rate: Option<i32>,
    /// Wait until the task finishes, printing its progress.
    #[arg(long)]
    wait: bool,
    #[command(flatten)]
    conn: ConnArgs,
}

pub fn run(args: RedriveArgs) -> Result<ExitCode, CliError> {
    let settings = args.conn.settings();
    let runtime = tokio::runtime::Runtime::new()
        .map_err(|e| CliError(format!("cannot start a runtime: {e}")))?;
    runtime.block_on(async {
        let client = settings.sqs_client().await;
        let handle = admin::start_redrive(
            &client,
            &args.dead_letter_queue,
            args.to.as_deref(),
            args.rate,
        )
        .await?;
        print_out(&format!("started move task {handle}"))?;
        if !args.wait {
            return Ok(ExitCode::SUCCESS);
        }
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let tasks = admin::redrive_tasks(&client, &args.dead_letter_queue).await?;
            let Some(task) = tasks.first() else {
                return Err(CliError("the move task is not listed".into()));
            };
            if !task.is_running() {
                print_out(&format!(
                    "{}: moved {} message(s){}",
                    task.status,
                    task.moved,
                    task.failure_reason
                        .as_deref()
                        .map(|r| format!(" ({r})"))
                        .unwrap_or_default()
                ))?;
                return Ok(if task.status == "COMPLETED" {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                });
            }
        }
    })
}
