//! A runtime that cannot get its descriptors says what it was creating, in
//! words that are true on every OS ("poller", "waker", never epoll or
//! eventfd, which exist only on Linux).
//!
//! One test in this file on purpose: it lowers the process's descriptor
//! limit, which would break any test running beside it.

use std::os::fd::AsRawFd;

/// The lowest descriptor number not in use: the one the next `socket`,
/// `epoll_create` or `kqueue` would get.
fn lowest_free_descriptor() -> libc::rlim_t {
    let stdin = std::io::stdin();
    // SAFETY: dup only creates a descriptor, which we close at once.
    let fd = unsafe { libc::dup(stdin.as_raw_fd()) };
    assert!(fd >= 0, "dup: {}", std::io::Error::last_os_error());
    // SAFETY: `fd` is the descriptor dup just gave us, closed once.
    unsafe { libc::close(fd) };
    fd as libc::rlim_t
}

/// Sets the soft descriptor limit, returning the previous one.
fn set_soft_limit(soft: libc::rlim_t) -> libc::rlim_t {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit and setrlimit only read and write the struct we pass.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        let previous = limit.rlim_cur;
        limit.rlim_cur = soft;
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0, "{}", std::io::Error::last_os_error());
        previous
    }
}

#[test]
fn building_a_runtime_without_descriptors_names_the_poller_or_the_waker() {
    let free = lowest_free_descriptor();
    let mut outcomes = Vec::new();
    // 0 spare descriptors: the first poller fails. With more, what fails
    // next depends on the OS (Linux's waker is an eventfd, a kqueue's waker
    // needs no descriptor); two loops need at most 3 each, so 8 is enough
    // everywhere. Failing part-way also proves nothing leaks: each attempt
    // starts from the same free descriptors.
    for spare in 0..=8 {
        let previous = set_soft_limit(free + spare);
        let built = eddy::Builder::new().workers(2).build();
        set_soft_limit(previous);
        outcomes.push((spare, built.map(drop).map_err(|e| e.to_string())));
    }
    let (_, no_spare) = &outcomes[0];
    let message = no_spare.as_ref().expect_err("no descriptor left, yet the runtime was built");
    assert!(message.contains("creating the event loop's I/O poller"), "{message}");
    for (spare, outcome) in &outcomes {
        if let Err(message) = outcome {
            assert!(
                message.contains("poller") || message.contains("waker") || message.contains("thread"),
                "with {spare} spare: the error should say what was being created: {message}"
            );
            assert!(
                !message.contains("epoll") && !message.contains("eventfd"),
                "with {spare} spare: Linux-only words in a message every OS may show: {message}"
            );
        }
    }
    assert!(outcomes.last().unwrap().1.is_ok(), "eight spare descriptors should be enough: {outcomes:?}");
}
