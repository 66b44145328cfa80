//! Server-sent events: a clock that ticks once a second into every open
//! browser tab, with `eddy_http::sse`.
//!
//! ```text
//! cargo run --example sse_clock                  # then open http://127.0.0.1:8080/
//! curl -N http://127.0.0.1:8080/clock            # the raw event stream
//! curl -N -H 'Last-Event-ID: 100' http://127.0.0.1:8080/clock   # resumes at tick 101
//! ```
//!
//! Each connection gets its own producer task pushing into an
//! `EventSender`; the send waits while the client lags (backpressure) and
//! fails once the client has gone or the server shuts down, which ends the
//! task. A comment every 15 s keeps idle proxies from dropping the stream
//! (here the ticks already do; a real feed may be quiet for minutes).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use eddy_http::sse::{self, Event, Sse};
use eddy_http::{App, Request, Response};

const PAGE: &str = r#"<!doctype html>
<meta charset="utf-8"><title>eddy clock</title>
<h1 id="clock">…</h1>
<script>
  new EventSource("/clock").addEventListener("tick", (e) => {
    document.getElementById("clock").textContent = e.data + " (tick " + e.lastEventId + ")";
  });
</script>
"#;

async fn page(_req: Request) -> Response {
    Response::html(PAGE)
}

async fn clock(req: Request) -> Response {
    // A reconnecting browser says where it was: carry on from there.
    let mut tick: u64 = sse::last_event_id(&req).and_then(|id| id.parse().ok()).unwrap_or(0);
    let (mut events, stream) = Sse::channel();
    eddy::spawn(async move {
        let mut every_second = eddy::time::interval(Duration::from_secs(1));
        loop {
            every_second.tick().await;
            tick += 1;
            let event = Event::data(utc_time()).event("tick").id(tick.to_string());
            if events.send(&event).await.is_err() {
                log::info!("a clock viewer left after tick {tick}");
                return;
            }
        }
    });
    stream.keep_alive(Duration::from_secs(15)).into()
}

/// `HH:MM:SS UTC`, now.
fn utc_time() -> String {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    format!("{:02}:{:02}:{:02} UTC", secs / 3600 % 24, secs / 60 % 60, secs % 60)
}

fn main() -> std::io::Result<()> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:8080".to_string());
    let app = App::new().get("/", page).get("/clock", clock);
    eddy_http::run_app(app, addr)
}
