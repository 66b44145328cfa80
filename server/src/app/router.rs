//! Routing: path patterns with `{param}` segments, matched without
//! allocating.
//!
//! A pattern is split into segments at `/`: `/users/{id}/posts` is
//! `[Static("users"), Param("id"), Static("posts")]` (and `/` is one empty
//! static segment). When the app is built, the patterns are merged into a
//! tree with one node per distinct prefix of segments:
//!
//! ```text
//!   root ─ "" ────────── `/`
//!        ├ "about" ───── `/about`
//!        ├ "items" ─ {} ─ `/items/{id}`
//!        └ {} ────────── `/{name}`
//! ```
//!
//! A request path (still percent-encoded, so an encoded `%2F` stays inside
//! its segment) is matched by walking the tree from the root, one segment
//! at a time: a segment goes to the child with its exact text first, and
//! to the parameter child (which takes any non-empty segment) if that
//! fails. So a request costs one look at each segment and at the few
//! children it could go to, however many routes the app has; no route is
//! compared with the path as a whole and nothing is allocated. Matching
//! records where each parameter's value starts and ends.
//!
//! When several patterns match, the more specific wins: at the first
//! segment where they differ, a static segment beats a parameter (so
//! `/about` beats `/{name}` whatever the order of registration). Trying
//! the literal child before the parameter child visits the matches in
//! exactly that order, so the first match that answers the method is the
//! best one. If the best match has no handler for the method, the walk goes
//! on to the next best, as aiohttp does; if none has one, the answer is 405
//! with the union of their methods. Each node is reached by one way only,
//! so a walk visits every node at most once: its cost is bounded by the
//! size of the tree, never exponential in the path.

use crate::http::method::Method;
use crate::http::plain::position_of;
use crate::server::pool::Span;

/// Most parameters in one pattern. The spans are recorded in a fixed
/// array, so this bounds its size; 8 is far more than routes use in
/// practice.
pub(crate) const MAX_PARAMS: usize = 8;

/// How many methods there are: the size of a resource's handler table.
const METHODS: usize = Method::ALL.len();

/// Up to this many literal children, a node is searched in order (a
/// length comparison rejects most at once); beyond, by binary search.
/// Picked, not tuned: the point is only that a node with hundreds of
/// literal children does not cost hundreds of comparisons.
const LINEAR_CHILDREN: usize = 8;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Static(Box<str>),
    Param,
}

/// One pattern and its handlers by method.
pub(crate) struct Resource<H> {
    pub(crate) pattern: Box<str>,
    /// Names of the parameters, in order of appearance.
    pub(crate) param_names: Vec<Box<str>>,
    /// The handler for each method, at `method as usize`: found with an
    /// index, not a search.
    handlers: [Option<H>; METHODS],
    /// The methods in `handlers`, one bit each ([`Method::bit`]).
    methods: u16,
}

/// A node of the routing tree: one distinct prefix of segments.
#[derive(Default)]
struct Node {
    /// Children by literal segment text, sorted by it.
    statics: Vec<(Box<[u8]>, usize)>,
    /// The child for a `{param}` segment: any non-empty segment.
    param: Option<usize>,
    /// The resource whose pattern ends here.
    resource: Option<usize>,
}

impl Node {
    /// The literal child for `segment`, if there is one.
    #[inline]
    fn static_child(&self, segment: &[u8]) -> Option<usize> {
        if self.statics.len() <= LINEAR_CHILDREN {
            self.statics.iter().find(|(text, _)| short_eq(text, segment)).map(|&(_, child)| child)
        } else {
            let at = self.statics.binary_search_by(|(text, _)| (**text).cmp(segment)).ok()?;
            Some(self.statics[at].1)
        }
    }
}

/// Where each parameter's value sits in the path, in pattern order.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ParamSpans {
    pub(crate) spans: [(u32, u32); MAX_PARAMS],
    pub(crate) len: usize,
}

