//! Records, at build time, what the report must state about the build: the
//! compiler's version, and the versions of the peer runtimes that
//! `bench/Cargo.lock` pinned. Asking `rustc` at run time instead could name a
//! different toolchain than the one that compiled the benchmark.

use std::process::Command;

fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let version = Command::new(&rustc)
        .arg("--version")
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=RUNTIME_BENCH_RUSTC={version}");

    let lock_path = concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.lock");
    println!("cargo:rerun-if-changed={lock_path}");
    println!("cargo:rerun-if-changed=build.rs");
    let lock = std::fs::read_to_string(lock_path).unwrap_or_default();
    let peers: Vec<String> = ["tokio", "async-executor", "async-io", "async-channel"]
        .iter()
        .map(|name| format!("{name} {}", locked_version(&lock, name).unwrap_or("?")))
        .collect();
    println!("cargo:rustc-env=RUNTIME_BENCH_PEERS={}", peers.join(", "));
}

/// The version of package `name` in a Cargo.lock: the line after its
/// `name = "..."` line (the lock file's fixed layout).
fn locked_version<'a>(lock: &'a str, name: &str) -> Option<&'a str> {
    let wanted = format!("name = \"{name}\"");
    let mut lines = lock.lines();
    lines.by_ref().find(|line| *line == wanted)?;
    lines.next()?.strip_prefix("version = \"")?.strip_suffix('"')
}
