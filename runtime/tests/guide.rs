//! The four worked examples of README's "Testing async code with eddy",
//! as real tests. Each runs on the paused clock, so it takes microseconds
//! of real time however many seconds of loop time it covers.

use std::cell::Cell;
use std::future::Future;
use std::rc::Rc;
use std::time::Duration;

use eddy::test::{check_orderings, DropProbe, MockTask};
use eddy::time::{self, sleep, timeout, Instant, MissedTickBehavior};
use eddy::{assert_pending, assert_ready};

// ---------------------------------------------------------------------------
// 1. Retry with exponential backoff.

/// Calls `operation` until it succeeds, at most `attempts` times, sleeping
/// `first_delay`, then twice that, and so on, between tries.
async fn retry<T, E, F, Fut>(attempts: u32, first_delay: Duration, mut operation: F) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut delay = first_delay;
    let mut attempt = 1;
    loop {
        match operation().await {
            Ok(value) => return Ok(value),
            Err(error) if attempt == attempts => return Err(error),
            Err(_) => {
                sleep(delay).await;
                delay *= 2;
                attempt += 1;
            }
        }
    }
}

#[test]
fn retry_backs_off_exponentially_until_it_succeeds() {
    eddy::test::run(async {
        let start = Instant::now();
        let tries = Rc::new(Cell::new(Vec::new()));
        let log = tries.clone();
        let result = retry(5, Duration::from_millis(100), || {
            let log = log.clone();
            async move {
                let mut seen = log.take();
                seen.push(start.elapsed());
                let attempt = seen.len();
                log.set(seen);
                if attempt < 3 {
                    Err("unavailable")
                } else {
                    Ok("connected")
                }
            }
        })
        .await;
        assert_eq!(result, Ok("connected"));
        let ms = |ms| Duration::from_millis(ms);
        assert_eq!(tries.take(), [ms(0), ms(100), ms(300)], "waits of 100 ms then 200 ms");
    });
}

#[test]
fn retry_gives_up_after_the_last_attempt() {
    eddy::test::run(async {
        let start = Instant::now();
        let result: Result<(), _> = retry(4, Duration::from_secs(1), || async { Err("down") }).await;
        assert_eq!(result, Err("down"));
        assert_eq!(start.elapsed(), Duration::from_secs(1 + 2 + 4), "no sleep after the last try");
    });
}

// ---------------------------------------------------------------------------
// 2. A timeout around a slow operation.

/// A slow call (a remote service, say) that holds a resource while it runs.
async fn slow_lookup(held: DropProbe) -> u32 {
    let _held = held;
    sleep(Duration::from_secs(30)).await;
    42
}

#[test]
fn a_timeout_cancels_the_slow_operation_at_its_deadline() {
    eddy::test::run(async {
        time::set_auto_advance(false);
        let (probe, released) = DropProbe::new();
        let mut call = MockTask::new(timeout(Duration::from_secs(5), slow_lookup(probe)));
        assert_pending!(call.poll());

        // Just before the deadline: still waiting, still holding.
        time::advance(Duration::from_millis(4_999)).await;
        assert!(!call.is_woken());
        assert_pending!(call.poll());
        assert!(!released.get());

        // At the deadline: it gives up, and the slow call is cancelled.
        time::advance(Duration::from_millis(1)).await;
        assert!(call.is_woken());
        assert!(assert_ready!(call.poll()).is_err());
        assert!(released.get(), "the slow call's resources were released");
    });
}

#[test]
fn a_timeout_returns_the_answer_when_it_comes_in_time() {
    eddy::test::run(async {
        let (probe, _released) = DropProbe::new();
        assert_eq!(timeout(Duration::from_secs(60), slow_lookup(probe)).await, Ok(42));
    });
}

// ---------------------------------------------------------------------------
// 3. A ticker that must skip the ticks it missed.

/// Sends a heartbeat every second; a beat may take long (a slow network),
/// and missed beats must not be sent late in a burst.
async fn heartbeat(beats: Rc<Cell<Vec<Duration>>>, start: Instant, slow_beat: usize) {
    let mut ticker = time::interval(Duration::from_secs(1));
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    for beat in 0..5 {
        ticker.tick().await;
        let mut seen = beats.take();
        seen.push(start.elapsed());
        beats.set(seen);
        if beat == slow_beat {
            sleep(Duration::from_millis(2_500)).await; // this beat took 2.5 s
        }
    }
}

#[test]
fn the_heartbeat_skips_missed_ticks_instead_of_bursting() {
    eddy::test::run(async {
        let start = Instant::now();
        let beats = Rc::new(Cell::new(Vec::new()));
        heartbeat(beats.clone(), start, 1).await;
        let s = |ms| Duration::from_millis(ms);
        // Beat 1 (at 1 s) took until 3.5 s; the ticks due at 2 s and 3 s
        // are skipped: one beat right away, then back on the whole seconds.
        assert_eq!(beats.take(), [s(0), s(1_000), s(3_500), s(4_000), s(5_000)]);
    });
}

// ---------------------------------------------------------------------------
// 4. A race that only some orderings reveal.

struct Account {
    balance: Cell<u64>,
}

/// Looks up an exchange rate (here: answers after a round trip to the loop).
async fn exchange_rate() -> u64 {
    eddy::task::yield_now().await;
    2
}

async fn deposit(account: &Account, amount: u64) {
    account.balance.set(account.balance.get() + amount);
}

/// BUG: reads the balance, awaits the rate, writes back what it read plus
/// the deposit; a deposit made meanwhile is overwritten.
async fn deposit_foreign_buggy(account: &Account, amount: u64) {
    let balance = account.balance.get();
    let rate = exchange_rate().await;
    account.balance.set(balance + amount * rate);
}

/// FIXED: awaits first, then reads and writes with no await in between.
async fn deposit_foreign_fixed(account: &Account, amount: u64) {
    let rate = exchange_rate().await;
    account.balance.set(account.balance.get() + amount * rate);
}

/// Two deposits at once: 5 in local currency and 10 foreign at rate 2.
async fn two_deposits(fixed: bool) {
    let account = Rc::new(Account { balance: Cell::new(0) });
    let local = account.clone();
    let local = eddy::spawn(async move { deposit(&local, 5).await });
    let foreign = account.clone();
    let foreign = eddy::spawn(async move {
        if fixed {
            deposit_foreign_fixed(&foreign, 10).await
        } else {
            deposit_foreign_buggy(&foreign, 10).await
        }
    });
    local.await.unwrap();
    foreign.await.unwrap();
    assert_eq!(account.balance.get(), 5 + 20, "a deposit was lost");
}

#[test]
fn in_spawn_order_the_buggy_deposit_happens_to_pass() {
    // The plain FIFO loop always runs the local deposit first, so the bug
    // never shows: this test passes, and proves nothing.
    eddy::test::run(two_deposits(false));
}

#[test]
fn the_seed_sweep_finds_the_lost_deposit() {
    let failure = std::panic::catch_unwind(|| check_orderings(0..32, || two_deposits(false))).unwrap_err();
    let message = failure.downcast_ref::<String>().unwrap();
    assert!(message.contains("a deposit was lost") && message.contains("under seed"), "{message}");
}

#[test]
fn the_fixed_deposit_survives_every_ordering() {
    check_orderings(0..256, || two_deposits(true));
}
