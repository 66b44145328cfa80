//! Routing: path patterns with `{param}` segments, matched without
//! allocating.
//!
//! A pattern is split into segments at `/`: `/users/{id}/posts` is
//! `[Static("users"), Param("id"), Static("posts")]`. A request path is split
//! the same way (still percent-encoded, so an encoded `%2F` stays inside its
//! segment) and compared segment by segment; a parameter matches any
//! non-empty segment. Matching only compares slices of the path and records
//! where each parameter's value starts and ends.
//!
//! When several patterns match, the more specific wins: at the first
//! segment where they differ, a static segment beats a parameter (so
//! `/about` beats `/{name}` whatever the order of registration). If the best
//! match has no handler for the method, the next best is tried, as aiohttp
//! does; if none has one, the answer is 405 with the union of their methods.

use crate::http::method::Method;

/// Most parameters in one pattern. The spans live inline in the request,
/// so this bounds its size; 8 is far more than routes use in practice.
pub(crate) const MAX_PARAMS: usize = 8;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Static(Box<str>),
    Param,
}

/// One pattern and its handlers by method.
pub(crate) struct Resource<H> {
    pub(crate) pattern: Box<str>,
    segments: Vec<Segment>,
    /// Names of the parameters, in order of appearance.
    pub(crate) param_names: Vec<Box<str>>,
    handlers: Vec<(Method, H)>,
    /// The methods in `handlers`, one bit each ([`Method::bit`]).
    methods: u16,
}

/// Where each parameter's value sits in the path, in pattern order.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ParamSpans {
    pub(crate) spans: [(u32, u32); MAX_PARAMS],
    pub(crate) len: usize,
}

/// The outcome of routing one request.
pub(crate) enum Routed<'r, H> {
    /// The parameters' positions are in the `ParamSpans` given to `route`.
    Found {
        resource: usize,
        handler: &'r H,
    },
    /// The path exists but not for this method: the methods it has.
    MethodNotAllowed {
        allowed: u16,
    },
    NotFound,
    /// `OPTIONS *` (RFC 9112 §3.2.4), a question about the server as a
    /// whole: the methods any route answers, for the `Allow` header.
    Asterisk {
        allowed: u16,
    },
}

/// All of an app's resources.
pub(crate) struct Router<H> {
    resources: Vec<Resource<H>>,
}

impl<H> Default for Router<H> {
    fn default() -> Router<H> {
        Router { resources: Vec::new() }
    }
}

impl<H> Router<H> {
    /// Adds `handler` for `method` on `pattern`.
    ///
    /// # Panics
    /// On a malformed pattern or a duplicate (pattern, method): these are
    /// programming errors, caught when the app is built.
    pub(crate) fn add(&mut self, method: Method, pattern: &str, handler: H) {
        let (segments, param_names) = parse_pattern(pattern);
        if let Some(resource) = self.resources.iter_mut().find(|r| r.segments == segments) {
            assert!(
                !resource.handlers.iter().any(|(m, _)| *m == method),
                "route {method} {pattern} is registered twice"
            );
            assert!(
                resource.param_names == param_names,
                "routes {} and {pattern} differ only in parameter names",
                resource.pattern
            );
            resource.handlers.push((method, handler));
            resource.methods |= method.bit();
            return;
        }
        self.resources.push(Resource {
            pattern: pattern.into(),
            segments,
            param_names,
            handlers: vec![(method, handler)],
            methods: method.bit(),
        });
    }

    pub(crate) fn resource(&self, index: usize) -> &Resource<H> {
        &self.resources[index]
    }

    /// Every resource, for building per-loop copies.
    pub(crate) fn resources(&self) -> &[Resource<H>] {
        &self.resources
    }

