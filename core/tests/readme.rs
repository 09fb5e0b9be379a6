//! The README's Rust section shows the quick-start example as it is (the example itself runs as the crate's
//! doctest and with `cargo run --example quickstart`).

#[test]
fn the_readme_shows_the_quickstart_example_verbatim() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let example = std::fs::read_to_string(format!("{root}/core/examples/quickstart.rs")).unwrap();
    assert!(
        readme.contains(&format!("```rust\n{example}```")),
        "README.md's Rust section differs from core/examples/quickstart.rs: copy the file into it"
    );
}