impl ParamSpans {
    /// No parameters (for a `const` value; `Default` is the same).
    pub(crate) const EMPTY: ParamSpans = ParamSpans { spans: [(0, 0); MAX_PARAMS], len: 0 };

    /// Where parameter `index` is in the target, the path being at `path`
    /// there (the spans are relative to the path); `None` past the last.
    #[inline(always)]
    pub(crate) fn in_target(&self, index: usize, path: Span) -> Option<Span> {
        match self.spans.get(index) {
            Some(&(start, end)) if index < self.len => {
                Some(Span { start: path.start + start, end: path.start + end })
            }
            _ => None,
        }
    }
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

/// All of an app's resources, and the tree that finds them.
pub(crate) struct Router<H> {
    resources: Vec<Resource<H>>,
    /// The tree; `nodes[0]` is the root (no segment matched yet).
    nodes: Vec<Node>,
    /// Every method any resource answers: the answer to `OPTIONS *`.
    methods: u16,
}

impl<H> Default for Router<H> {
    fn default() -> Router<H> {
        Router { resources: Vec::new(), nodes: vec![Node::default()], methods: 0 }
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
        let mut node = 0;
        for segment in &segments {
            node = match segment {
                Segment::Static(text) => match self.nodes[node].static_child(text.as_bytes()) {
                    Some(child) => child,
                    None => {
                        let child = self.new_node();
                        let statics = &mut self.nodes[node].statics;
                        let at = statics.partition_point(|(other, _)| **other < *text.as_bytes());
                        statics.insert(at, (text.as_bytes().into(), child));
                        child
                    }
                },
                Segment::Param => match self.nodes[node].param {
                    Some(child) => child,
                    None => {
                        let child = self.new_node();
                        self.nodes[node].param = Some(child);
                        child
                    }
                },
            };
        }
        self.methods |= method.bit();
        if let Some(index) = self.nodes[node].resource {
            let resource = &mut self.resources[index];
            assert!(
                resource.handlers[method as usize].is_none(),
                "route {method} {pattern} is registered twice"
            );
            assert!(
                resource.param_names == param_names,
                "routes {} and {pattern} differ only in parameter names",
                resource.pattern
            );
            resource.handlers[method as usize] = Some(handler);
            resource.methods |= method.bit();
            return;
        }
        // A request names its resource in 32 bits (see `Request`).
        assert!(self.resources.len() < u32::MAX as usize, "more than 2^32 - 1 routes");
        let mut handlers = [const { None }; METHODS];
        handlers[method as usize] = Some(handler);
        self.nodes[node].resource = Some(self.resources.len());
        self.resources.push(Resource {
            pattern: pattern.into(),
            param_names,
            handlers,
            methods: method.bit(),
        });
    }

    fn new_node(&mut self) -> usize {
        self.nodes.push(Node::default());
        self.nodes.len() - 1
    }

    pub(crate) fn resource(&self, index: usize) -> &Resource<H> {
        &self.resources[index]
    }

    /// Every resource, in the order they were added.
    pub(crate) fn resources(&self) -> &[Resource<H>] {
        &self.resources
    }

    /// Routes `method` on `path` (the raw path, without the query). An
    /// empty path (from `http://host`) is `/`; the path `*` (which the
    /// parser lets through only for OPTIONS) is the server itself. Where
    /// the found route's parameters are in `path` goes into `params` (by
    /// reference: returned by value, the spans were copied three times on
    /// their way out). Always inlined into its one caller, the connection:
    /// as a call, its register saves, its spills and the writing of the
    /// result through memory cost ~30 instructions per request.
    #[inline(always)]
    pub(crate) fn route(&self, method: Method, path: &[u8], params: &mut ParamSpans) -> Routed<'_, H> {
        // The usual path first: one test for an origin-form path.
        let (path, rest) = match path.strip_prefix(b"/") {
            Some(rest) => (path, rest),
            None if path.is_empty() => (&b"/"[..], &b""[..]),
            None if path == b"*" => return Routed::Asterisk { allowed: with_implied_head(self.methods) },
            None => return Routed::NotFound,
        };
        params.len = 0;
        let mut allowed = 0;
        match self.walk(0, path, Some(rest), method, params, &mut allowed) {
            // `walk` found it answers the method.
            Some((index, handler)) => Routed::Found { resource: index, handler },
            None if allowed != 0 => Routed::MethodNotAllowed { allowed: with_implied_head(allowed) },
            None => Routed::NotFound,
        }
    }