    /// Routes `method` on `path` (the raw path, without the query). An
    /// empty path (from `http://host`) is `/`; the path `*` (which the
    /// parser lets through only for OPTIONS) is the server itself. Where
    /// the found route's parameters are in `path` goes into `params` (by
    /// reference: returned by value, the spans were copied three times on
    /// their way out, a tenth of routing's cost).
    #[inline]
    pub(crate) fn route(&self, method: Method, path: &[u8], params: &mut ParamSpans) -> Routed<'_, H> {
        if path == b"*" {
            let allowed = self.resources.iter().fold(0, |set, r| set | r.methods);
            return Routed::Asterisk { allowed: with_implied_head(allowed) };
        }
        let path = if path.is_empty() { &b"/"[..] } else { path };
        // Filled in place: returned by value, its 136 bytes were copied.
        let mut split = SplitPath { bounds: [(0, 0); SPLIT_SEGMENTS], len: 0 };
        if !split.fill(path) {
            return self.route_long(method, path, params);
        }
        let mut best: Option<(usize, u64)> = None;
        let mut allowed = 0u16;
        // Rank every matching resource; keep the most specific one that has
        // a handler for the method. Resources are few, so a scan is cheap
        // and allocation-free: the path was split once, and a resource
        // with another number of segments is passed over on a comparison.
        for (index, resource) in self.resources.iter().enumerate() {
            let Some(rank) = split.rank(&resource.segments, path) else { continue };
            allowed |= resource.methods;
            if !resource.answers(method) {
                continue;
            }
            if best.is_none_or(|(_, best_rank)| rank > best_rank) {
                best = Some((index, rank));
            }
        }
        match best {
            Some((index, _)) => {
                let resource = &self.resources[index];
                split.record(&resource.segments, params);
                self.found(index, method, allowed)
            }
            None => self.not_found(allowed),
        }
    }

    /// [`route`](Self::route) for a path of more than [`SPLIT_SEGMENTS`]
    /// segments: each resource matched against the path on its own.
    fn route_long(&self, method: Method, path: &[u8], params: &mut ParamSpans) -> Routed<'_, H> {
        let mut best: Option<(usize, u64)> = None;
        let mut allowed = 0u16;
        for (index, resource) in self.resources.iter().enumerate() {
            let Some(rank) = match_segments(&resource.segments, path, None) else { continue };
            allowed |= resource.methods;
            if resource.answers(method) && best.is_none_or(|(_, best_rank)| rank > best_rank) {
                best = Some((index, rank));
            }
        }
        match best {
            Some((index, _)) => {
                params.len = 0;
                let _ = match_segments(&self.resources[index].segments, path, Some(params));
                self.found(index, method, allowed)
            }
            None => self.not_found(allowed),
        }
    }

    fn found(&self, index: usize, method: Method, allowed: u16) -> Routed<'_, H> {
        match self.resources[index].handler_for(method) {
            Some(handler) => Routed::Found { resource: index, handler },
            // `answers` said it has one.
            None => self.not_found(allowed),
        }
    }

    fn not_found(&self, allowed: u16) -> Routed<'_, H> {
        if allowed != 0 {
            Routed::MethodNotAllowed { allowed: with_implied_head(allowed) }
        } else {
            Routed::NotFound
        }
    }
}

/// Most segments a path is split into on the stack; a longer path (rare)
/// is matched resource by resource instead.
const SPLIT_SEGMENTS: usize = 16;

/// A path split once at its `/`s: where each segment starts and ends.
struct SplitPath {
    bounds: [(u32, u32); SPLIT_SEGMENTS],
    len: usize,
}

impl SplitPath {
    /// Splits `path`, which starts with `/` (anything else matches no
    /// pattern: an empty split), into this empty split. False if it has
    /// too many segments.
    fn fill(&mut self, path: &[u8]) -> bool {
        if path.first() != Some(&b'/') {
            return true;
        }
        let mut start = 1;
        for (at, &byte) in path.iter().enumerate().skip(1) {
            if byte == b'/' {
                let Some(bounds) = self.bounds.get_mut(self.len) else { return false };
                *bounds = (start as u32, at as u32);
                self.len += 1;
                start = at + 1;
            }
        }
        let Some(bounds) = self.bounds.get_mut(self.len) else { return false };
        *bounds = (start as u32, path.len() as u32);
        self.len += 1;
        true
    }

    #[inline(always)]
    fn segments(&self) -> &[(u32, u32)] {
        &self.bounds[..self.len]
    }

    /// The rank (see [`match_segments`]) of pattern `segments` against
    /// this path, or `None` if it does not match. Inlined: called once per
    /// resource, and as a call its register saves and restores were half
    /// its cost.
    #[inline(always)]
    fn rank(&self, segments: &[Segment], path: &[u8]) -> Option<u64> {
        let values = self.segments();
        if segments.is_empty() {
            // `/`: one empty segment.
            return matches!(values, [(start, end)] if start == end).then_some(0);
        }
        if segments.len() != values.len() {
            return None;
        }
        let mut rank = 0u64;
        for (i, (segment, &(start, end))) in segments.iter().zip(values).enumerate() {
            match segment {
                Segment::Static(text) if &path[start as usize..end as usize] == text.as_bytes() => {
                    if i < 64 {
                        rank |= 1 << (63 - i);
                    }
                }
                Segment::Param if start != end => {}
                _ => return None,
            }
        }
        Some(rank)
    }

