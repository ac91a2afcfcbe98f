//! The [`Filter`] AST a `where` clause parses into, and the operands it
//! compares with. Evaluation semantics live in `eval.rs`; every store must
//! reproduce them.

use serde_json::{Map, Value};

use super::QueryError;
use crate::model::Timestamp;

/// A parsed `where` clause.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// Matches every document (an empty `where`).
    All,
    /// Every sub-filter matches (`$and`, and the implicit and of an object).
    And(Vec<Filter>),
    /// At least one sub-filter matches (`$or`).
    Or(Vec<Filter>),
    /// No sub-filter matches (`$nor`).
    Nor(Vec<Filter>),
    /// A condition on one dotted path.
    Field {
        /// Dotted path (`meta.name`, `code.package`, `_id`).
        path: String,
        /// The condition.
        op: Op,
    },
}

/// A condition on a field.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// `$eq` (and a bare value): equal, or an array holding an equal element.
    Eq(Operand),
    /// `$ne`: not [`Op::Eq`] (missing fields match).
    Ne(Operand),
    /// `$gt`.
    Gt(Operand),
    /// `$gte`.
    Gte(Operand),
    /// `$lt`.
    Lt(Operand),
    /// `$lte`.
    Lte(Operand),
    /// `$in`: [`Op::Eq`] for any of the operands.
    In(Vec<Operand>),
    /// `$nin`: [`Op::Eq`] for none of the operands.
    Nin(Vec<Operand>),
    /// `$exists`.
    Exists(bool),
    /// `$regex` (with optional `$options`).
    Regex(Pattern),
}

/// A value a condition compares with.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// A JSON value as given.
    Json(Value),
    /// A string that parsed as a date (`DATE_FORMAT` or RFC 3339); it
    /// matches stored date strings as instants.
    Date(Timestamp),
}

/// A compiled `$regex`.
#[derive(Debug, Clone)]
pub struct Pattern {
    /// The pattern as given.
    pub source: String,
    /// The `$options` flags as given (`i`, `m`, `s`, `x`).
    pub options: String,
    /// The compiled form.
    pub regex: regex::Regex,
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source && self.options == other.options
    }
}

impl Filter {
    /// Every dotted path the filter tests, depth first.
    pub fn paths(&self) -> Vec<&str> {
        let mut out = Vec::new();
        let mut stack = vec![self];
        while let Some(f) = stack.pop() {
            match f {
                Filter::All => {}
                Filter::And(fs) | Filter::Or(fs) | Filter::Nor(fs) => stack.extend(fs.iter().rev()),
                Filter::Field { path, .. } => out.push(path.as_str()),
            }
        }
        out
    }

    /// A condition `op` on the dotted `path`.
    pub fn field(path: impl Into<String>, op: Op) -> Filter {
        Filter::Field {
            path: path.into(),
            op,
        }
    }

    /// `path` equals `value` (Mongo equality, see `eval.rs`). A string that
    /// looks like a date becomes an [`Operand::Date`], as in a parsed `where`.
    pub fn eq(path: impl Into<String>, value: impl Into<Value>) -> Filter {
        Filter::field(path, Op::Eq(Operand::from_json(value.into())))
    }

    /// Every one of `filters` (an empty list matches everything).
    pub fn and(filters: Vec<Filter>) -> Filter {
        Filter::And(filters)
    }

    /// At least one of `filters` (an empty list matches nothing).
    pub fn or(filters: Vec<Filter>) -> Filter {
        Filter::Or(filters)
    }

    /// Whether any condition in the filter is on `path` or on a path below
    /// it (`mentions("_deleted")` is true for `{"_deleted": true}`).
    pub fn mentions(&self, path: &str) -> bool {
        match self {
            Filter::All => false,
            Filter::And(fs) | Filter::Or(fs) | Filter::Nor(fs) => fs.iter().any(|f| f.mentions(path)),
            Filter::Field { path: p, .. } => {
                p == path || p.strip_prefix(path).is_some_and(|rest| rest.starts_with('.'))
            }
        }
    }

    /// The filter as a Mongo-style `where` document; parsing it back with
    /// [`Filter::from_json`] gives an equal filter (for filters built with
    /// the constructors here or by the parser, and with non-empty
    /// `And`/`Or`/`Nor` lists).
    pub fn to_json(&self) -> Value {
        let list = |fs: &[Filter]| Value::Array(fs.iter().map(Filter::to_json).collect());
        match self {
            Filter::All => Value::Object(Map::new()),
            Filter::And(fs) => single("$and", list(fs)),
            Filter::Or(fs) => single("$or", list(fs)),
            Filter::Nor(fs) => single("$nor", list(fs)),
            Filter::Field { path, op } => single(path, op.to_json()),
        }
    }
}

