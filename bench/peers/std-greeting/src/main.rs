//! The greeting server on plain `std::net`, one OS thread per connection.
//!
//! The baseline with no runtime at all: it shows what blocking threads cost
//! (memory per connection, context switches under load) next to async servers.
//! It keeps connections alive, honours `Connection: close`, and answers pipelined
//! requests the way fast servers do: every complete request in the read buffer is
//! answered, and the responses leave in one `write`.
//!
//! ```text
//! std-greeting --addr 127.0.0.1:8080 [--workers N, accepted and ignored]
//! ```

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A request head longer than this is refused with 431 (aiohttp's limit is 8 KiB
/// per line; 64 KiB for the whole head is generous for a greeting).
const MAX_HEAD: usize = 64 * 1024;

/// A request body longer than this is refused with 413; greetings take none.
const MAX_BODY: usize = 1024 * 1024;

/// How much room each `read` is given at least.
const READ_CHUNK: usize = 4096;

/// Stack of each connection thread: the handler needs little, and a small stack
/// keeps 1000 connections cheap in address space (RSS counts only touched pages).
const STACK_SIZE: usize = 128 * 1024;

/// Command-line settings; the same flags as every server in the harness.
struct Args {
    /// Where to listen, e.g. `127.0.0.1:8080` (port 0 picks a free one).
    addr: SocketAddr,
}

impl Args {
    /// Parses `--addr ADDR`; `--workers N` is accepted for a uniform CLI and ignored.
    fn parse() -> Result<Args, String> {
        let mut args = Args { addr: SocketAddr::from(([127, 0, 0, 1], 8080)) };
        let mut it = std::env::args().skip(1);
        while let Some(flag) = it.next() {
            let value = it.next().ok_or(format!("{flag} needs a value"))?;
            match flag.as_str() {
                "--addr" => args.addr = value.parse().map_err(|e| format!("--addr: {e}"))?,
                "--workers" => {
                    value.parse::<usize>().map_err(|e| format!("--workers: {e}"))?;
                }
                _ => return Err(format!("unknown flag {flag}; usage: --addr ADDR --workers N")),
            }
        }
        Ok(args)
    }
}

/// What the server needs to know about one request head.
struct Head<'a> {
    /// The method token, e.g. `GET`.
    method: &'a [u8],
    /// The request target as sent, e.g. `/bench`.
    path: &'a [u8],
    /// Whether the connection stays open after the response.
    keep_alive: bool,
    /// Length of the body that follows the head (0 when absent).
    content_length: usize,
    /// Whether the body is framed by a transfer coding (not supported here).
    chunked: bool,
}

/// Parses a request head: `head` is everything before the blank line.
///
/// Only as strict as a baseline needs: it reads the request line, `Connection`,
/// `Content-Length` and `Transfer-Encoding`, and returns `None` for anything it
/// cannot make sense of (answered with 400).
fn parse_head(head: &[u8]) -> Option<Head<'_>> {
    let mut lines = head.split(|&b| b == b'\n').map(trim_cr);
    let mut parts = lines.next()?.split(|&b| b == b' ');
    let (method, path, version) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || method.is_empty() || path.is_empty() {
        return None;
    }
    // HTTP/1.1 keeps the connection by default, HTTP/1.0 closes it.
    let mut keep_alive = match version {
        b"HTTP/1.1" => true,
        b"HTTP/1.0" => false,
        _ => return None,
    };
    let mut content_length = 0;
    let mut chunked = false;
    for line in lines {
        let colon = line.iter().position(|&b| b == b':')?;
        let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
        if name.eq_ignore_ascii_case(b"connection") {
            for token in value.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
                if token.eq_ignore_ascii_case(b"close") {
                    keep_alive = false;
                } else if token.eq_ignore_ascii_case(b"keep-alive") {
                    keep_alive = true;
                }
            }
        } else if name.eq_ignore_ascii_case(b"content-length") {
            content_length = std::str::from_utf8(value).ok()?.parse().ok()?;
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            chunked = true;
        }
    }
    Some(Head { method, path, keep_alive, content_length, chunked })
}

/// Drops the `\r` that ends a line, if any.
fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Finds the end of the next request head: the index of its blank line.
fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n")
}

/// Appends the response to one request: 200 with a greeting for `GET /` and
/// `GET /{name}`, 404 for other paths, 405 for other methods (HEAD is a GET
/// without the body, as aiohttp's `web.get` allows it).
fn respond(out: &mut Vec<u8>, head: &Head<'_>, date: &str) {
    let is_head = head.method == b"HEAD";
    if head.method != b"GET" && !is_head {
        return write_response(out, "405 Method Not Allowed", "Method Not Allowed", head.keep_alive, date);
    }
    let name = match head.path.strip_prefix(b"/") {
        Some(b"") => &b"Anonymous"[..],
        Some(name) if !name.contains(&b'/') => name,
        _ => return write_response(out, "404 Not Found", "Not Found", head.keep_alive, date),
    };
    // No decoding is asked for; invalid UTF-8 is shown lossily rather than refused.
    let body = format!("Hello, {}!", String::from_utf8_lossy(name));
    write_head(out, "200 OK", body.len(), head.keep_alive, date);
    if !is_head {
        out.extend_from_slice(body.as_bytes());
    }
}

/// Appends a complete response with a plain-text body.
fn write_response(out: &mut Vec<u8>, status: &str, body: &str, keep_alive: bool, date: &str) {
    write_head(out, status, body.len(), keep_alive, date);
    out.extend_from_slice(body.as_bytes());
}