    /// Records where the parameters of matching pattern `segments` are.
    fn record(&self, segments: &[Segment], params: &mut ParamSpans) {
        params.len = 0;
        for (segment, &bounds) in segments.iter().zip(self.segments()) {
            if matches!(segment, Segment::Param) {
                params.spans[params.len] = bounds;
                params.len += 1;
            }
        }
    }
}

impl<H> Resource<H> {
    /// Whether there is a handler for `method` (HEAD: or GET).
    fn answers(&self, method: Method) -> bool {
        let wanted =
            if method == Method::Head { Method::Head.bit() | Method::Get.bit() } else { method.bit() };
        self.methods & wanted != 0
    }

    /// The handler for `method`; HEAD falls back to GET.
    fn handler_for(&self, method: Method) -> Option<&H> {
        let find = |wanted: Method| self.handlers.iter().find(|(m, _)| *m == wanted).map(|(_, h)| h);
        find(method).or_else(|| if method == Method::Head { find(Method::Get) } else { None })
    }
}

/// GET routes answer HEAD too, so `Allow` says so.
fn with_implied_head(allowed: u16) -> u16 {
    if allowed & Method::Get.bit() != 0 {
        allowed | Method::Head.bit()
    } else {
        allowed
    }
}

/// Formats a method set as an `Allow` header value: `GET, HEAD, POST`.
pub(crate) fn allow_header(allowed: u16) -> String {
    Method::ALL.iter().filter(|m| allowed & m.bit() != 0).map(|m| m.as_str()).collect::<Vec<_>>().join(", ")
}

/// The answer to `OPTIONS *`: `200 OK`, the methods in `Allow`, no body.
pub(crate) fn asterisk_response(allowed: u16) -> crate::Response {
    crate::Response::empty(crate::StatusCode::OK).with_header("Allow", allow_header(allowed))
}

/// Matches a path against pattern segments. Returns a rank: one bit per
/// segment, set for a static match, most significant first, so "static
/// beats parameter at the first difference" is `>`. Records where each
/// parameter's value is in `path` if given `params` (emptied by the
/// caller).
fn match_segments(segments: &[Segment], path: &[u8], mut params: Option<&mut ParamSpans>) -> Option<u64> {
    let rest = path.strip_prefix(b"/")?;
    if segments.is_empty() {
        return rest.is_empty().then_some(0);
    }
    let mut rank = 0u64;
    // Where the current segment starts in `path`; one past the end once
    // every segment of the path has been used.
    let mut at = 1;
    for (i, segment) in segments.iter().enumerate() {
        if at > path.len() {
            return None;
        }
        let end = path[at..].iter().position(|&b| b == b'/').map_or(path.len(), |p| at + p);
        let value = &path[at..end];
        match segment {
            Segment::Static(text) if value == text.as_bytes() => {
                if i < 64 {
                    rank |= 1 << (63 - i);
                }
            }
            Segment::Param if !value.is_empty() => {
                if let Some(params) = params.as_deref_mut() {
                    params.spans[params.len] = (at as u32, end as u32);
                    params.len += 1;
                }
            }
            _ => return None,
        }
        at = end + 1;
    }
    // Every segment of the path must have been used.
    (at == path.len() + 1).then_some(rank)
}

