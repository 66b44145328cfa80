//! Order statistics over a handful of rounds.
//!
//! Medians rather than means: on a shared 2-core machine a round now and then
//! loses its core to something else, and one such outlier would drag a mean
//! but not a median. Min and max are shown beside it so the spread is visible.

use std::time::Duration;

/// Median, minimum and maximum of a set of durations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Summary {
    /// The middle value (the mean of the two middle values for an even count).
    pub median: Duration,
    /// The smallest value.
    pub min: Duration,
    /// The largest value.
    pub max: Duration,
}

impl Summary {
    /// Summarises `values`, or `None` if there are none.
    pub fn of(values: &[Duration]) -> Option<Summary> {
        let mut sorted = values.to_vec();
        sorted.sort_unstable();
        let (first, last) = (*sorted.first()?, *sorted.last()?);
        let middle = sorted.len() / 2;
        let median =
            if sorted.len() % 2 == 1 { sorted[middle] } else { (sorted[middle - 1] + sorted[middle]) / 2 };
        Some(Summary { median, min: first, max: last })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(values: &[u64]) -> Vec<Duration> {
        values.iter().map(|&v| Duration::from_millis(v)).collect()
    }

    #[test]
    fn odd_and_even_counts() {
        let odd = Summary::of(&ms(&[5, 1, 9])).unwrap();
        assert_eq!((odd.median, odd.min, odd.max), (ms(&[5])[0], ms(&[1])[0], ms(&[9])[0]));
        let even = Summary::of(&ms(&[4, 1, 2, 9])).unwrap();
        assert_eq!(even.median, Duration::from_millis(3));
        assert_eq!(Summary::of(&[]), None);
    }
}
