//! [`Exposition`]: a strict parser of the text exposition format
//! (OpenMetrics 1.0 text, which Prometheus scrapes). Any line it does not
//! understand fails the test.

use std::collections::BTreeMap;

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The metric name, suffix included (`…_total`, `…_bucket`).
    pub name: String,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// Its value.
    pub value: f64,
}

/// A parsed exposition.
#[derive(Debug, Default)]
pub struct Exposition {
    /// Family name → type.
    pub types: BTreeMap<String, String>,
    /// Every sample, in order.
    pub samples: Vec<Sample>,
}

fn is_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn is_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn parse_value(s: &str) -> f64 {
    match s {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        _ => s.parse().unwrap_or_else(|_| panic!("bad sample value {s:?}")),
    }
}

/// `{a="x",b="y\"z"}` (without the braces) → labels; panics when malformed.
fn parse_labels(mut s: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    while !s.is_empty() {
        let (name, rest) = s.split_once("=\"").unwrap_or_else(|| panic!("bad labels {s:?}"));
        assert!(is_label_name(name), "bad label name {name:?}");
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c @ ('\\' | '"'))) => value.push(c),
                    other => panic!("bad escape {other:?} in {s:?}"),
                },
                Some((i, '"')) => break i,
                Some((_, c)) => value.push(c),
                None => panic!("unterminated label value in {s:?}"),
            }
        };
        assert!(
            out.insert(name.to_owned(), value).is_none(),
            "repeated label {name}"
        );
        s = &rest[end + 1..];
        s = s.strip_prefix(',').unwrap_or(s);
    }
    out
}

impl Exposition {
    /// Parses `text` strictly.
    ///
    /// # Panics
    /// On anything that is not valid exposition text: a missing `# EOF`,
    /// a malformed name, label or value, a sample outside its family or
    /// not fitting its type, a family typed twice, histogram buckets that
    /// are not cumulative or whose `+Inf` bucket is not the count.
    pub fn parse(text: &str) -> Self {
        let mut lines: Vec<&str> = text.split('\n').collect();
        assert_eq!(lines.pop(), Some(""), "the text ends with a newline");
        assert_eq!(lines.pop(), Some("# EOF"), "the text ends with # EOF");
        let mut exp = Exposition::default();
        let mut family: Option<(String, String)> = None;
        for line in lines {
            if let Some(meta) = line.strip_prefix("# ") {
                let mut parts = meta.splitn(3, ' ');
                let (kind, name, rest) = (parts.next(), parts.next(), parts.next());
                let name = name.unwrap_or_else(|| panic!("bad metadata line {line:?}"));
                assert!(is_metric_name(name), "bad family name in {line:?}");
                match kind {
                    Some("HELP") | Some("UNIT") => {}
                    Some("TYPE") => {
                        let ty = rest.unwrap_or("");
                        assert!(
                            [
                                "counter",
                                "gauge",
                                "histogram",
                                "info",
                                "summary",
                                "unknown",
                                "stateset",
                                "gaugehistogram"
                            ]
                            .contains(&ty),
                            "bad type in {line:?}"
                        );
                        assert!(
                            exp.types.insert(name.to_owned(), ty.to_owned()).is_none(),
                            "family {name} typed twice"
                        );
                        family = Some((name.to_owned(), ty.to_owned()));
                    }
                    _ => panic!("unknown metadata line {line:?}"),
                }
                continue;
            }
            let (series, value) = line
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("bad sample line {line:?}"));
            let (name, labels) = match series.split_once('{') {
                Some((n, l)) => (
                    n,
                    parse_labels(
                        l.strip_suffix('}')
                            .unwrap_or_else(|| panic!("bad labels in {line:?}")),
                    ),
                ),
                None => (series, BTreeMap::new()),
            };
            assert!(is_metric_name(name), "bad metric name in {line:?}");
            let (fam, ty) = family
                .as_ref()
                .unwrap_or_else(|| panic!("sample before any TYPE: {line:?}"));
            let suffix = name
                .strip_prefix(fam.as_str())
                .unwrap_or_else(|| panic!("{name} is not in family {fam}"));
            let allowed: &[&str] = match ty.as_str() {
                "counter" => &["_total", "_created"],
                "gauge" | "unknown" => &[""],
                "histogram" => &["_bucket", "_count", "_sum", "_created"],
                "info" => &["_info"],
                _ => &[""],
            };
            assert!(allowed.contains(&suffix), "{name} does not fit a {ty} family");
            if suffix == "_bucket" {
                assert!(labels.contains_key("le"), "bucket without le: {line:?}");
            }
            exp.samples.push(Sample {
                name: name.to_owned(),
                labels,
                value: parse_value(value),
            });
        }
        exp.check_histograms();
        exp
    }

    /// Buckets are cumulative and the `+Inf` bucket equals `_count`.
    fn check_histograms(&self) {
        for (fam, ty) in &self.types {
            if ty != "histogram" {
                continue;
            }
            let bucket = format!("{fam}_bucket");
            let count = format!("{fam}_count");
            for c in self.samples.iter().filter(|s| s.name == count) {
                let mut buckets: Vec<(f64, f64)> = self
                    .samples
                    .iter()
                    .filter(|s| {
                        s.name == bucket && {
                            let mut l = s.labels.clone();
                            l.remove("le");
                            l == c.labels
                        }
                    })
                    .map(|s| (parse_value(&s.labels["le"]), s.value))
                    .collect();
                buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
                assert!(
                    buckets.windows(2).all(|w| w[0].1 <= w[1].1),
                    "{fam} buckets are not cumulative"
                );
                let last = buckets.last().unwrap_or_else(|| panic!("{fam} has no buckets"));
                assert!(last.0.is_infinite(), "{fam} lacks the +Inf bucket");
                assert_eq!(last.1, c.value, "{fam}: +Inf bucket != count");
            }
        }
    }

    /// The value of the one sample `name` with (at least) `labels`.
    ///
    /// # Panics
    /// When more than one sample matches.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let found: Vec<&Sample> = self
            .samples
            .iter()
            .filter(|s| {
                s.name == name
                    && labels
                        .iter()
                        .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .collect();
        assert!(found.len() <= 1, "{name} {labels:?} is ambiguous: {found:?}");
        found.first().map(|s| s.value)
    }
}