fn parse_pattern(pattern: &str) -> (Vec<Segment>, Vec<Box<str>>) {
    assert!(pattern.starts_with('/'), "route pattern {pattern:?} must start with '/'");
    let mut segments = Vec::new();
    let mut names: Vec<Box<str>> = Vec::new();
    if pattern == "/" {
        return (segments, names);
    }
    for text in pattern[1..].split('/') {
        if let Some(name) = text.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
            assert!(
                !name.is_empty() && !name.contains(['{', '}']),
                "route pattern {pattern:?}: bad parameter segment {text:?}"
            );
            assert!(!names.iter().any(|n| &**n == name), "route pattern {pattern:?} repeats {{{name}}}");
            names.push(name.into());
            segments.push(Segment::Param);
        } else {
            assert!(
                !text.contains(['{', '}']),
                "route pattern {pattern:?}: a segment is either literal or a whole {{param}}, not {text:?}"
            );
            segments.push(Segment::Static(text.into()));
        }
    }
    assert!(names.len() <= MAX_PARAMS, "route pattern {pattern:?} has more than {MAX_PARAMS} parameters");
    (segments, names)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router() -> Router<&'static str> {
        let mut router = Router::default();
        router.add(Method::Get, "/", "root");
        router.add(Method::Get, "/{name}", "greet");
        router.add(Method::Get, "/about", "about");
        router.add(Method::Post, "/items/{id}", "update");
        router.add(Method::Get, "/items/{id}/tags/{tag}", "tag");
        router
    }

    /// Routes with fresh parameter spans.
    fn route<'r>(
        router: &'r Router<&'static str>,
        method: Method,
        path: &[u8],
    ) -> (Routed<'r, &'static str>, ParamSpans) {
        let mut params = ParamSpans::default();
        let routed = router.route(method, path, &mut params);
        (routed, params)
    }

    fn found((routed, params): (Routed<'_, &'static str>, ParamSpans)) -> (&'static str, Vec<(u32, u32)>) {
        match routed {
            Routed::Found { handler, .. } => (*handler, params.spans[..params.len].to_vec()),
            Routed::MethodNotAllowed { allowed } => panic!("405, allowed {}", allow_header(allowed)),
            Routed::NotFound => panic!("404"),
            Routed::Asterisk { .. } => panic!("asterisk"),
        }
    }

    #[test]
    fn an_empty_path_is_the_root_and_the_asterisk_lists_every_method() {
        let router = router();
        assert_eq!(found(route(&router, Method::Get, b"")).0, "root");
        match route(&router, Method::Options, b"*").0 {
            Routed::Asterisk { allowed } => assert_eq!(allow_header(allowed), "GET, HEAD, POST"),
            _ => panic!("expected the asterisk"),
        }
    }

    #[test]
    fn static_segments_beat_parameters_whatever_the_order() {
        let router = router();
        assert_eq!(found(route(&router, Method::Get, b"/")).0, "root");
        assert_eq!(found(route(&router, Method::Get, b"/about")).0, "about");
        assert_eq!(found(route(&router, Method::Get, b"/alice")), ("greet", vec![(1, 6)]));
    }

    #[test]
    fn parameters_record_where_their_values_are() {
        let router = router();
        let (handler, spans) = found(route(&router, Method::Get, b"/items/42/tags/red"));
        assert_eq!(handler, "tag");
        assert_eq!(spans, vec![(7, 9), (15, 18)]);
    }

    #[test]
    fn unknown_paths_and_wrong_methods() {
        let router = router();
        assert!(matches!(route(&router, Method::Get, b"/a/b").0, Routed::NotFound));
        assert!(matches!(route(&router, Method::Get, b"/alice/").0, Routed::NotFound));
        assert!(matches!(route(&router, Method::Get, b"//").0, Routed::NotFound));
        match route(&router, Method::Get, b"/items/1").0 {
            Routed::MethodNotAllowed { allowed } => assert_eq!(allow_header(allowed), "POST"),
            _ => panic!("expected 405"),
        }
        match route(&router, Method::Delete, b"/about").0 {
            Routed::MethodNotAllowed { allowed } => assert_eq!(allow_header(allowed), "GET, HEAD"),
            _ => panic!("expected 405"),
        }
    }

    #[test]
    fn a_path_too_long_to_split_on_the_stack_routes_the_same() {
        let mut router = router();
        let many = format!("/{}", ["s"; SPLIT_SEGMENTS].join("/"));
        router.add(Method::Get, &format!("{many}/{{last}}"), "long");
        let path = format!("{many}/end");
        let (handler, spans) = found(route(&router, Method::Get, path.as_bytes()));
        assert_eq!((handler, spans), ("long", vec![(path.len() as u32 - 3, path.len() as u32)]));
        assert!(matches!(route(&router, Method::Get, format!("{many}/").as_bytes()).0, Routed::NotFound));
        assert!(matches!(route(&router, Method::Post, path.as_bytes()).0, Routed::MethodNotAllowed { .. }));
    }

    #[test]
    fn a_trailing_slash_is_a_segment_of_its_own() {
        let mut router = router();
        router.add(Method::Get, "/dir/", "dir");
        assert_eq!(found(route(&router, Method::Get, b"/dir/")).0, "dir");
        assert_eq!(found(route(&router, Method::Get, b"/dir")).0, "greet");
        assert!(matches!(route(&router, Method::Get, b"/dir//").0, Routed::NotFound));
        assert!(matches!(route(&router, Method::Get, b"relative").0, Routed::NotFound));
    }

    #[test]
    fn head_is_served_by_get() {
        assert_eq!(found(route(&router(), Method::Head, b"/bob")).0, "greet");
    }

    #[test]
    #[should_panic(expected = "registered twice")]
    fn duplicate_routes_are_refused() {
        let mut router = router();
        router.add(Method::Get, "/about", "again");
    }
}
