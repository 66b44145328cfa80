//! Every `sync` primitive, guard and waiting future is `Send + Sync` where
//! its contents are, so it can be shared between loops and threads and
//! awaited in a task spawned through a `Handle` (which needs `Send`). A
//! compile-time check: if one of these stops holding, this file stops
//! compiling.

use std::sync::Arc;

use eddy::sync::{broadcast, mpsc, oneshot, watch};
use eddy::sync::{Barrier, Event, Mutex, Notify, RwLock, Semaphore};

fn send_sync<T: Send + Sync>(_: &T) {}
fn send<T: Send>(_: &T) {}

#[test]
fn primitives_guards_and_waiting_futures_are_send_and_sync() {
    let mutex = Arc::new(Mutex::new(0u8));
    let rwlock = RwLock::new(0u8);
    let semaphore = Arc::new(Semaphore::new(1));
    let notify = Notify::new();
    let event = Event::new();
    let barrier = Barrier::new(1);
    send_sync(&mutex);
    send_sync(&rwlock);
    send_sync(&semaphore);
    send_sync(&notify);
    send_sync(&event);
    send_sync(&barrier);

    send_sync(&mutex.lock());
    send_sync(&mutex.clone().lock_owned());
    send_sync(&rwlock.read());
    send_sync(&rwlock.write());
    send_sync(&semaphore.acquire());
    send_sync(&semaphore.clone().acquire_owned());
    send_sync(&notify.notified());
    send_sync(&event.wait());
    send_sync(&barrier.wait());
    send_sync(&mutex.try_lock().unwrap());
    send_sync(&semaphore.try_acquire().unwrap());

    let (tx, mut rx) = mpsc::channel::<u8>(1);
    send_sync(&tx.send(1));
    send_sync(&tx.closed());
    send(&rx.recv());
    send_sync(&tx);
    send_sync(&rx);
    let (utx, urx) = mpsc::unbounded_channel::<u8>();
    send_sync(&utx);
    send_sync(&urx);
    let (wtx, mut wrx) = watch::channel(0u8);
    send_sync(&wtx);
    send_sync(&wrx);
    send(&wrx.changed());
    let (btx, mut brx) = broadcast::channel::<u8>(1);
    send_sync(&btx);
    send_sync(&brx);
    send(&brx.recv());
    let (otx, orx) = oneshot::channel::<u8>();
    send_sync(&otx);
    send_sync(&orx);
}
