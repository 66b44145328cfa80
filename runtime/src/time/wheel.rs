//! A hierarchical timing wheel: O(1) insert and cancel, and finding the next
//! deadline in a few bit operations, however many timers there are.
//!
//! Time is counted in ticks of one millisecond. Six levels of 64 slots each
//! cover 64⁶ ms (about 2.2 years); a timer further out is parked in the top
//! level and re-filed when its slot comes round.
//!
//! ```text
//!  level 0: 64 slots × 1 ms      ┌─┬─┬─┬─┬─ ─ ─┬─┐   one bit per slot in
//!  level 1: 64 slots × 64 ms     └─┴─┴─┴─┴─ ─ ─┴─┘   `occupied` (u64): the next
//!  level 2: 64 slots × 4.1 s       ...                non-empty slot is one
//!  level 3: 64 slots × 4.4 min                        rotate + trailing_zeros
//!  level 4: 64 slots × 4.7 h
//!  level 5: 64 slots × 12.4 days
//! ```
//!
//! A timer is filed at the lowest level whose slot span separates its
//! deadline from "now" (`elapsed`): the highest bit in which the two differ
//! picks the level. When a slot at level > 0 comes due, its timers are filed
//! again, each into a finer level, until they reach level 0 and fire. Each
//! slot is a doubly linked list threaded through a slab by index, so a timer
//! is removed in O(1) when its `Sleep` is dropped, with no `unsafe` and no
//! allocation per timer once the slab has grown.
//!
//! This is the design tokio and the Linux kernel use (after Varghese &
//! Lauck, "Hashed and Hierarchical Timing Wheels", 1987). A binary heap would
//! be simpler but cancels in O(n) (or needs lazy deletion, which keeps every
//! cancelled timer's memory until its deadline: bad for a server whose read
//! timeouts are almost always cancelled).
//!
//! # The next deadline, remembered
//!
//! The loop asks for the next deadline twice a tick (to fire what is due,
//! then to plan how long to park), while the wheel itself changes only
//! when a timer is filed or unlinked. So the answer of the last scan is
//! kept until one of those happens: a tick on which no timer is due, the
//! common case for a server whose keep-alive deadlines lie seconds ahead,
//! costs a comparison instead of a scan. Such a tick also leaves `elapsed`
//! where it was: a wheel that was not advanced is exactly as valid as one
//! that was (a timer filed against an older `elapsed` only sits in a
//! coarser slot, and is re-filed when that slot comes due).

use std::cell::Cell;
use std::task::Waker;

use slab::Slab;

const LEVELS: usize = 6;
const SLOT_BITS: u32 = 6;
const SLOTS: usize = 1 << SLOT_BITS;
/// Ticks spanned by the whole wheel: 64⁶ ms.
const WHEEL_SPAN: u64 = 1 << (SLOT_BITS * LEVELS as u32);
/// "No entry" in the index-linked lists.
const NIL: u32 = u32::MAX;

/// A timer's handle: its index in the wheel's slab. Owned by exactly one
/// `Sleep`, which removes it exactly once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TimerKey(u32);

impl TimerKey {
    /// The key as a number, for the trace.
    pub(crate) fn index(self) -> u32 {
        self.0
    }
}

/// The timers of one loop.
pub(crate) struct Wheel {
    /// The tick up to which all due timers have fired. Never decreases.
    elapsed: u64,
    levels: [Level; LEVELS],
    entries: Slab<Entry>,
    /// What [`next_deadline`](Self::next_deadline) would answer, if known:
    /// set by a scan, forgotten whenever a timer is filed or unlinked (see
    /// "The next deadline, remembered").
    next: Cell<Option<Option<u64>>>,
}

struct Level {
    /// Bit `i` set ⇔ slot `i` holds at least one timer.
    occupied: u64,
    head: [u32; SLOTS],
    tail: [u32; SLOTS],
}