fn single(key: &str, value: Value) -> Value {
    let mut map = Map::new();
    map.insert(key.to_owned(), value);
    Value::Object(map)
}

impl Op {
    /// The value a `where` holds for this condition: the bare operand for
    /// [`Op::Eq`] (wrapped in `$eq` when it is an object, so it is not read
    /// as operators), `{"$op": operand}` otherwise.
    pub fn to_json(&self) -> Value {
        let list = |xs: &[Operand]| Value::Array(xs.iter().map(Operand::to_json).collect());
        match self {
            Op::Eq(x) => match x.to_json() {
                obj @ Value::Object(_) => single("$eq", obj),
                other => other,
            },
            Op::Ne(x) => single("$ne", x.to_json()),
            Op::Gt(x) => single("$gt", x.to_json()),
            Op::Gte(x) => single("$gte", x.to_json()),
            Op::Lt(x) => single("$lt", x.to_json()),
            Op::Lte(x) => single("$lte", x.to_json()),
            Op::In(xs) => single("$in", list(xs)),
            Op::Nin(xs) => single("$nin", list(xs)),
            Op::Exists(b) => single("$exists", Value::Bool(*b)),
            Op::Regex(p) => {
                let mut map = Map::new();
                map.insert("$regex".into(), Value::String(p.source.clone()));
                if !p.options.is_empty() {
                    map.insert("$options".into(), Value::String(p.options.clone()));
                }
                Value::Object(map)
            }
        }
    }
}

impl Operand {
    /// An operand from a `where` value: a string that looks like a date
    /// (a leading `YYYY-MM-DD`) and parses as `DATE_FORMAT` or RFC 3339
    /// becomes [`Operand::Date`]; everything else stays JSON.
    pub fn from_json(value: Value) -> Operand {
        if let Value::String(s) = &value {
            if looks_like_date(s) {
                if let Ok(ts) = Timestamp::parse(s) {
                    return Operand::Date(ts);
                }
            }
        }
        Operand::Json(value)
    }

    /// The operand as JSON (dates in `DATE_FORMAT`).
    pub fn to_json(&self) -> Value {
        match self {
            Operand::Json(v) => v.clone(),
            Operand::Date(ts) => Value::String(ts.to_string()),
        }
    }
}

/// `YYYY-MM-DD…`: only such strings are tried as dates, so ids, sids and
/// names never turn into dates.
fn looks_like_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 19
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[5..7].iter().all(u8::is_ascii_digit)
        && b[7] == b'-'
        && b[8..10].iter().all(u8::is_ascii_digit)
}

/// The one-line reason of a regex error (the crate's syntax errors span
/// several lines with a caret under the pattern).
fn regex_reason(e: &regex::Error) -> String {
    match e {
        regex::Error::Syntax(text) => text
            .lines()
            .rev()
            .find_map(|l| l.trim().strip_prefix("error: "))
            .unwrap_or_else(|| text.lines().last().unwrap_or(text))
            .trim()
            .to_owned(),
        regex::Error::CompiledTooBig(_) => "the pattern is too large".to_owned(),
        other => other.to_string().replace('\n', " "),
    }
}

impl Pattern {
    /// Compiles `$regex` `source` with `$options` flags (`i` case
    /// insensitive, `m` multi-line, `s` dot matches newline, `x` extended).
    ///
    /// # Errors
    /// [`QueryError::InvalidWhere`] for an unknown flag or a pattern the
    /// `regex` crate does not accept (look-around and back-references are
    /// not supported).
    pub fn new(source: impl Into<String>, options: impl Into<String>) -> Result<Pattern, QueryError> {
        let source = source.into();
        let options = options.into();
        let mut builder = regex::RegexBuilder::new(&source);
        for flag in options.chars() {
            match flag {
                'i' => builder.case_insensitive(true),
                'm' => builder.multi_line(true),
                's' => builder.dot_matches_new_line(true),
                'x' => builder.ignore_whitespace(true),
                other => {
                    return Err(QueryError::InvalidWhere(format!(
                        "unknown $options flag '{other}' (allowed: i, m, s, x)"
                    )))
                }
            };
        }
        let regex = builder.build().map_err(|e| {
            QueryError::InvalidWhere(format!(
                "$regex '{source}' is not a valid pattern: {}; patterns use Rust regex syntax \
                 (no look-around or back-references)",
                regex_reason(&e)
            ))
        })?;
        Ok(Pattern {
            source,
            options,
            regex,
        })
    }
}
