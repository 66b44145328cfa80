//! `assert_pending!`, `assert_ready!`, `assert_ready_eq!`: state what a poll
//! returned, with the value in the failure message.

/// Asserts that a poll returned `Poll::Pending`.
///
/// ```
/// use std::task::Poll;
/// eddy::assert_pending!(Poll::<u8>::Pending);
/// ```
#[macro_export]
macro_rules! assert_pending {
    ($poll:expr $(,)?) => {
        match $poll {
            ::std::task::Poll::Pending => {}
            ::std::task::Poll::Ready(value) => {
                panic!("expected Pending, got Ready({:?}) from {}", value, stringify!($poll))
            }
        }
    };
}

/// Asserts that a poll returned `Poll::Ready` and evaluates to the value.
///
/// ```
/// use std::task::Poll;
/// assert_eq!(eddy::assert_ready!(Poll::Ready(3)), 3);
/// ```
#[macro_export]
macro_rules! assert_ready {
    ($poll:expr $(,)?) => {
        match $poll {
            ::std::task::Poll::Ready(value) => value,
            ::std::task::Poll::Pending => panic!("expected Ready, got Pending from {}", stringify!($poll)),
        }
    };
}

/// Asserts that a poll returned `Poll::Ready(expected)`.
///
/// ```
/// use std::task::Poll;
/// eddy::assert_ready_eq!(Poll::Ready("done"), "done");
/// ```
#[macro_export]
macro_rules! assert_ready_eq {
    ($poll:expr, $expected:expr $(,)?) => {
        match $poll {
            ::std::task::Poll::Ready(value) => assert_eq!(value, $expected, "from {}", stringify!($poll)),
            ::std::task::Poll::Pending => panic!("expected Ready, got Pending from {}", stringify!($poll)),
        }
    };
}