    /// Matches `rest` of `path` (what follows the `/` that starts the
    /// next segment; `None`: no segment left) against the subtree at
    /// `node`; the first resource reached that answers `method`, best
    /// first (see the module docs). The methods of every resource reached
    /// go into `allowed`, for a 405. Parameters matched on the way are
    /// pushed onto `params`.
    ///
    /// A loop that calls itself (through [`fork`](Self::fork)) only where
    /// a segment could go both ways (a literal child and the parameter
    /// child): there the literal branch is tried first, and if it finds
    /// nothing, the parameters it pushed are dropped and the walk goes on
    /// down the parameter branch. A path that meets no such fork (`/` and
    /// `/{name}` never fork: the one takes only an empty segment, the
    /// other only a non-empty one) is routed without a single call. Routing
    /// the greeting's `GET /bench` costs ~115 instructions under callgrind
    /// (inlined into the connection), against 214 for the scan of every
    /// route that this replaced.
    #[inline(always)]
    fn walk(
        &self,
        mut node: usize,
        path: &[u8],
        mut rest: Option<&[u8]>,
        method: Method,
        params: &mut ParamSpans,
        allowed: &mut u16,
    ) -> Option<(usize, &H)> {
        loop {
            let here = &self.nodes[node];
            let Some(text) = rest else {
                let index = here.resource?;
                let resource = &self.resources[index];
                *allowed |= resource.methods;
                return resource.handler_for(method).map(|handler| (index, handler));
            };
            let (segment, next) = match position_of(text, b'/') {
                Some(slash) => {
                    let (segment, from_slash) = text.split_at(slash);
                    (segment, from_slash.get(1..))
                }
                None => (text, None),
            };
            let param = here.param.filter(|_| !segment.is_empty());
            let literal = here.static_child(segment);
            let param = match (literal, param) {
                (None, None) => return None,
                (Some(literal), None) => {
                    (node, rest) = (literal, next);
                    continue;
                }
                (Some(literal), Some(param)) => {
                    let pushed = params.len;
                    if let Some(found) = self.fork(literal, path, next, method, params, allowed) {
                        return Some(found);
                    }
                    params.len = pushed;
                    param
                }
                (None, Some(param)) => param,
            };
            // A tree path holds the segments of one pattern, which has at
            // most `MAX_PARAMS` parameters: there is always room.
            let slot = params.spans.get_mut(params.len)?;
            let start = path.len() - text.len();
            *slot = (start as u32, (start + segment.len()) as u32);
            params.len += 1;
            (node, rest) = (param, next);
        }
    }

    /// The literal branch of a fork in [`walk`](Self::walk). Not inlined:
    /// the walk is inlined into its caller, and this call (rare: most
    /// routes never fork) would make it keep its registers for it.
    #[inline(never)]
    fn fork(
        &self,
        node: usize,
        path: &[u8],
        rest: Option<&[u8]>,
        method: Method,
        params: &mut ParamSpans,
        allowed: &mut u16,
    ) -> Option<(usize, &H)> {
        self.walk(node, path, rest, method, params, allowed)
    }
}

impl<H> Resource<H> {
    /// The handler for `method`; HEAD falls back to GET.
    #[inline]
    fn handler_for(&self, method: Method) -> Option<&H> {
        match &self.handlers[method as usize] {
            Some(handler) => Some(handler),
            None if method == Method::Head => self.handlers[Method::Get as usize].as_ref(),
            None => None,
        }
    }
}

