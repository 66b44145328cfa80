//! Request streams for `tests/http_fuzz.rs`: mostly well-formed requests
//! (so the server gets deep into each), with "twists" that break one rule
//! at a time (the smuggling shapes: CL and TE together, odd codings, junk
//! after chunk sizes, request lines in trailers, bare CR/LF, NULs,
//! oversized fields, ...) and random byte mutations on top. Everything is
//! drawn from one seed, so a case is replayed from its seed alone.
//!
//! The generator's idea of validity is only used to demand that clean
//! cases are answered in full; the oracle is the model in `mod.rs`.

/// splitmix64: tiny, fast, and good enough to drive a fuzzer.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// True with probability `percent` in 100.
    pub fn percent(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// One of the byte strings.
    pub fn choose<'a>(&mut self, items: &[&'a [u8]]) -> &'a [u8] {
        items[self.below(items.len())]
    }
}

/// One generated case.
pub struct Case {
    /// The stream to send.
    pub bytes: Vec<u8>,
    /// Where to cut it into separate writes (increasing offsets).
    pub cuts: Vec<usize>,
    /// No twist or mutation: every request must be answered by its handler.
    pub clean: bool,
}

/// Bytes that break things when they appear where they should not.
const ODD: &[u8] = b"\r\n\0 \t:;\",=\x7f\x1b\xff0aZ/?%";

/// A well-formed field value byte (no control characters but tab).
fn value_byte(rng: &mut Rng) -> u8 {
    match rng.below(10) {
        0 => b'\t',
        1 => 0x80 + rng.below(0x80) as u8,
        2 => b' ',
        _ => b'!' + rng.below(94) as u8,
    }
}

fn value(rng: &mut Rng, max: usize) -> Vec<u8> {
    let len = rng.below(max + 1);
    let mut value: Vec<u8> = (0..len).map(|_| value_byte(rng)).collect();
    // A value may not start or end with whitespace as *field content*; the
    // parser trims it as OWS either way, so either shape is valid.
    if value.first().is_some_and(|b| *b == b' ' || *b == b'\t') && rng.percent(50) {
        value[0] = b'v';
    }
    value
}

/// Generates case `id` from `seed`.
pub fn generate(seed: u64, id: u64) -> Case {
    let mut rng = Rng::new(seed);
    let mut bytes = Vec::new();
    let mut clean = true;
    let most = if rng.percent(20) { 6 } else { 3 };
    let count = 1 + rng.below(most);
    for i in 0..count {
        let last = i + 1 == count;
        request(&mut rng, id, i, last, &mut bytes, &mut clean);
    }
    if rng.percent(20) {
        clean = false;
        for _ in 0..1 + rng.below(3) {
            mutate(&mut rng, &mut bytes);
        }
    }
    let mut cuts: Vec<usize> = (0..rng.below(4)).map(|_| rng.below(bytes.len() + 1)).collect();
    cuts.sort_unstable();
    cuts.dedup();
    Case { bytes, cuts, clean }
}

fn mutate(rng: &mut Rng, bytes: &mut Vec<u8>) {
    if bytes.is_empty() {
        return;
    }
    let at = rng.below(bytes.len());
    match rng.below(6) {
        0 => bytes[at] = *rng.pick(ODD),
        1 => bytes.insert(at, *rng.pick(ODD)),
        2 => {
            bytes.remove(at);
        }
        3 => {
            let len = rng.below(16).min(bytes.len() - at);
            let piece = bytes[at..at + len].to_vec();
            let to = rng.below(bytes.len());
            bytes.splice(to..to, piece);
        }
        4 => bytes.truncate(at),
        _ => {
            // A CRLF loses its CR, or a lone CR or LF appears.
            if let Some(cr) = bytes[at..].iter().position(|&b| b == b'\r') {
                bytes.remove(at + cr);
            } else {
                bytes.insert(at, *rng.pick(b"\r\n"));
            }
        }
    }
}