struct Entry {
    /// Deadline tick.
    when: u64,
    /// The task to wake when it fires.
    waker: Option<Waker>,
    prev: u32,
    next: u32,
    place: Place,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Place {
    Filed { level: u8, slot: u8 },
    Fired,
}

impl Wheel {
    pub(crate) fn new() -> Wheel {
        let level = || Level { occupied: 0, head: [NIL; SLOTS], tail: [NIL; SLOTS] };
        Wheel {
            elapsed: 0,
            levels: std::array::from_fn(|_| level()),
            entries: Slab::new(),
            next: Cell::new(None),
        }
    }

    /// Whether no timer exists at all (armed, or fired and not yet removed).
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// How many timers exist (armed or fired but not yet removed).
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Arms a timer for tick `when`. A deadline not after `elapsed` fires
    /// at once (it is marked fired; nobody is woken, the caller polls it).
    pub(crate) fn insert(&mut self, when: u64, waker: Waker) -> TimerKey {
        let entry = Entry { when, waker: Some(waker), prev: NIL, next: NIL, place: Place::Fired };
        let index = self.entries.insert(entry);
        let key = TimerKey(u32::try_from(index).expect("more than 4 billion timers on one loop"));
        if when > self.elapsed {
            self.file(key);
        }
        key
    }

    /// Cancels (or forgets a fired) timer. Returns its waker so the caller
    /// can drop it outside any borrow of the wheel, with its deadline tick
    /// (for the flight recorder), if it was still armed.
    pub(crate) fn remove(&mut self, key: TimerKey) -> Option<(Waker, u64)> {
        if let Some(Place::Filed { .. }) = self.entries.get(key.0 as usize).map(|e| e.place) {
            self.unlink(key);
        }
        self.entries.try_remove(key.0 as usize).and_then(|entry| Some((entry.waker?, entry.when)))
    }

    /// Whether the timer has fired; if not, makes sure `waker` is the one it
    /// will wake.
    pub(crate) fn poll_fired(&mut self, key: TimerKey, waker: &Waker) -> bool {
        let Some(entry) = self.entries.get_mut(key.0 as usize) else {
            return true; // Unknown key: treat as fired rather than hang.
        };
        if entry.place == Place::Fired {
            return true;
        }
        match &entry.waker {
            Some(current) if current.will_wake(waker) => {}
            _ => entry.waker = Some(waker.clone()),
        }
        false
    }

    /// Calls `f` with the deadline tick and waker of every timer that holds
    /// a waker (for task dumps): armed ones, and fired ones whose waker is
    /// still stored (a timer due at once keeps it until it is removed).
    pub(crate) fn for_each_waker(&self, mut f: impl FnMut(u64, &Waker)) {
        for (_, entry) in &self.entries {
            if let Some(waker) = &entry.waker {
                f(entry.when, waker);
            }
        }
    }

    /// The earliest tick at which some timer is due, if any.
    pub(crate) fn next_deadline(&self) -> Option<u64> {
        if let Some(known) = self.next.get() {
            return known;
        }
        let next = self.next_due_slot().map(|due| due.deadline);
        self.next.set(Some(next));
        next
    }

    /// Fires every timer due at or before tick `now`, in deadline order
    /// (first-armed first within one millisecond), pushing their wakers onto
    /// `fired`. Returns how many fired.
    pub(crate) fn advance(&mut self, now: u64, fired: &mut Vec<Waker>) -> usize {
        // Nothing due: leave the wheel as it is (see "The next deadline,
        // remembered"), so the answer stays known.
        if self.next_deadline().is_none_or(|next| next > now) {
            return 0;
        }
        let mut count = 0;
        while let Some(due) = self.next_due_slot() {
            if due.deadline > now {
                break;
            }
            self.elapsed = due.deadline;
            // Empty the slot, then fire or re-file each of its timers
            // relative to the new `elapsed`: the ones due fire now, the rest
            // move to a finer level and come up again in order.
            let level = &mut self.levels[due.level];
            let mut key = std::mem::replace(&mut level.head[due.slot], NIL);
            level.tail[due.slot] = NIL;
            level.occupied &= !(1 << due.slot);
            while key != NIL {
                let entry = &mut self.entries[key as usize];
                let next = entry.next;
                entry.prev = NIL;
                entry.next = NIL;
                if entry.when <= self.elapsed {
                    entry.place = Place::Fired;
                    fired.extend(entry.waker.take());
                    count += 1;
                } else {
                    self.file(TimerKey(key));
                }
                key = next;
            }
        }
        self.elapsed = self.elapsed.max(now);
        // `next_due_slot` counts from `elapsed`, which just moved.
        self.next.set(None);
        count
    }