/// `a == b`, written out for the short strings that path segments and
/// parameter names are: for a few bytes, a call to `bcmp` costs more than
/// the comparison, and forces the caller to save its registers around it
/// (a fifth of `Request::param`'s cost).
#[inline(always)]
pub(crate) fn short_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
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

/// Splits a pattern into segments (`/` is one empty literal segment, as
/// the path `/` is one empty segment) and the names of its parameters.
fn parse_pattern(pattern: &str) -> (Vec<Segment>, Vec<Box<str>>) {
    assert!(pattern.starts_with('/'), "route pattern {pattern:?} must start with '/'");
    let mut segments = Vec::new();
    let mut names: Vec<Box<str>> = Vec::new();
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
    fn a_long_path_routes_the_same() {
        let mut router = router();
        let many = format!("/{}", ["s"; 40].join("/"));
        router.add(Method::Get, &format!("{many}/{{last}}"), "long");
        let path = format!("{many}/end");
        let (handler, spans) = found(route(&router, Method::Get, path.as_bytes()));
        assert_eq!((handler, spans), ("long", vec![(path.len() as u32 - 3, path.len() as u32)]));
        assert!(matches!(route(&router, Method::Get, format!("{many}/").as_bytes()).0, Routed::NotFound));
        assert!(matches!(route(&router, Method::Post, path.as_bytes()).0, Routed::MethodNotAllowed { .. }));
    }

    #[test]
    fn a_more_specific_route_without_the_method_gives_way_to_the_next_best() {
        let mut router = router();
        router.add(Method::Post, "/{name}", "post-name");
        // `/about` is GET only: a POST goes on to `/{name}`.
        assert_eq!(found(route(&router, Method::Post, b"/about")), ("post-name", vec![(1, 6)]));
        assert_eq!(found(route(&router, Method::Get, b"/about")).0, "about");
        // Neither answers DELETE: 405 with the methods of both.
        match route(&router, Method::Delete, b"/about").0 {
            Routed::MethodNotAllowed { allowed } => assert_eq!(allow_header(allowed), "GET, HEAD, POST"),
            _ => panic!("expected 405"),
        }
    }

    #[test]
    fn a_failed_branch_leaves_no_parameters_behind() {
        let mut router = Router::default();
        router.add(Method::Get, "/a/{x}/c", "axc");
        router.add(Method::Get, "/{y}/b/{z}", "ybz");
        // `/a/{x}` matches the first two segments, then fails on the third;
        // `{x}` must not stay among the parameters of the route found.
        assert_eq!(found(route(&router, Method::Get, b"/a/b/d")), ("ybz", vec![(1, 2), (5, 6)]));
        assert_eq!(found(route(&router, Method::Get, b"/a/b/c")), ("axc", vec![(3, 4)]));
    }

    #[test]
    fn static_segments_beat_parameters_at_the_first_difference() {
        let mut router = Router::default();
        router.add(Method::Get, "/{a}/x/{b}", "px");
        router.add(Method::Get, "/k/{c}/{d}", "kp");
        router.add(Method::Get, "/{e}/{f}/z", "ppz");
        // All three match `/k/x/z`: the first segment decides.
        assert_eq!(found(route(&router, Method::Get, b"/k/x/z")).0, "kp");
        assert_eq!(found(route(&router, Method::Get, b"/j/x/z")).0, "px");
        assert_eq!(found(route(&router, Method::Get, b"/j/y/z")).0, "ppz");
    }

    #[test]
    fn many_literal_siblings_are_found_by_search() {
        let mut router = Router::default();
        let names: Vec<&'static str> =
            (0..3 * LINEAR_CHILDREN).map(|i| format!("page{i}").leak() as &str).collect();
        for &name in names.iter().rev() {
            router.add(Method::Get, &format!("/{name}"), name);
        }
        router.add(Method::Get, "/{other}", "other");
        for &name in &names {
            assert_eq!(found(route(&router, Method::Get, format!("/{name}").as_bytes())).0, name);
        }
        assert_eq!(found(route(&router, Method::Get, b"/page")).0, "other");
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