/// The ways one request breaks a rule.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Twist {
    None,
    LengthAndChunked,
    OddCoding,
    ConflictingLengths,
    BadLength,
    ChunkSizeJunk,
    TrailerJunk,
    ValueControl,
    NameJunk,
    RequestLineJunk,
    BareLf,
    Oversized,
    ShortBody,
    UnknownMethod,
    NoHost,
}

const TWISTS: [Twist; 14] = [
    Twist::LengthAndChunked,
    Twist::OddCoding,
    Twist::ConflictingLengths,
    Twist::BadLength,
    Twist::ChunkSizeJunk,
    Twist::TrailerJunk,
    Twist::ValueControl,
    Twist::NameJunk,
    Twist::RequestLineJunk,
    Twist::BareLf,
    Twist::Oversized,
    Twist::ShortBody,
    Twist::UnknownMethod,
    Twist::NoHost,
];

fn request(rng: &mut Rng, id: u64, i: usize, last: bool, out: &mut Vec<u8>, clean: &mut bool) {
    let twist = if rng.percent(25) { *rng.pick(&TWISTS) } else { Twist::None };
    if twist != Twist::None {
        *clean = false;
    }
    let start = out.len();
    if rng.percent(4) {
        out.extend_from_slice(b"\r\n");
    }

    // Request line.
    let method: &[u8] = match twist {
        Twist::UnknownMethod => rng.choose(&[&b"BREW"[..], b"get", b"PRI", b"M-SEARCH"]),
        _ => rng.choose(&[
            &b"GET"[..],
            b"GET",
            b"GET",
            b"POST",
            b"POST",
            b"HEAD",
            b"PUT",
            b"DELETE",
            b"PATCH",
            b"OPTIONS",
        ]),
    };
    let http10 = rng.percent(8);
    let mut target = format!("/f{id:x}r{i}").into_bytes();
    if rng.percent(20) {
        target.extend_from_slice(format!("?q={}&x=%41", rng.below(1000)).as_bytes());
    }
    if rng.percent(8) {
        let mut absolute = b"http://h".to_vec();
        absolute.extend_from_slice(&target);
        target = absolute;
    }
    if method == b"OPTIONS" && rng.percent(30) {
        target = b"*".to_vec();
    }
    if twist == Twist::Oversized && rng.percent(30) {
        target.extend(std::iter::repeat_n(b'u', 8 * 1024));
    }
    out.extend_from_slice(method);
    let version: &[u8] = if http10 { b"HTTP/1.0" } else { b"HTTP/1.1" };
    if twist == Twist::RequestLineJunk {
        match rng.below(6) {
            0 => out.extend_from_slice(b"  "),
            1 => out.extend_from_slice(b"\t"),
            2 => out.extend_from_slice(b" /a b"),
            _ => out.push(b' '),
        }
        out.extend_from_slice(&target);
        out.push(b' ');
        out.extend_from_slice(rng.choose(&[
            &b"HTTP/1.2"[..],
            b"HTTP/2.0",
            b"http/1.1",
            b"HTTP/1.1 ",
            b"HTTP/1",
            b"HTTP/1.1\0",
        ]));
    } else {
        out.push(b' ');
        out.extend_from_slice(&target);
        out.push(b' ');
        out.extend_from_slice(version);
    }
    out.extend_from_slice(b"\r\n");

    // Headers.
    let host = match twist {
        Twist::NoHost => false,
        _ => !http10 || rng.percent(50),
    };
    let mut fields: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    if host {
        fields.push((b"Host".to_vec(), b"h".to_vec()));
    }
    for _ in 0..rng.below(4) {
        let name: &[u8] = rng.choose(&[
            &b"X-A"[..],
            b"Accept",
            b"User-Agent",
            b"x-odd!#$%&'*+-.^_`|~",
            b"Cookie",
            b"X-Empty",
        ]);
        let v = value(rng, 24);
        fields.push((name.to_vec(), v));
    }
    let closes = if http10 {
        if !last || rng.percent(50) {
            fields.push((b"Connection".to_vec(), b"keep-alive".to_vec()));
            false
        } else {
            true
        }
    } else if last && rng.percent(30) {
        fields.push((
            b"Connection".to_vec(),
            rng.choose(&[&b"close"[..], b"Close", b"keep-alive, close"]).to_vec(),
        ));
        true
    } else {
        false
    };
    if closes && !last {
        *clean = false;
    }

    // Body and framing.
    let mut body: Vec<u8> = match rng.below(6) {
        0 => format!("GET /smuggled{id:x}r{i} HTTP/1.1\r\nHost: h\r\n\r\n").into_bytes(),
        1 => b"0\r\n\r\n".to_vec(),
        _ => (0..rng.below(40)).map(|_| rng.below(256) as u8).collect(),
    };
    let framing = match rng.below(10) {
        0..=3 => 0,
        4..=6 => 1,
        _ => 2,
    };
    let chunked = framing == 2
        || matches!(
            twist,
            Twist::LengthAndChunked | Twist::OddCoding | Twist::ChunkSizeJunk | Twist::TrailerJunk
        );
    if framing == 0 && !chunked {
        body.clear();
    }
    if chunked && http10 {
        *clean = false;
    }
    // (Not for `OPTIONS *`: the server answers that without reading the
    // body, and so closes rather than leave the client waiting for a 100.)
    if rng.percent(5) && !body.is_empty() && target != b"*" {
        fields.push((b"Expect".to_vec(), b"100-continue".to_vec()));
    }
    let length = body.len().to_string().into_bytes();
    if !chunked && framing == 1 {
        match twist {
            Twist::ConflictingLengths => {
                fields.push((b"Content-Length".to_vec(), length.clone()));
                fields.push((b"Content-Length".to_vec(), (body.len() + 1).to_string().into_bytes()));
            }
            Twist::BadLength => {
                let bad: &[u8] = rng.choose(&[
                    &b"+5"[..],
                    b"-1",
                    b"0x5",
                    b"5 5",
                    b"",
                    b"99999999999999999999",
                    b"5,",
                    b"1e2",
                ]);
                fields.push((b"Content-Length".to_vec(), bad.to_vec()));
            }
            _ => {
                let value = match rng.below(8) {
                    0 => [&length[..], b", ", &length].concat(),
                    1 => [&b"00"[..], &length].concat(),
                    _ => length.clone(),
                };
                fields.push((b"Content-Length".to_vec(), value));
                if rng.percent(5) {
                    fields.push((b"content-length".to_vec(), length.clone()));
                }
            }
        }
    }
    if chunked {
        let coding: &[u8] = match twist {
            Twist::OddCoding => rng.choose(&[
                &b"gzip, chunked"[..],
                b"chunked, gzip",
                b"chunked;a=b",
                b"\"chunked\"",
                b"chunked, chunked",
                b"identity",
                b"xchunked",
                b"",
            ]),
            _ => rng.choose(&[&b"chunked"[..], b"Chunked", b"CHUNKED", b" chunked ", b", chunked"]),
        };
        fields.push((b"Transfer-Encoding".to_vec(), coding.to_vec()));
        if twist == Twist::LengthAndChunked {
            let at = rng.below(fields.len() + 1);
            fields.insert(at, (b"Content-Length".to_vec(), length.clone()));
        }
    }
    if twist == Twist::Oversized {
        match rng.below(2) {
            0 => fields.push((b"X-Big".to_vec(), vec![b'b'; 8 * 1024])),
            _ => fields.extend((0..101).map(|n| (format!("X-{n}").into_bytes(), b"1".to_vec()))),
        }
    }
    // Shuffle a little: framing headers are not always last.
    if fields.len() > 1 && rng.percent(50) {
        let a = rng.below(fields.len());
        let b = rng.below(fields.len());
        fields.swap(a, b);
    }
    for (n, (name, value)) in fields.iter().enumerate() {
        let broken = n + 1 == fields.len();
        let ows: &[u8] = rng.choose(&[&b" "[..], b" ", b"", b"\t", b"  "]);
        let header = |out: &mut Vec<u8>, name: &[u8], value: &[u8]| {
            out.extend_from_slice(name);
            out.push(b':');
            out.extend_from_slice(ows);
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        };
        match twist {
            Twist::ValueControl if broken => {
                let mut value = value.clone();
                let at = rng.below(value.len() + 1);
                value.insert(at, *rng.pick(b"\0\r\n\x7f\x1b\x01\x0b"));
                header(out, name, &value);
            }
            Twist::NameJunk if broken => match rng.below(4) {
                0 => header(out, &[name, &b" "[..]].concat(), value),
                1 => header(out, b"", value),
                2 => {
                    header(out, name, value);
                    out.extend_from_slice(b" folded\r\n");
                }
                _ => header(out, b"X[A]", value),
            },
            _ => header(out, name, value),
        }
    }
    out.extend_from_slice(b"\r\n");

    if chunked {
        let mut rest = &body[..];
        while !rest.is_empty() {
            let size = 1 + rng.below(rest.len());
            let size_text = if rng.percent(20) { format!("{size:04X}") } else { format!("{size:x}") };
            out.extend_from_slice(size_text.as_bytes());
            if twist == Twist::ChunkSizeJunk && rng.percent(50) {
                out.extend_from_slice(rng.choose(&[
                    &b" junk"[..],
                    b" ",
                    b";",
                    b"; a b",
                    b";a=",
                    b"\n",
                    b";a=\"x",
                    b" =x",
                ]));
            } else {
                extension(rng, out);
            }
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(&rest[..size]);
            out.extend_from_slice(b"\r\n");
            rest = &rest[size..];
        }
        out.extend_from_slice(if rng.percent(10) { b"000" } else { b"0" });
        if twist == Twist::ChunkSizeJunk {
            out.extend_from_slice(rng.choose(&[&b" x"[..], b"\t", b";=", b";a=\"\x01\""]));
        } else {
            extension(rng, out);
        }
        out.extend_from_slice(b"\r\n");
        for _ in 0..rng.below(3) {
            out.extend_from_slice(b"X-Trailer: ");
            out.extend_from_slice(&value(rng, 12));
            out.extend_from_slice(b"\r\n");
        }
        if twist == Twist::TrailerJunk {
            let junk = format!("GET /trailer{id:x}r{i} HTTP/1.1");
            let junk: &[u8] = rng.choose(&[
                junk.as_bytes(),
                b": x",
                b"X : y",
                b" folded",
                b"X: \0",
                b"nocolon",
                b"X: a\nY: b",
            ]);
            out.extend_from_slice(junk);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
    } else if twist == Twist::ShortBody && !body.is_empty() {
        out.extend_from_slice(&body[..body.len() - 1]);
    } else {
        out.extend_from_slice(&body);
    }
    if twist == Twist::BareLf {
        // Turn one CRLF of this request into a bare LF.
        let crlfs: Vec<usize> = out[start..]
            .windows(2)
            .enumerate()
            .filter(|(_, w)| w == b"\r\n")
            .map(|(n, _)| start + n)
            .collect();
        if !crlfs.is_empty() {
            let at = *rng.pick(&crlfs);
            out.remove(at);
        }
    }
}

/// Sometimes a valid chunk extension.
fn extension(rng: &mut Rng, out: &mut Vec<u8>) {
    if rng.percent(15) {
        out.extend_from_slice(rng.choose(&[
            &b";a"[..],
            b" ;a=b",
            b";a = b ; c",
            b"\t;n=\"q;u\\\"o te\"",
            b";x=\"\"",
        ]));
    }
}
