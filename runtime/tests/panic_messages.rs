//! `JoinError::panic_message`: the text of a string panic, and `None` for
//! everything that has no text (other payloads, cancellation).

use std::panic::panic_any;

use eddy::JoinError;

/// Runs `body` as a task and as a blocking job, returning both errors.
fn both_errors(body: fn()) -> [JoinError; 2] {
    eddy::run(async move {
        let task = eddy::spawn(async move { body() }).await.unwrap_err();
        let blocking = eddy::task::spawn_blocking(body).await.unwrap_err();
        [task, blocking]
    })
}

#[test]
fn a_non_string_panic_payload_has_no_message() {
    for error in both_errors(|| panic_any(42_u32)) {
        assert!(error.is_panic());
        assert_eq!(error.panic_message(), None, "{error}");
    }
}

/// A payload without a `Debug` or `Display`: nothing to show at all.
struct Opaque;

/// The general property: `panic_message` is `Some(text)` exactly when the
/// payload is a string (`&str` or `String`), whatever else a task panics
/// with; the payload itself is never lost, and the error still displays.
#[test]
fn panic_message_is_the_text_of_string_payloads_and_none_otherwise() {
    type Case = (fn(), Option<&'static str>);
    let cases: [Case; 6] = [
        (|| panic!("plain"), Some("plain")),
        (|| panic!("formatted {}", 1), Some("formatted 1")),
        (|| panic_any("a str payload"), Some("a str payload")),
        (|| panic_any(String::from("a String payload")), Some("a String payload")),
        (|| panic_any(7_i64), None),
        (|| panic_any(Opaque), None),
    ];
    for (body, expected) in cases {
        for error in both_errors(body) {
            assert_eq!(error.panic_message(), expected, "{error}");
            let shown = error.to_string();
            assert!(shown.contains("panicked"), "{shown}");
            if let Some(text) = expected {
                assert!(shown.contains(text), "{shown}");
            }
            assert!(error.try_into_panic().is_ok(), "the payload is still there");
        }
    }
}

#[test]
fn a_cancelled_task_has_no_panic_message() {
    eddy::run(async {
        let task = eddy::spawn(std::future::pending::<()>());
        task.abort();
        let error = task.await.unwrap_err();
        assert!(error.is_cancelled());
        assert_eq!(error.panic_message(), None);
    });
}
