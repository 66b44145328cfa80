//! Small helpers with no better home.

/// A seeded shuffler (splitmix64 + Fisher–Yates) for reproducible task
/// orderings in tests (`Builder::seed`). Not for cryptography; chosen
/// because it is ten lines and needs no dependency.
pub(crate) struct Shuffler {
    state: u64,
}

impl Shuffler {
    pub(crate) fn new(seed: u64) -> Shuffler {
        Shuffler { state: seed }
    }

    /// The next pseudo-random number (splitmix64).
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Shuffles `items` in place, uniformly.
    pub(crate) fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = (self.next_u64() % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Shuffler;

    #[test]
    fn the_same_seed_gives_the_same_order() {
        let order = |seed| {
            let mut items: Vec<u32> = (0..20).collect();
            Shuffler::new(seed).shuffle(&mut items);
            items
        };
        assert_eq!(order(7), order(7));
        assert_ne!(order(7), order(8));
    }
}
