//! Static task names, by spawn site: [`spawn_named_static`] names every
//! task its call site spawns, at no cost per task.
//!
//! A task's identity holds its spawn site, a `&'static Location`, and an
//! optional owned name (one tagged word, [`Site`](super::Site)). A name
//! that is fixed at compile time and given to every task of one site (a
//! server's connection task) need not ride in each task at all: it is the
//! site's. So `spawn_named_static` records (site → name) once, in a small
//! process-wide table, and spawns an unnamed task; whoever shows a task
//! (task dumps, the flight recorder's labels, `JoinError` messages) looks
//! the site up there, off the hot path. An unnamed spawn pays nothing: a
//! named one allocates its name, and a larger identity (a `Cow` name, or a
//! second field) cost every spawn and join of every task 10-30
//! instructions (callgrind, `spawn_join`).
//!
//! The first name a site registers is its name: a helper function that
//! calls `spawn_named_static` with different names from one line (without
//! `#[track_caller]`) names all its tasks after the first.

use std::cell::Cell;
use std::future::Future;
use std::panic::Location;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use super::{should_box, spawn_here, JoinHandle};

/// (site address, site, name): few entries (one per call site in the
/// program that uses `spawn_named_static`), so a scan.
static SITES: Mutex<Vec<(usize, &'static str)>> = Mutex::new(Vec::new());

/// Whether any site was ever named: lets `site_name` skip the lock in
/// programs that never use static names.
static ANY: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// The last site this thread registered: a spawn from the same site
    /// again (the common case, a server accepting) skips the table.
    static LAST: Cell<usize> = const { Cell::new(0) };
}

/// [`spawn`](crate::spawn) with a name fixed at compile time, for tasks
/// spawned again and again from one place (a server's connections): the
/// name costs nothing per task (it belongs to the call site: the first
/// name a site gives is the name of all its tasks) and shows wherever
/// [`spawn_named`](super::spawn_named)'s does: task dumps, the flight
/// recorder's timeline, `JoinError` messages.
///
/// ```
/// eddy::run(async {
///     let handle = eddy::task::spawn_named_static("worker", async { panic!("boom") });
///     let error = handle.await.unwrap_err();
///     assert!(error.to_string().contains("'worker'"));
/// });
/// ```
///
/// # Panics
/// Outside an eddy runtime.
#[track_caller]
pub fn spawn_named_static<F>(name: &'static str, future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let location = Location::caller();
    register(location, name);
    if const { should_box::<F>() } {
        spawn_here("eddy::task::spawn_named_static", Box::pin(future), None, location)
    } else {
        spawn_here("eddy::task::spawn_named_static", future, None, location)
    }
}

/// Records that `location` spawns tasks named `name` (once per site).
#[inline]
fn register(location: &'static Location<'static>, name: &'static str) {
    let site = location as *const Location<'static> as usize;
    if LAST.with(Cell::get) != site {
        register_slow(site, name);
    }
}

#[cold]
fn register_slow(site: usize, name: &'static str) {
    let mut sites = SITES.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if !sites.iter().any(|&(known, _)| known == site) {
        sites.push((site, name));
        ANY.store(true, Ordering::Release);
    }
    LAST.with(|last| last.set(site));
}

/// The static name of the tasks `location` spawns, if it has one.
pub(crate) fn site_name(location: &'static Location<'static>) -> Option<&'static str> {
    if !ANY.load(Ordering::Acquire) {
        return None;
    }
    let site = location as *const Location<'static> as usize;
    let sites = SITES.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    sites.iter().find(|&&(known, _)| known == site).map(|&(_, name)| name)
}
