//! The server that ties `http` and `app` together: listeners on each loop,
//! connections and their I/O, buffer pools, limits, graceful shutdown,
//! signals, socket options and statistics.
//!
//! Depends on: `http` and `app`, and the eddy runtime. Nothing in `http` or
//! `app` may depend on the rest of it (see their own docs for the plain-data
//! exceptions).
//!
//! | file | what |
//! |---|---|
//! | `serve.rs` | `Server`: listeners on one or more loops, one connection budget, and graceful shutdown. |
//! | `conn.rs` | One connection: read, parse every complete request, answer each, write all the answers at once, and go idle holding no buffers. |
//! | `conn_io.rs` | The state a connection shares with the body of the request it is serving: the socket, the input buffer, and where the body stands. |
//! | `pool.rs` | Per-loop buffer pools: an idle connection holds no buffers. |
//! | `limits.rs` | Limits: how much a client may send, and how long it may take. |
//! | `signal.rs` | Waiting for SIGINT or SIGTERM, for [`run_app`](crate::run_app), with [`eddy::signal`]: two listeners on the loop that runs `run_app`, made before the server binds (so a signal that comes during startup is not lost, and a client that sees the server listening may signal it). |
//! | `socket.rs` | Listening sockets with `SO_REUSEPORT`, so every worker loop accepts on its own socket and the kernel spreads new connections across them. |
//! | `stats.rs` | Server statistics: connections accepted and closed, requests, responses by status, refusals by reason, and the connections reading, writing and idle right now. |

pub(crate) mod conn;
pub(crate) mod conn_io;
pub(crate) mod limits;
pub(crate) mod pool;
pub(crate) mod serve;
pub(crate) mod signal;
pub(crate) mod socket;
pub(crate) mod stats;
