//! A tiny JSON parser and the checks every exported trace must pass:
//! well-formed JSON, each flow's two ends bound to slices on their track,
//! no two `X` slices on a track overlapping unless one holds the other.
//! Hand-written so the tests need no JSON library.

#![allow(dead_code)]

use std::collections::HashMap;

/// A parsed JSON value.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Number(f64),
    Text(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(fields) => fields.iter().find(|(name, _)| name == key).map(|(_, value)| value),
            _ => None,
        }
    }

    pub fn str(&self, key: &str) -> Option<&str> {
        match self.get(key) {
            Some(Json::Text(text)) => Some(text),
            _ => None,
        }
    }

    pub fn num(&self, key: &str) -> Option<f64> {
        match self.get(key) {
            Some(Json::Number(number)) => Some(*number),
            _ => None,
        }
    }
}

/// Parses a whole document; `Err` says where it went wrong.
pub fn parse(text: &str) -> Result<Json, String> {
    let mut parser = Parser { bytes: text.as_bytes(), at: 0 };
    let value = parser.value()?;
    parser.space();
    if parser.at != parser.bytes.len() {
        return Err(format!("trailing characters at byte {}", parser.at));
    }
    Ok(value)
}

struct Parser<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn space(&mut self) {
        while self.at < self.bytes.len() && matches!(self.bytes[self.at], b' ' | b'\n' | b'\r' | b'\t') {
            self.at += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Result<(), String> {
        self.space();
        if self.bytes.get(self.at) == Some(&byte) {
            self.at += 1;
            Ok(())
        } else {
            Err(format!("expected {:?} at byte {}", byte as char, self.at))
        }
    }

    fn value(&mut self) -> Result<Json, String> {
        self.space();
        match self.bytes.get(self.at) {
            Some(b'{') => {
                self.at += 1;
                let mut fields = Vec::new();
                self.space();
                if self.bytes.get(self.at) == Some(&b'}') {
                    self.at += 1;
                    return Ok(Json::Object(fields));
                }
                loop {
                    self.space();
                    let Json::Text(key) = self.string()? else { unreachable!() };
                    self.expect(b':')?;
                    fields.push((key, self.value()?));
                    self.space();
                    match self.bytes.get(self.at) {
                        Some(b',') => self.at += 1,
                        Some(b'}') => {
                            self.at += 1;
                            return Ok(Json::Object(fields));
                        }
                        _ => return Err(format!("expected , or }} at byte {}", self.at)),
                    }
                }
            }
            Some(b'[') => {
                self.at += 1;
                let mut items = Vec::new();
                self.space();
                if self.bytes.get(self.at) == Some(&b']') {
                    self.at += 1;
                    return Ok(Json::Array(items));
                }
                loop {
                    items.push(self.value()?);
                    self.space();
                    match self.bytes.get(self.at) {
                        Some(b',') => self.at += 1,
                        Some(b']') => {
                            self.at += 1;
                            return Ok(Json::Array(items));
                        }
                        _ => return Err(format!("expected , or ] at byte {}", self.at)),
                    }
                }
            }
            Some(b'"') => self.string(),
            Some(b't') => self.word("true", Json::Bool(true)),
            Some(b'f') => self.word("false", Json::Bool(false)),
            Some(b'n') => self.word("null", Json::Null),
            Some(b'-' | b'0'..=b'9') => {
                let start = self.at;
                while self.at < self.bytes.len()
                    && matches!(self.bytes[self.at], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                {
                    self.at += 1;
                }
                let text = std::str::from_utf8(&self.bytes[start..self.at]).map_err(|e| e.to_string())?;
                text.parse().map(Json::Number).map_err(|_| format!("bad number {text:?} at byte {start}"))
            }
            _ => Err(format!("unexpected input at byte {}", self.at)),
        }
    }

    fn word(&mut self, word: &str, value: Json) -> Result<Json, String> {
        if self.bytes[self.at..].starts_with(word.as_bytes()) {
            self.at += word.len();
            Ok(value)
        } else {
            Err(format!("bad literal at byte {}", self.at))
        }
    }

    fn string(&mut self) -> Result<Json, String> {
        if self.bytes.get(self.at) != Some(&b'"') {
            return Err(format!("expected a string at byte {}", self.at));
        }
        self.at += 1;
        let mut text = String::new();
        loop {
            match self.bytes.get(self.at) {
                None => return Err("unterminated string".into()),
                Some(b'"') => {
                    self.at += 1;
                    return Ok(Json::Text(text));
                }
                Some(b'\\') => {
                    let escaped = self.bytes.get(self.at + 1).ok_or("unterminated escape")?;
                    match escaped {
                        b'"' => text.push('"'),
                        b'\\' => text.push('\\'),
                        b'/' => text.push('/'),
                        b'n' => text.push('\n'),
                        b'r' => text.push('\r'),
                        b't' => text.push('\t'),
                        b'b' => text.push('\u{8}'),
                        b'f' => text.push('\u{c}'),
                        b'u' => {
                            let hex = std::str::from_utf8(&self.bytes[self.at + 2..self.at + 6])
                                .map_err(|e| e.to_string())?;
                            let code = u32::from_str_radix(hex, 16).map_err(|e| e.to_string())?;
                            text.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                            self.at += 4;
                        }
                        other => return Err(format!("bad escape \\{} at byte {}", *other as char, self.at)),
                    }
                    self.at += 2;
                }
                Some(&byte) if byte < 0x20 => {
                    return Err(format!("raw control character at byte {}", self.at))
                }
                Some(_) => {
                    let rest = std::str::from_utf8(&self.bytes[self.at..]).map_err(|e| e.to_string())?;
                    let c = rest.chars().next().ok_or("empty")?;
                    text.push(c);
                    self.at += c.len_utf8();
                }
            }
        }
    }
}

/// A slice on a track, in microseconds.
#[derive(Debug, Clone)]
pub struct Slice {
    pub name: String,
    pub cat: String,
    pub start: f64,
    pub end: f64,
    pub args: Json,
}

/// One end of a flow: phase (`s`/`f`), track, time, binding point.
type FlowEnd = (String, u64, f64, Option<String>);

/// What a checked trace contains, for tests to look into.
#[derive(Debug, Default)]
pub struct Checked {
    pub events: Vec<Json>,
    /// `X` slices per track (tid), sorted by start.
    pub slices: HashMap<u64, Vec<Slice>>,
    /// Flows whose two ends passed the checks.
    pub flows: usize,
}

/// Parses `text` and checks what every eddy trace must satisfy; panics
/// with the reason otherwise.
pub fn check(text: &str) -> Checked {
    let document = parse(text).unwrap_or_else(|error| panic!("the trace is not valid JSON: {error}"));
    let Some(Json::Array(events)) = document.get("traceEvents") else {
        panic!("the trace has no traceEvents array");
    };
    let mut checked = Checked::default();
    let mut flows: HashMap<u64, Vec<FlowEnd>> = HashMap::new();
    let mut asyncs: HashMap<u64, i32> = HashMap::new();
    for event in events {
        let ph = event.str("ph").expect("every event has a ph");
        let tid = event.num("tid").expect("every event has a tid") as u64;
        assert!(event.num("pid").is_some(), "every event has a pid: {event:?}");
        if ph != "M" {
            assert!(event.num("ts").is_some(), "every event but metadata has a ts: {event:?}");
        }
        match ph {
            "X" => {
                let start = event.num("ts").unwrap();
                let duration = event.num("dur").expect("an X slice has a dur");
                assert!(duration > 0.0, "a slice has a length: {event:?}");
                checked.slices.entry(tid).or_default().push(Slice {
                    name: event.str("name").expect("a slice has a name").to_string(),
                    cat: event.str("cat").unwrap_or("").to_string(),
                    start,
                    end: start + duration,
                    args: event.get("args").cloned().unwrap_or(Json::Null),
                });
            }
            "s" | "f" => {
                let id = event.num("id").expect("a flow has an id") as u64;
                flows.entry(id).or_default().push((
                    ph.to_string(),
                    tid,
                    event.num("ts").unwrap(),
                    event.str("bp").map(str::to_string),
                ));
            }
            "b" => *asyncs.entry(event.num("id").expect("an async event has an id") as u64).or_default() += 1,
            "e" => *asyncs.entry(event.num("id").expect("an async event has an id") as u64).or_default() -= 1,
            "i" | "C" | "M" => {}
            other => panic!("unexpected event type {other:?}"),
        }
    }
    for slices in checked.slices.values_mut() {
        slices.sort_by(|a, b| a.start.partial_cmp(&b.start).unwrap());
        // Slices on one track nest or follow each other, never cross.
        let mut open: Vec<&Slice> = Vec::new();
        for slice in slices.iter() {
            while open.last().is_some_and(|outer| outer.end <= slice.start + 1e-9) {
                open.pop();
            }
            if let Some(outer) = open.last() {
                assert!(slice.end <= outer.end + 1e-9, "slices overlap on a track: {outer:?} and {slice:?}");
            }
            open.push(slice);
        }
    }
    let inside = |tid: u64, ts: f64| {
        checked.slices.get(&tid).is_some_and(|slices| slices.iter().any(|s| s.start <= ts && ts < s.end))
    };
    for (id, ends) in &flows {
        assert_eq!(ends.len(), 2, "flow {id} has exactly two ends: {ends:?}");
        let start = ends.iter().find(|end| end.0 == "s").expect("a flow starts");
        let finish = ends.iter().find(|end| end.0 == "f").expect("a flow ends");
        assert!(inside(start.1, start.2), "flow {id} starts inside a slice: {start:?}");
        assert!(inside(finish.1, finish.2), "flow {id} ends inside a slice: {finish:?}");
        assert_eq!(finish.3.as_deref(), Some("e"), "flow {id} binds to its enclosing slice");
        assert!(start.2 <= finish.2, "flow {id} goes forward in time");
    }
    checked.flows = flows.len();
    for (id, balance) in asyncs {
        assert!((0..=1).contains(&balance), "task lifetime {id} ends at most once after it begins");
    }
    checked.events = events.clone();
    checked
}
