//! Runs the request-reply example end to end on the embedded endpoint.

#[test]
fn every_request_gets_its_reply() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_request_reply"))
        .output()
        .expect("run the example");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let row = |task: &str| {
        text.lines()
            .find(|l| l.starts_with(task))
            .unwrap_or_else(|| panic!("no row for {task} in\n{text}"))
            .split_whitespace()
            .collect::<Vec<_>>()
    };
    assert_eq!(
        row("task-0"),
        ["task-0", "8", "COMPLETED", "13"],
        "the seed's example: the 8th number is 13"
    );
    assert_eq!(row("task-5")[3], "7540113804746346429");
    assert_eq!(
        row("task-6")[3],
        "6161314747715278029583501626149",
        "beyond 64 bits, exact"
    );
    assert_eq!(
        row("task-4")[2..],
        ["FAILED", "Invalid", "request", "in", "message.Body:-1"]
    );
    assert!(
        text.contains("8 requests: 6 completed, 2 failed, 0 lost"),
        "{text}"
    );
    assert!(!text.contains("PENDING"), "{text}");
}
