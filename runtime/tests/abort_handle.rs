//! `AbortHandle` (cancel without owning the result) and task ids
//! (`task::id`, `JoinHandle::id`, the ids errors and logs print).

use std::future::pending;
use std::time::Duration;

use eddy::task::{self, yield_now};
use eddy::test::DropProbe;
use eddy::time::sleep;

#[test]
fn an_abort_handle_cancels_the_task_while_another_owner_awaits_it() {
    eddy::test::run(async {
        let (probe, dropped) = DropProbe::new();
        let handle = eddy::spawn(async move {
            let _probe = probe;
            pending::<()>().await;
        });
        let abort = handle.abort_handle();
        assert!(!abort.is_finished());
        eddy::spawn(async move {
            sleep(Duration::from_secs(1)).await;
            abort.abort();
        });
        let error = handle.await.unwrap_err();
        assert!(error.is_cancelled());
        assert!(dropped.get());
    });
}

#[test]
fn an_abort_handle_works_from_another_thread() {
    eddy::test::run(async {
        let handle = eddy::spawn(pending::<()>());
        let abort = handle.abort_handle();
        std::thread::spawn(move || abort.abort()).join().unwrap();
        assert!(handle.await.unwrap_err().is_cancelled());
    });
}

#[test]
fn aborting_a_finished_task_keeps_its_result() {
    eddy::test::run(async {
        let handle = eddy::spawn(async { 42 });
        let abort = handle.abort_handle();
        yield_now().await;
        yield_now().await;
        assert!(abort.is_finished());
        abort.abort();
        abort.abort(); // twice is fine
        assert_eq!(handle.await.unwrap(), 42);
    });
}

#[test]
fn dropping_an_abort_handle_does_nothing_to_the_task() {
    eddy::test::run(async {
        let handle = eddy::spawn(async {
            sleep(Duration::from_secs(1)).await;
            "ran"
        });
        drop(handle.abort_handle().clone());
        assert_eq!(handle.await.unwrap(), "ran");
    });
}

#[test]
fn inside_a_task_id_is_the_id_its_handles_report() {
    eddy::test::run(async {
        let handle = eddy::spawn(async {
            let before = task::id();
            yield_now().await;
            assert_eq!(task::id(), before, "stable across polls");
            before
        });
        let (expected, abort_id) = (handle.id(), handle.abort_handle().id());
        assert_eq!(handle.await.unwrap(), expected);
        assert_eq!(abort_id, expected);
    });
}

#[test]
fn ids_are_distinct_and_display_as_loop_dot_sequence() {
    eddy::test::run(async {
        let a = eddy::spawn(async {});
        let b = eddy::spawn(async {});
        assert_ne!(a.id(), b.id());
        let shown = a.id().to_string();
        let (loop_part, seq_part) = shown.split_once('.').expect("loop.seq");
        assert_eq!(loop_part.parse::<u32>().unwrap(), eddy::Handle::current().loop_id());
        assert!(seq_part.parse::<u64>().is_ok());
    });
}

#[test]
fn outside_a_task_there_is_no_id() {
    assert_eq!(task::try_id(), None);
    eddy::test::run(async {
        assert_eq!(task::try_id(), None, "the block_on future is not a task");
        let inside = eddy::spawn(async { task::try_id() }).await.unwrap();
        assert!(inside.is_some());
        assert_eq!(task::try_id(), None, "the id does not leak out of the task's poll");
    });
}

#[test]
#[should_panic(expected = "outside a task")]
fn id_outside_a_task_panics_with_a_clear_message() {
    task::id();
}

#[test]
fn a_join_error_names_the_task_by_its_id() {
    eddy::test::run(async {
        let handle = eddy::task::spawn_named("worker", async { panic!("boom") });
        let id = handle.id();
        let error = handle.await.unwrap_err();
        assert_eq!(error.id(), id);
        assert!(error.to_string().contains(&format!("task {id} 'worker'")), "{error}");
    });
}

#[test]
fn handles_and_sets_can_cross_threads() {
    fn send_and_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_and_sync::<eddy::task::AbortHandle>();
    send_and_sync::<eddy::task::Id>();
    send::<eddy::task::JoinSet<u32>>();
    send::<eddy::task::TaskLocalFuture<u32, std::future::Ready<()>>>();
}
