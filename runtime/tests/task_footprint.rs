//! What a task costs in memory where its user can see it: a `JoinHandle`
//! is two words whatever the output type, and a `JoinError` one, so a
//! task cell (which keeps room for `Result<T, JoinError>`) and a `Vec` of
//! handles stay small. The spawn-and-join benchmark (`bench/`) touches
//! every one of these bytes once per task.

use std::mem::size_of;

use eddy::task::{JoinError, JoinHandle};

const WORD: usize = size_of::<usize>();

#[test]
fn a_join_handle_is_two_words_whatever_its_output() {
    assert_eq!(size_of::<JoinHandle<()>>(), 2 * WORD);
    assert_eq!(size_of::<JoinHandle<u64>>(), 2 * WORD);
    assert_eq!(size_of::<JoinHandle<[u8; 1024]>>(), 2 * WORD);
}

#[test]
fn a_join_error_is_one_word_and_a_small_result_two() {
    assert_eq!(size_of::<JoinError>(), WORD);
    assert_eq!(size_of::<Result<u64, JoinError>>(), 2 * WORD);
}

#[test]
fn a_finished_handle_still_says_finished_after_returning_its_result() {
    eddy::test::run(async {
        let mut handle = eddy::spawn(async { 7 });
        assert_eq!((&mut handle).await.unwrap(), 7);
        assert!(handle.is_finished());
    });
}

#[test]
fn a_join_error_keeps_its_task_id_message_and_payload() {
    eddy::test::run(async {
        let handle = eddy::spawn(async { panic!("boom") });
        let id = handle.id();
        let error = handle.await.unwrap_err();
        assert_eq!(error.id(), id);
        assert!(error.to_string().contains("panicked: boom"), "{error}");
        assert_eq!(error.try_into_panic().unwrap().downcast_ref::<&str>(), Some(&"boom"));

        let handle = eddy::spawn(std::future::pending::<()>());
        handle.abort();
        let error = handle.await.unwrap_err();
        assert!(error.is_cancelled());
        assert!(error.try_into_panic().unwrap_err().is_cancelled());
    });
}
