//! `EDDY_TRACE=path` writes the trace when the runtime drops, and
//! `EDDY_TRACE_CAPACITY` sizes the ring. Their own test binary: the
//! environment is process-wide, and no other test may see these variables.

#[test]
fn eddy_trace_and_capacity_come_from_the_environment() {
    let path = std::env::temp_dir().join(format!("eddy-trace-env-{}.json", std::process::id()));
    let _ = std::fs::remove_file(&path);
    // SAFETY (edition 2024 wording; a plain call in 2021): the only test in
    // this binary, so no other thread reads the environment meanwhile.
    std::env::set_var("EDDY_TRACE", &path);
    std::env::set_var("EDDY_TRACE_CAPACITY", "0");
    eddy::run(async { eddy::spawn(async {}).await.unwrap() });
    let json = std::fs::read_to_string(&path).expect("EDDY_TRACE writes the trace at drop");
    assert!(json.contains("traceEvents") && !json.contains("\"ph\":\"X\""), "capacity 0: nothing recorded");
    std::env::remove_var("EDDY_TRACE_CAPACITY");
    let runtime = eddy::Builder::new().build().unwrap();
    runtime.block_on(async { eddy::spawn(async {}).await.unwrap() });
    drop(runtime);
    let json = std::fs::read_to_string(&path).unwrap();
    assert!(json.contains("\"ph\":\"X\""), "the default capacity records");
    std::env::remove_var("EDDY_TRACE");
    let _ = std::fs::remove_file(&path);
}