    /// Files an armed timer into the slot its deadline belongs to now.
    fn file(&mut self, key: TimerKey) {
        self.next.set(None);
        let when = self.entries[key.0 as usize].when;
        let level = level_for(self.elapsed, when);
        let slot = slot_for(when, level);
        let tail = self.levels[level].tail[slot];
        {
            let entry = &mut self.entries[key.0 as usize];
            entry.place = Place::Filed { level: level as u8, slot: slot as u8 };
            entry.prev = tail;
            entry.next = NIL;
        }
        if tail == NIL {
            self.levels[level].head[slot] = key.0;
        } else {
            self.entries[tail as usize].next = key.0;
        }
        self.levels[level].tail[slot] = key.0;
        self.levels[level].occupied |= 1 << slot;
    }

    /// Takes a filed timer out of its slot's list.
    fn unlink(&mut self, key: TimerKey) {
        self.next.set(None);
        let (prev, next, place) = {
            let entry = &self.entries[key.0 as usize];
            (entry.prev, entry.next, entry.place)
        };
        let Place::Filed { level, slot } = place else { return };
        let (level, slot) = (level as usize, slot as usize);
        if prev == NIL {
            self.levels[level].head[slot] = next;
        } else {
            self.entries[prev as usize].next = next;
        }
        if next == NIL {
            self.levels[level].tail[slot] = prev;
        } else {
            self.entries[next as usize].prev = prev;
        }
        if self.levels[level].head[slot] == NIL {
            self.levels[level].occupied &= !(1 << slot);
        }
        let entry = &mut self.entries[key.0 as usize];
        entry.place = Place::Fired;
        entry.prev = NIL;
        entry.next = NIL;
    }

