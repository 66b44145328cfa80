//! `task_local!`: a value bound to a future for each of its polls, visible
//! to everything it awaits, invisible to everything else (other tasks, the
//! tasks it spawns, code after the scope).

use std::cell::RefCell;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::time::Duration;

use eddy::task::yield_now;
use eddy::test::MockTask;
use eddy::time::sleep;
use eddy::{assert_pending, task_local};

task_local! {
    /// The id of the request being served.
    static REQUEST: u32;
    pub(crate) static NAME: String;
}

async fn current_request() -> u32 {
    yield_now().await;
    REQUEST.get()
}

#[test]
fn scope_sets_the_value_for_the_future_and_everything_it_awaits() {
    eddy::test::run(async {
        let seen = REQUEST.scope(7, async { (REQUEST.get(), current_request().await) }).await;
        assert_eq!(seen, (7, 7));
    });
}

#[test]
fn outside_a_scope_there_is_no_value() {
    eddy::test::run(async {
        assert!(REQUEST.try_with(|_| ()).is_err());
        REQUEST.scope(1, async {}).await;
        assert!(REQUEST.try_with(|_| ()).is_err(), "the value left with its scope");
    });
    assert!(REQUEST.try_with(|_| ()).is_err());
}

#[test]
#[should_panic(expected = "outside a scope that sets it")]
fn with_outside_a_scope_panics_with_a_clear_message() {
    REQUEST.with(|_| ());
}

#[test]
fn interleaved_tasks_each_see_their_own_value_after_every_await() {
    eddy::test::run(async {
        let log = Rc::new(RefCell::new(Vec::new()));
        let handles: Vec<_> = (1..=3)
            .map(|request| {
                let log = log.clone();
                eddy::spawn(REQUEST.scope(request, async move {
                    for step in 0..3 {
                        sleep(Duration::from_millis(10 * u64::from(4 - request))).await;
                        log.borrow_mut().push((request, REQUEST.get(), step));
                    }
                }))
            })
            .collect();
        for handle in handles {
            handle.await.unwrap();
        }
        let log = log.borrow();
        assert_eq!(log.len(), 9);
        assert!(log.iter().all(|(request, seen, _)| request == seen), "{log:?}");
        // They really did interleave: request 3 (shortest sleeps) finished first.
        assert_eq!(log[0].0, 3);
    });
}

#[test]
fn a_spawned_task_inherits_nothing_unless_it_is_scoped_again() {
    eddy::test::run(async {
        REQUEST
            .scope(5, async {
                let bare = eddy::spawn(async { REQUEST.try_with(|r| *r).ok() });
                assert_eq!(bare.await.unwrap(), None);
                let passed_on = eddy::spawn(REQUEST.scope(REQUEST.get(), async { REQUEST.get() }));
                assert_eq!(passed_on.await.unwrap(), 5);
            })
            .await;
    });
}

#[test]
fn an_inner_scope_shadows_the_outer_one_until_it_ends() {
    eddy::test::run(async {
        NAME.scope("outer".into(), async {
            let inner = NAME.scope("inner".into(), async {
                yield_now().await;
                NAME.get()
            });
            assert_eq!(inner.await, "inner");
            assert_eq!(NAME.get(), "outer");
        })
        .await;
    });
}

#[test]
fn sync_scope_sets_the_value_for_a_closure() {
    let length = NAME.sync_scope("four".into(), || NAME.with(|name| name.len()));
    assert_eq!(length, 4);
    assert!(NAME.try_with(|_| ()).is_err());
}

#[test]
fn a_panicking_poll_still_takes_the_value_out_of_the_slot() {
    let mut scoped = Box::pin(REQUEST.scope(9, async { panic!("in scope") }));
    let waker = eddy::test::WakeCounter::new().waker();
    let mut cx = std::task::Context::from_waker(&waker);
    let polled = catch_unwind(AssertUnwindSafe(|| scoped.as_mut().poll(&mut cx)));
    assert!(polled.is_err());
    assert!(REQUEST.try_with(|_| ()).is_err(), "no value leaked out of the scope");
}

/// Records, when dropped, the task-local value it could see.
struct SeesOnDrop(Rc<RefCell<Option<u32>>>);

impl Drop for SeesOnDrop {
    fn drop(&mut self) {
        *self.0.borrow_mut() = REQUEST.try_with(|r| *r).ok();
    }
}

#[test]
fn an_unfinished_future_is_dropped_inside_its_scope() {
    let seen = Rc::new(RefCell::new(None));
    let guard = SeesOnDrop(seen.clone());
    let mut task = MockTask::new(REQUEST.scope(11, async move {
        let _guard = guard;
        std::future::pending::<()>().await;
    }));
    assert_pending!(task.poll());
    drop(task);
    assert_eq!(*seen.borrow(), Some(11));
}