/// Appends a response head; `Connection: close` is said when we will close.
fn write_head(out: &mut Vec<u8>, status: &str, len: usize, keep_alive: bool, date: &str) {
    // `write!` into a Vec cannot fail.
    let _ = write!(
        out,
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Length: {len}\r\nDate: {date}\r\n{}\r\n",
        if keep_alive { "" } else { "Connection: close\r\n" }
    );
}

/// The `Date` header value, reformatted only when the second changes.
struct DateCache {
    /// The Unix second `text` was made for.
    second: u64,
    /// `text` formatted as an IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
    text: String,
}

impl DateCache {
    /// Returns the current date, formatting it at most once a second.
    fn now(&mut self) -> &str {
        let second = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        if second != self.second || self.text.is_empty() {
            self.second = second;
            self.text = http_date(second);
        }
        &self.text
    }
}

/// Formats a Unix time as an HTTP date (IMF-fixdate, RFC 9110 §5.6.7).
fn http_date(unix: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let (days, secs) = (unix / 86_400, unix % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's `civil_from_days`),
    // with eras of 400 years counted from 0000-03-01.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!(
        "{}, {day:02} {} {year} {:02}:{:02}:{:02} GMT",
        DAYS[(days % 7) as usize],
        MONTHS[(month - 1) as usize],
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Serves one connection until the client closes it, asks to close, or errs.
fn serve(mut stream: TcpStream) -> io::Result<()> {
    // `buf[..filled]` holds bytes read and not yet answered; it grows only for
    // large heads or bodies, and is never re-zeroed between reads.
    let mut buf = vec![0u8; READ_CHUNK];
    let mut filled = 0;
    let mut out: Vec<u8> = Vec::with_capacity(READ_CHUNK);
    let mut date = DateCache { second: 0, text: String::new() };
    loop {
        // Answer every complete request already in the buffer (pipelining).
        let mut start = 0;
        let mut close = false;
        let mut awaiting_body = false;
        while let Some(end) = find_head_end(&buf[start..filled]) {
            let refusal = match parse_head(&buf[start..start + end]) {
                None => Some("400 Bad Request"),
                Some(head) if head.chunked => Some("501 Not Implemented"),
                Some(head) if head.content_length > MAX_BODY => Some("413 Payload Too Large"),
                Some(head) => {
                    let total = end + 4 + head.content_length;
                    if filled - start < total {
                        awaiting_body = true;
                        break;
                    }
                    respond(&mut out, &head, date.now());
                    start += total;
                    close = !head.keep_alive;
                    None
                }
            };
            if let Some(status) = refusal {
                // After a request we cannot frame, the rest of the stream is noise.
                write_response(&mut out, status, status, false, date.now());
                close = true;
            }
            if close {
                break;
            }
        }
        // No further complete request: everything answered so far leaves at once.
        if !out.is_empty() {
            stream.write_all(&out)?;
            out.clear();
        }
        if close {
            // Half-close, so the client reads every byte before it sees our FIN.
            return stream.shutdown(Shutdown::Write);
        }
        buf.copy_within(start..filled, 0);
        filled -= start;
        if filled == buf.len() {
            if !awaiting_body && filled >= MAX_HEAD {
                let status = "431 Request Header Fields Too Large";
                write_response(&mut out, status, status, false, date.now());
                stream.write_all(&out)?;
                return stream.shutdown(Shutdown::Write);
            }
            buf.resize(buf.len() * 2, 0);
        }
        let n = stream.read(&mut buf[filled..])?;
        if n == 0 {
            return Ok(()); // the client closed
        }
        filled += n;
    }
}

/// Accepts forever, one thread per connection.
fn main() {
    let args = match Args::parse() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("std-greeting: {e}");
            std::process::exit(2);
        }
    };
    let listener = match TcpListener::bind(args.addr) {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("std-greeting: bind {}: {e}", args.addr);
            std::process::exit(1);
        }
    };
    match listener.local_addr() {
        // The harness waits for this line (and then for the port to accept).
        Ok(addr) => println!("listening on {addr}"),
        Err(e) => eprintln!("std-greeting: {e}"),
    }
    for stream in listener.incoming() {
        let stream = match stream {
            Ok(stream) => stream,
            Err(e) => {
                // Usually EMFILE: back off instead of spinning on the error.
                eprintln!("accept: {e}");
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        // Small responses must leave at once, not wait for Nagle's timer.
        let _ = stream.set_nodelay(true);
        let spawned = std::thread::Builder::new().stack_size(STACK_SIZE).spawn(move || {
            // Resets and aborted connections are the client's business.
            let _ = serve(stream);
        });
        if let Err(e) = spawned {
            eprintln!("spawn: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Dates known from RFC 9110 and the Unix epoch format correctly.
    #[test]
    fn formats_http_dates() {
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(http_date(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(http_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
    }

    /// `Connection: close` and HTTP/1.0 end the connection; HTTP/1.1 keeps it.
    #[test]
    fn reads_keep_alive() {
        let h = parse_head(b"GET /a HTTP/1.1\r\nHost: x").unwrap();
        assert!(h.keep_alive && h.path == b"/a");
        let h = parse_head(b"GET / HTTP/1.1\r\nconnection: Close").unwrap();
        assert!(!h.keep_alive);
        assert!(!parse_head(b"GET / HTTP/1.0").unwrap().keep_alive);
        assert!(parse_head(b"GET / HTTP/2.0").is_none());
    }
}