    /// The first non-empty slot after `elapsed`, and the tick it starts at.
    /// A lower level's slots always come due before a higher level's (a
    /// timer sits at the lowest level that can hold it), so the first level
    /// with anything in it has the answer.
    fn next_due_slot(&self) -> Option<DueSlot> {
        for (level_number, level) in self.levels.iter().enumerate() {
            if level.occupied == 0 {
                continue;
            }
            let position = slot_for(self.elapsed, level_number);
            let distance = level.occupied.rotate_right(position as u32).trailing_zeros() as usize;
            let slot = (position + distance) % SLOTS;
            let slot_span = 1u64 << (SLOT_BITS * level_number as u32);
            let level_span = slot_span << SLOT_BITS;
            let level_start = self.elapsed & !(level_span - 1);
            let mut deadline = level_start + slot as u64 * slot_span;
            if deadline <= self.elapsed {
                // Only the top level wraps: a timer beyond the wheel's span
                // sits in a slot "behind" us, which means one turn ahead.
                debug_assert_eq!(level_number, LEVELS - 1);
                deadline += level_span;
            }
            return Some(DueSlot { level: level_number, slot, deadline });
        }
        None
    }
}

struct DueSlot {
    level: usize,
    slot: usize,
    deadline: u64,
}

/// The level for a deadline: the one whose slot size matches the highest
/// bit in which `when` and `elapsed` differ. Timers beyond the wheel's span
/// are clamped to the top level.
fn level_for(elapsed: u64, when: u64) -> usize {
    let differing = ((elapsed ^ when) | (SLOTS as u64 - 1)).min(WHEEL_SPAN - 1);
    let highest_bit = 63 - differing.leading_zeros();
    (highest_bit / SLOT_BITS) as usize
}

fn slot_for(tick: u64, level: usize) -> usize {
    ((tick >> (SLOT_BITS * level as u32)) as usize) & (SLOTS - 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_task::noop_waker;

    fn fire_all(wheel: &mut Wheel, now: u64) -> usize {
        wheel.advance(now, &mut Vec::new())
    }

    #[test]
    fn levels_follow_the_distance_to_the_deadline() {
        assert_eq!(level_for(0, 1), 0);
        assert_eq!(level_for(0, 63), 0);
        assert_eq!(level_for(0, 64), 1);
        assert_eq!(level_for(0, 4095), 1);
        assert_eq!(level_for(0, 4096), 2);
        assert_eq!(level_for(0, u64::MAX), LEVELS - 1);
    }

    #[test]
    fn timers_fire_at_their_tick_and_not_before() {
        for deadline in [1, 63, 64, 65, 4095, 4096, 300_000, 5_000_000_000, WHEEL_SPAN + 17] {
            let mut wheel = Wheel::new();
            let key = wheel.insert(deadline, noop_waker());
            assert_eq!(wheel.next_deadline().map(|d| d <= deadline), Some(true));
            assert_eq!(fire_all(&mut wheel, deadline - 1), 0, "deadline {deadline} fired early");
            assert!(!wheel.poll_fired(key, &noop_waker()));
            assert_eq!(fire_all(&mut wheel, deadline), 1, "deadline {deadline} did not fire");
            assert!(wheel.poll_fired(key, &noop_waker()));
        }
    }

    #[test]
    fn the_remembered_next_deadline_follows_every_insert_and_removal() {
        let mut wheel = Wheel::new();
        let far = wheel.insert(5000, noop_waker());
        let first = wheel.next_deadline().expect("a timer is armed");
        assert!(first <= 5000);
        // Ticks with nothing due leave the answer as it was.
        for now in [1, 10, 100, first - 1] {
            assert_eq!(fire_all(&mut wheel, now), 0);
            assert_eq!(wheel.next_deadline(), Some(first));
        }
        // An earlier timer is seen at once, and forgotten once removed.
        let near = wheel.insert(70, noop_waker());
        let with_near = wheel.next_deadline().expect("two timers are armed");
        assert!(with_near <= 70);
        wheel.remove(near);
        assert_eq!(wheel.next_deadline(), Some(first));
        // Firing still happens at the deadline, not before.
        assert_eq!(fire_all(&mut wheel, 4999), 0);
        assert!(!wheel.poll_fired(far, &noop_waker()));
        assert_eq!(fire_all(&mut wheel, 5000), 1);
        assert_eq!(wheel.next_deadline(), None);
    }

    #[test]
    fn removed_timers_never_fire_and_free_their_slot() {
        let mut wheel = Wheel::new();
        let a = wheel.insert(10, noop_waker());
        let b = wheel.insert(10, noop_waker());
        let c = wheel.insert(10, noop_waker());
        wheel.remove(b);
        assert_eq!(fire_all(&mut wheel, 10), 2);
        wheel.remove(a);
        wheel.remove(c);
        assert_eq!(wheel.len(), 0);
        assert_eq!(wheel.next_deadline(), None);
    }

    #[test]
    fn next_deadline_is_the_earliest_across_levels() {
        let mut wheel = Wheel::new();
        wheel.insert(5000, noop_waker());
        wheel.insert(70, noop_waker());
        wheel.insert(3, noop_waker());
        let mut order = Vec::new();
        while let Some(next) = wheel.next_deadline() {
            let fired = fire_all(&mut wheel, next);
            if fired > 0 {
                order.push(next);
            }
        }
        assert_eq!(order, vec![3, 70, 5000]);
    }
}
