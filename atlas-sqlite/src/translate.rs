//! [`Filter`] and sort keys → SQL, reproducing the reference evaluator
//! (`atlas_core::query`) exactly. Every value is bound as a numbered
//! parameter; only table, column and JSON-path names (checked to be plain
//! identifiers) are written into the SQL text.
//!
//! # How a condition becomes SQL
//! - Meta fields (`_id _etag _created _updated _version _deleted`, and the
//!   job fields `status key run_at created`) are real columns with a known
//!   JSON type, so their conditions reduce to plain, indexable comparisons;
//!   timestamps compare as integers against date operands.
//! - A body path that never crosses an array in any stored document (the
//!   [`Shape`] catalog says so) reaches exactly one value per document,
//!   `json_extract(body,'$.path')` (the very expression the hot-path indexes
//!   are built on), with `json_type` telling missing, `null` and the JSON
//!   type apart. Type guards keep comparisons inside one class (numbers,
//!   strings, booleans), as the evaluator does.
//! - When some document holds an array at the path itself, the elements are
//!   searched with `json_each`; `code.package` on instances is answered by
//!   the `instance_package` side table instead.
//! - SQL `NULL` always means "does not match": negations (`$ne $nin $nor`)
//!   are written `NOT ifnull(c, 0)` so a missing field negates correctly.
//! - What the SQL cannot express exactly — paths crossing arrays, numeric
//!   path segments, unusual key characters, object or array operands — is
//!   handed to the reference evaluator itself through the registered
//!   `atlas_match_*` functions (see `functions.rs`), condition by condition,
//!   so the rest of the query still runs (and pages and counts) in SQL.
//!
//! # Cached totals
//! [`count_key`] recognises the filters whose total the counts table
//! answers (`tables.rs`): live rows, or live rows whose counted path equals
//! a plain string that the SQL compares with `json_extract(...) = ?` alone.
//! It decides on the [`Filter`] and the same [`Src`] the translation uses,
//! so the cached total and the SQL count always agree.
//!
//! # Sorting
//! A sort key on a column, or on a path holding only scalars in every
//! document, becomes `ORDER BY <type class>, <value>` with the reference's
//! class order (missing = null < numbers < strings < booleans); ties end
//! with `id`. Any other key (arrays, objects) makes the caller sort in Rust
//! with `compare_docs`.

use std::cmp::Ordering;
use std::sync::Arc;

use atlas_core::model::Timestamp;
use atlas_core::query::{Filter, Op, Operand, Pattern, SortKey};
use rusqlite::types::Value as SqlValue;
use serde_json::{Number, Value};

use crate::functions::{ResidualGuard, Residuals};
use crate::shape::Shape;
use crate::tables::{json_type, json_value, plain_path, ColKind, Column, SideTable, TableSpec, WHOLE_TABLE};

/// A translated query: SQL fragments, their parameters, and the residual
/// filters that must stay registered while the SQL runs.
#[derive(Debug)]
pub(crate) struct Translation {
    /// The `WHERE` condition.
    pub(crate) where_sql: String,
    /// The `ORDER BY` list, or `None` when the caller must sort in Rust.
    pub(crate) order_sql: Option<String>,
    /// Parameters `?1`, `?2`, … in order.
    pub(crate) params: Vec<SqlValue>,
    /// Residual filters referenced by the SQL.
    pub(crate) guards: Vec<ResidualGuard>,
}

impl Translation {
    /// Binds one more parameter; returns its placeholder.
    pub(crate) fn bind(&mut self, v: SqlValue) -> String {
        self.params.push(v);
        format!("?{}", self.params.len())
    }
}

/// Translates `filter` (plus the soft-delete rule) and `sort` for `spec`.
pub(crate) fn translate(
    spec: &TableSpec,
    shape: &Shape,
    residuals: &Arc<Residuals>,
    filter: &Filter,
    sort: &[SortKey],
    include_deleted: bool,
) -> Translation {
    let mut t = Translator {
        spec,
        shape,
        residuals,
        out: Translation {
            where_sql: String::new(),
            order_sql: None,
            params: Vec::new(),
            guards: Vec::new(),
        },
    };
    let mut w = t.filter(filter);
    if spec.soft_delete && !include_deleted {
        w = if w == "1" {
            "deleted = 0".to_owned()
        } else {
            format!("deleted = 0 AND {w}")
        };
    }
    t.out.where_sql = w;
    t.out.order_sql = t.order(sort);
    t.out
}

/// The row of the counts table holding the total of a filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CountKey<'f> {
    /// The counted path, or `tables::WHOLE_TABLE`.
    pub(crate) field: &'static str,
    /// The string it equals (`tables::WHOLE_TABLE` for the whole table).
    pub(crate) value: &'f str,
}

/// The counts-table row whose `n` is the number of rows of `spec` that
/// `filter` matches, when there is one: deleted rows excluded, and the
/// filter (`And`s of one condition and `All`s flattened) empty or one `$eq`
/// of a counted path with a plain string, on a path no stored document
/// holds an array at or under (so its SQL is `json_extract(..) = ?` alone).
/// `None` means count the rows.
pub(crate) fn count_key<'f>(
    spec: &TableSpec,
    shape: &Shape,
    filter: &'f Filter,
    include_deleted: bool,
) -> Option<CountKey<'f>> {
    let counted = spec.counted?;
    if include_deleted || !spec.soft_delete {
        return None;
    }
    let mut conds = Vec::new();
    if !conditions(filter, &mut conds) {
        return None;
    }
    match conds.as_slice() {
        [] => Some(CountKey {
            field: WHOLE_TABLE,
            value: WHOLE_TABLE,
        }),
        [Filter::Field {
            path,
            op: Op::Eq(Operand::Json(Value::String(s))),
        }] => {
            let field = counted.iter().copied().find(|p| p == path)?;
            let plain = matches!(
                source(spec, shape, path),
                Some(Src::Json {
                    each: None,
                    side: None,
                    ..
                })
            );
            let value = Scalar::Str(s).plain_str()?;
            plain.then_some(CountKey { field, value })
        }
        _ => None,
    }
}

/// Collects the conditions `f` is the conjunction of; `false` when it is
/// not one (`$or`, `$nor`).
fn conditions<'f>(f: &'f Filter, out: &mut Vec<&'f Filter>) -> bool {
    match f {
        Filter::All => true,
        Filter::And(fs) => fs.iter().all(|f| conditions(f, out)),
        Filter::Or(_) | Filter::Nor(_) => false,
        Filter::Field { .. } => {
            out.push(f);
            true
        }
    }
}

/// Where a path's value comes from.
enum Src {
    /// A real column.
    Col(Column),
    /// A body path reaching at most one value per document.
    Json {
        /// `json_extract(...)`.
        x: String,
        /// `json_type(...)`.
        t: String,
        /// `json_each(...)` over the value, when some document holds an array there.
        each: Option<String>,
        /// The side table answering string array-contains on this path.
        side: Option<SideTable>,
    },
}

/// Where `path` reads from in `spec`'s rows; `None` when only the
/// evaluator can say.
fn source(spec: &TableSpec, shape: &Shape, path: &str) -> Option<Src> {
    let head = path.split('.').next().unwrap_or(path);
    if let Some(c) = spec.columns.iter().find(|c| c.field == head) {
        return Some(if head.len() == path.len() {
            Src::Col(*c)
        } else {
            // Below a scalar column: always missing.
            Src::Json {
                x: "NULL".into(),
                t: "NULL".into(),
                each: None,
                side: None,
            }
        });
    }
    if !plain_path(path) || shape.crosses_array(path) {
        return None;
    }
    let body = spec.body;
    Some(Src::Json {
        x: json_value(body, path),
        t: json_type(body, path),
        each: shape
            .array_at(path)
            .then(|| format!("json_each({body},'$.{path}')")),
        side: spec.side.filter(|s| s.path == path),
    })
}

/// A scalar operand, by class.
#[derive(Clone, Copy)]
enum Scalar<'a> {
    Null,
    Bool(bool),
    Num(&'a Number),
    Str(&'a str),
    Date(Timestamp),
}

impl<'a> Scalar<'a> {
    /// `None` for object and array operands.
    fn of(o: &'a Operand) -> Option<Scalar<'a>> {
        Some(match o {
            Operand::Date(t) => Scalar::Date(*t),
            Operand::Json(v) => match v {
                Value::Null => Scalar::Null,
                Value::Bool(b) => Scalar::Bool(*b),
                Value::Number(n) => Scalar::Num(n),
                Value::String(s) => Scalar::Str(s),
                Value::Array(_) | Value::Object(_) => return None,
            },
        })
    }

    /// A plain string: equality on the extracted value alone is exact
    /// (only arrays and objects extract as text starting with `[` or `{`).
    fn plain_str(self) -> Option<&'a str> {
        match self {
            Scalar::Str(s) if !s.starts_with('[') && !s.starts_with('{') => Some(s),
            _ => None,
        }
    }
}

#[derive(Clone, Copy)]
enum Cmp {
    Gt,
    Gte,
    Lt,
    Lte,
}

impl Cmp {
    fn sql(self) -> &'static str {
        match self {
            Cmp::Gt => ">",
            Cmp::Gte => ">=",
            Cmp::Lt => "<",
            Cmp::Lte => "<=",
        }
    }

    fn accepts(self, o: Ordering) -> bool {
        match self {
            Cmp::Gt => o == Ordering::Greater,
            Cmp::Gte => o != Ordering::Less,
            Cmp::Lt => o == Ordering::Less,
            Cmp::Lte => o != Ordering::Greater,
        }
    }

    fn inclusive(self) -> bool {
        matches!(self, Cmp::Gte | Cmp::Lte)
    }
}

fn num_param(n: &Number) -> SqlValue {
    match n.as_i64() {
        Some(i) => SqlValue::Integer(i),
        None => SqlValue::Real(n.as_f64().unwrap_or(0.0)),
    }
}

fn not(c: &str) -> String {
    format!("(NOT ifnull({c}, 0))")
}

fn any_of(parts: Vec<String>) -> String {
    match parts.len() {
        0 => "0".to_owned(),
        1 => parts.into_iter().next().unwrap_or_default(),
        _ => format!("({})", parts.join(" OR ")),
    }
}

fn scalars(xs: &[Operand]) -> Option<Vec<Scalar<'_>>> {
    xs.iter().map(Scalar::of).collect()
}

/// The booleans `b'` with `b' <cmp> b`, as `json_type` names.
fn bool_types(cmp: Cmp, b: bool) -> Vec<&'static str> {
    [(false, "'false'"), (true, "'true'")]
        .into_iter()
        .filter(|(v, _)| cmp.accepts(v.cmp(&b)))
        .map(|(_, name)| name)
        .collect()
}

/// The inline-flag form of a `$regex` (`(?i)` + source), equivalent to the
/// builder flags `Pattern::new` compiles with.
fn regex_param(p: &Pattern) -> String {
    if p.options.is_empty() {
        p.source.clone()
    } else {
        format!("(?{}){}", p.options, p.source)
    }
}

struct Translator<'a> {
    spec: &'a TableSpec,
    shape: &'a Shape,
    residuals: &'a Arc<Residuals>,
    out: Translation,
}

impl Translator<'_> {
    fn bind(&mut self, v: SqlValue) -> String {
        self.out.bind(v)
    }

    fn bind_str(&mut self, s: &str) -> String {
        self.bind(SqlValue::Text(s.to_owned()))
    }

    fn filter(&mut self, f: &Filter) -> String {
        match f {
            Filter::All => "1".to_owned(),
            Filter::And(fs) if fs.is_empty() => "1".to_owned(),
            Filter::And(fs) => {
                let parts: Vec<String> = fs.iter().map(|f| self.filter(f)).collect();
                if parts.len() == 1 {
                    parts.into_iter().next().unwrap_or_default()
                } else {
                    format!("({})", parts.join(" AND "))
                }
            }
            Filter::Or(fs) => {
                let parts = fs.iter().map(|f| self.filter(f)).collect();
                any_of(parts)
            }
            Filter::Nor(fs) => {
                let parts = fs.iter().map(|f| self.filter(f)).collect();
                not(&any_of(parts))
            }
            Filter::Field { path, op } => match self.source(path) {
                Some(src) => match self.atom(&src, op) {
                    Some(sql) => sql,
                    None => self.residual(f),
                },
                None => self.residual(f),
            },
        }
    }

    /// Hands `f` to the reference evaluator, row by row.
    fn residual(&mut self, f: &Filter) -> String {
        let guard = self.residuals.register(f.clone());
        let tok = self.bind(SqlValue::Integer(guard.token()));
        self.out.guards.push(guard);
        if self.spec.soft_delete {
            format!(
                "atlas_match_doc({tok}, id, etag, created, updated, version, deleted, json({}))",
                self.spec.body
            )
        } else {
            format!("atlas_match_json({tok}, json({}))", self.spec.body)
        }
    }

    /// Where `path` reads from; `None` when only the evaluator can say.
    fn source(&self, path: &str) -> Option<Src> {
        source(self.spec, self.shape, path)
    }

    /// One condition; `None` when it needs the evaluator.
    fn atom(&mut self, src: &Src, op: &Op) -> Option<String> {
        Some(match op {
            Op::Eq(x) => self.eq(src, &[Scalar::of(x)?]),
            Op::Ne(x) => not(&self.eq(src, &[Scalar::of(x)?])),
            Op::In(xs) => self.eq(src, &scalars(xs)?),
            Op::Nin(xs) => not(&self.eq(src, &scalars(xs)?)),
            Op::Gt(x) => self.range(src, Cmp::Gt, x),
            Op::Gte(x) => self.range(src, Cmp::Gte, x),
            Op::Lt(x) => self.range(src, Cmp::Lt, x),
            Op::Lte(x) => self.range(src, Cmp::Lte, x),
            Op::Exists(want) => match src {
                Src::Col(_) => if *want { "1" } else { "0" }.to_owned(),
                Src::Json { t, .. } => format!("({t} IS {}NULL)", if *want { "NOT " } else { "" }),
            },
            Op::Regex(p) => self.regex(src, p),
        })
    }

    /// Equal to any of `xs` (`$eq`, `$in`).
    fn eq(&mut self, src: &Src, xs: &[Scalar<'_>]) -> String {
        match src {
            Src::Col(c) => {
                let parts = xs.iter().map(|x| self.col_eq(c, *x)).collect();
                any_of(parts)
            }
            Src::Json { x, t, each, side } => {
                if let (Some(side), Some(strs)) =
                    (side, xs.iter().map(|s| s.plain_str()).collect::<Option<Vec<_>>>())
                {
                    let ps: Vec<String> = strs.iter().map(|s| self.bind_str(s)).collect();
                    return format!(
                        "id IN (SELECT instance_id FROM {} WHERE pkg IN ({}))",
                        side.table,
                        ps.join(", ")
                    );
                }
                let mut parts = Vec::new();
                let plain: Vec<&str> = xs.iter().filter_map(|s| s.plain_str()).collect();
                let mut plain_ps = Vec::new();
                match plain.len() {
                    0 => {}
                    1 => {
                        let p = self.bind_str(plain[0]);
                        parts.push(format!("{x} = {p}"));
                        plain_ps.push(p);
                    }
                    _ => {
                        plain_ps = plain.iter().map(|s| self.bind_str(s)).collect();
                        parts.push(format!("{x} IN ({})", plain_ps.join(", ")));
                    }
                }
                let others: Vec<Scalar<'_>> =
                    xs.iter().copied().filter(|s| s.plain_str().is_none()).collect();
                let mut other_ps = Vec::new();
                for s in &others {
                    let (cond, p) = self.json_eq(x, t, *s, false, None);
                    parts.push(cond);
                    other_ps.push(p);
                }
                if let Some(each) = each {
                    let mut inner = Vec::new();
                    match plain_ps.len() {
                        0 => {}
                        1 => inner.push(format!("e.value = {}", plain_ps[0])),
                        _ => inner.push(format!("e.value IN ({})", plain_ps.join(", "))),
                    }
                    for (s, p) in others.iter().zip(other_ps) {
                        inner.push(self.json_eq("e.value", "e.type", *s, true, p).0);
                    }
                    parts.push(format!(
                        "({t} = 'array' AND EXISTS (SELECT 1 FROM {each} AS e WHERE {}))",
                        any_of(inner)
                    ));
                }
                any_of(parts)
            }
        }
    }

    /// Equality of one JSON value (`x`, typed `t`) with a non-plain scalar.
    /// `elem` marks an array element (its type is never NULL). Reuses
    /// `param` when given; returns the condition and the parameter used.
    fn json_eq(
        &mut self,
        x: &str,
        t: &str,
        s: Scalar<'_>,
        elem: bool,
        param: Option<String>,
    ) -> (String, Option<String>) {
        let p = |this: &mut Self, v: SqlValue| param.clone().unwrap_or_else(|| this.bind(v));
        match s {
            Scalar::Null => (
                if elem {
                    format!("{t} = 'null'")
                } else {
                    format!("ifnull({t}, 'null') = 'null'")
                },
                None,
            ),
            Scalar::Bool(b) if elem => (format!("{t} = '{b}'"), None),
            // `x = 0/1` lets an index on `x` narrow the rows first.
            Scalar::Bool(b) => (format!("({x} = {} AND {t} = '{b}')", i32::from(b)), None),
            Scalar::Num(n) => {
                let p = p(self, num_param(n));
                (format!("({x} = {p} AND {t} IN ('integer', 'real'))"), Some(p))
            }
            Scalar::Str(s) => {
                let p = p(self, SqlValue::Text(s.to_owned()));
                (format!("({x} = {p} AND {t} = 'text')"), Some(p))
            }
            Scalar::Date(ts) => {
                let p = p(self, SqlValue::Integer(ts.unix_seconds()));
                (format!("atlas_ts({x}) = {p}"), Some(p))
            }
        }
    }

    fn col_eq(&mut self, c: &Column, s: Scalar<'_>) -> String {
        let col = c.sql;
        match (c.kind, s) {
            (ColKind::Text | ColKind::NullableText, Scalar::Str(v)) => {
                let p = self.bind_str(v);
                format!("{col} = {p}")
            }
            (ColKind::NullableText, Scalar::Null) => format!("{col} IS NULL"),
            (ColKind::Text | ColKind::NullableText, Scalar::Date(ts)) => {
                let p = self.bind(SqlValue::Integer(ts.unix_seconds()));
                format!("atlas_ts({col}) = {p}")
            }
            (ColKind::Int, Scalar::Num(n)) => {
                let p = self.bind(num_param(n));
                format!("{col} = {p}")
            }
            (ColKind::Bool, Scalar::Bool(b)) => format!("{col} = {}", i32::from(b)),
            (ColKind::Date, Scalar::Date(ts)) => {
                let p = self.bind(SqlValue::Integer(ts.unix_seconds()));
                format!("{col} = {p}")
            }
            (ColKind::Date, Scalar::Str(v)) => match Timestamp::parse(v) {
                // Equal to the rendered date exactly when it renders back the same.
                Ok(ts) if ts.to_string() == v => {
                    let p = self.bind(SqlValue::Integer(ts.unix_seconds()));
                    format!("{col} = {p}")
                }
                _ => "0".to_owned(),
            },
            _ => "0".to_owned(),
        }
    }

    fn range(&mut self, src: &Src, cmp: Cmp, x: &Operand) -> String {
        let Some(s) = Scalar::of(x) else {
            // Object and array operands compare with nothing.
            return "0".to_owned();
        };
        if let Scalar::Null = s {
            return if cmp.inclusive() {
                self.eq(src, &[Scalar::Null])
            } else {
                "0".to_owned()
            };
        }
        match src {
            Src::Col(c) => self.col_range(c, cmp, s),
            Src::Json { x, t, each, .. } => {
                let (scalar, p) = self.json_range(x, t, cmp, s, None);
                match each {
                    None => scalar,
                    Some(each) => {
                        let (inner, _) = self.json_range("e.value", "e.type", cmp, s, p);
                        format!(
                            "({scalar} OR ({t} = 'array' AND EXISTS (SELECT 1 FROM {each} AS e WHERE {inner})))"
                        )
                    }
                }
            }
        }
    }

    fn json_range(
        &mut self,
        x: &str,
        t: &str,
        cmp: Cmp,
        s: Scalar<'_>,
        param: Option<String>,
    ) -> (String, Option<String>) {
        let op = cmp.sql();
        let p = |this: &mut Self, v: SqlValue| param.clone().unwrap_or_else(|| this.bind(v));
        match s {
            Scalar::Null => ("0".to_owned(), None),
            Scalar::Bool(b) => {
                let types = bool_types(cmp, b);
                if types.is_empty() {
                    ("0".to_owned(), None)
                } else {
                    (format!("{t} IN ({})", types.join(", ")), None)
                }
            }
            Scalar::Num(n) => {
                let p = p(self, num_param(n));
                (format!("({x} {op} {p} AND {t} IN ('integer', 'real'))"), Some(p))
            }
            Scalar::Str(v) => {
                let p = p(self, SqlValue::Text(v.to_owned()));
                (format!("({x} {op} {p} AND {t} = 'text')"), Some(p))
            }
            Scalar::Date(ts) => {
                let p = p(self, SqlValue::Integer(ts.unix_seconds()));
                (format!("atlas_ts({x}) {op} {p}"), Some(p))
            }
        }
    }

    fn col_range(&mut self, c: &Column, cmp: Cmp, s: Scalar<'_>) -> String {
        let (col, op) = (c.sql, cmp.sql());
        match (c.kind, s) {
            (ColKind::Text | ColKind::NullableText, Scalar::Str(v)) => {
                let p = self.bind_str(v);
                format!("{col} {op} {p}")
            }
            (ColKind::Text | ColKind::NullableText, Scalar::Date(ts)) => {
                let p = self.bind(SqlValue::Integer(ts.unix_seconds()));
                format!("atlas_ts({col}) {op} {p}")
            }
            (ColKind::Int, Scalar::Num(n)) => {
                let p = self.bind(num_param(n));
                format!("{col} {op} {p}")
            }
            (ColKind::Bool, Scalar::Bool(b)) => {
                let vals: Vec<&str> = bool_types(cmp, b)
                    .into_iter()
                    .map(|t| if t == "'true'" { "1" } else { "0" })
                    .collect();
                if vals.is_empty() {
                    "0".to_owned()
                } else {
                    format!("{col} IN ({})", vals.join(", "))
                }
            }
            (ColKind::Date, Scalar::Date(ts)) => {
                // Date ranges are usually narrow ("changed since"): tell the
                // planner, so it walks the `updated` index rather than
                // scanning in id order.
                let p = self.bind(SqlValue::Integer(ts.unix_seconds()));
                format!("likelihood({col} {op} {p}, 0.05)")
            }
            (ColKind::Date, Scalar::Str(v)) => {
                let p = self.bind_str(v);
                format!("atlas_fmt({col}) {op} {p}")
            }
            _ => "0".to_owned(),
        }
    }

    fn regex(&mut self, src: &Src, pat: &Pattern) -> String {
        if let Src::Col(Column {
            kind: ColKind::Int | ColKind::Bool,
            ..
        }) = src
        {
            return "0".to_owned();
        }
        let p = self.bind_str(&regex_param(pat));
        match src {
            Src::Col(c) => match c.kind {
                ColKind::Date => format!("regexp({p}, atlas_fmt({}))", c.sql),
                _ => format!("regexp({p}, {})", c.sql),
            },
            Src::Json { x, t, each, .. } => {
                let scalar = format!("({t} = 'text' AND regexp({p}, {x}))");
                match each {
                    None => scalar,
                    Some(each) => format!(
                        "({scalar} OR ({t} = 'array' AND EXISTS (SELECT 1 FROM {each} AS e \
                         WHERE e.type = 'text' AND regexp({p}, e.value))))"
                    ),
                }
            }
        }
    }

    /// The `ORDER BY` list, or `None` when a key needs Rust.
    fn order(&self, sort: &[SortKey]) -> Option<String> {
        let mut keys = Vec::new();
        for k in sort {
            let dir = if k.descending { "DESC" } else { "ASC" };
            let head = k.path.split('.').next().unwrap_or(&k.path);
            if let Some(c) = self.spec.columns.iter().find(|c| c.field == head) {
                if head.len() == k.path.len() {
                    keys.push(format!("{} {dir}", c.sql));
                }
                // A path below a column is missing everywhere: no order.
                continue;
            }
            let p = &k.path;
            if !plain_path(p)
                || self.shape.crosses_array(p)
                || self.shape.array_at(p)
                || self.shape.object_at(p)
            {
                return None;
            }
            let body = self.spec.body;
            let (x, t) = (json_value(body, p), json_type(body, p));
            keys.push(format!(
                "CASE {t} WHEN 'integer' THEN 1 WHEN 'real' THEN 1 WHEN 'text' THEN 2 \
                 WHEN 'true' THEN 5 WHEN 'false' THEN 5 ELSE 0 END {dir}, {x} {dir}"
            ));
        }
        keys.push("id ASC".to_owned());
        Some(keys.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tables::{table, JOBS};
    use atlas_core::model::Resource;
    use serde_json::json;

    fn tr(res: Resource, shape: &Shape, f: &Filter) -> Translation {
        translate(&table(res), shape, &Arc::new(Residuals::default()), f, &[], false)
    }

    #[test]
    fn hot_equality_spells_the_indexed_expression_and_binds_the_value() {
        let t = tr(
            Resource::Instance,
            &Shape::default(),
            &Filter::eq("status", "installed"),
        );
        assert_eq!(t.where_sql, "deleted = 0 AND json_extract(body,'$.status') = ?1");
        assert_eq!(t.params, vec![SqlValue::Text("installed".into())]);
        assert!(t.guards.is_empty());
    }

    #[test]
    fn values_never_appear_in_the_sql_text() {
        let evil = "x'); DROP TABLE instance; --";
        let f = Filter::and(vec![
            Filter::eq("sid", evil),
            Filter::field("path", Op::Gt(Operand::Json(json!(evil)))),
            Filter::field("tag", Op::Regex(Pattern::new("a'b", "").unwrap())),
        ]);
        let t = tr(Resource::Instance, &Shape::with(&["tag"], &[]), &f);
        assert!(!t.where_sql.contains("DROP"), "{}", t.where_sql);
        assert!(!t.where_sql.contains("a'b"), "{}", t.where_sql);
    }

    #[test]
    fn package_contains_uses_the_side_table() {
        let shape = Shape::with(&["code.package"], &["code"]);
        let t = tr(Resource::Instance, &shape, &Filter::eq("code.package", "abc"));
        assert!(t.where_sql.contains("instance_package"), "{}", t.where_sql);
    }

    #[test]
    fn paths_crossing_arrays_go_to_the_evaluator() {
        let shape = Shape::with(&["a"], &[]);
        let t = tr(Resource::Site, &shape, &Filter::eq("a.b", 1));
        assert!(t.where_sql.contains("atlas_match_doc"), "{}", t.where_sql);
        assert_eq!(t.guards.len(), 1);
        let t = tr(Resource::Site, &Shape::default(), &Filter::eq("a.0", 1));
        assert_eq!(t.guards.len(), 1);
    }

    #[test]
    fn negations_are_null_safe() {
        let t = tr(
            Resource::Instance,
            &Shape::default(),
            &Filter::field("status", Op::Ne(Operand::Json(json!("x")))),
        );
        assert!(t.where_sql.contains("NOT ifnull("), "{}", t.where_sql);
    }

    #[test]
    fn show_deleted_drops_the_soft_delete_condition() {
        let t = translate(
            &table(Resource::Instance),
            &Shape::default(),
            &Arc::new(Residuals::default()),
            &Filter::All,
            &[],
            true,
        );
        assert_eq!(t.where_sql, "1");
    }

    #[test]
    fn sort_on_array_or_object_paths_is_left_to_rust() {
        let s = Shape::with(&["tag"], &["settings"]);
        let r = Arc::new(Residuals::default());
        let spec = table(Resource::Instance);
        let order = |p: &str| translate(&spec, &s, &r, &Filter::All, &[SortKey::asc(p)], false).order_sql;
        assert!(order("tag").is_none());
        assert!(order("settings").is_none());
        assert!(order("sid").is_some());
        assert_eq!(order("_updated").as_deref(), Some("updated ASC, id ASC"));
    }

    fn owned(k: Option<CountKey<'_>>) -> Option<(&'static str, String)> {
        k.map(|k| (k.field, k.value.to_owned()))
    }

    #[test]
    fn live_rows_and_one_counted_string_equality_read_the_cached_count() {
        let spec = table(Resource::Instance);
        let shape = Shape::with(&["tag"], &["code"]);
        let key = |f: &Filter| owned(count_key(&spec, &shape, f, false));
        let whole = Some((WHOLE_TABLE, String::new()));
        assert_eq!(key(&Filter::All), whole);
        assert_eq!(key(&Filter::and(vec![])), whole);
        assert_eq!(key(&Filter::and(vec![Filter::All])), whole);
        let pending = Some(("status", "pending".to_owned()));
        assert_eq!(key(&Filter::eq("status", "pending")), pending);
        assert_eq!(key(&Filter::and(vec![Filter::eq("status", "pending")])), pending);
        assert_eq!(
            key(&Filter::and(vec![
                Filter::All,
                Filter::and(vec![Filter::eq("type", "express")])
            ])),
            Some(("type", "express".to_owned()))
        );
        // The SQL of each is the live-rows condition and one plain equality.
        let t = tr(Resource::Instance, &shape, &Filter::eq("type", "express"));
        assert_eq!(t.where_sql, "deleted = 0 AND json_extract(body,'$.type') = ?1");
        assert_eq!(tr(Resource::Site, &shape, &Filter::All).where_sql, "deleted = 0");
        assert_eq!(
            owned(count_key(&table(Resource::Site), &shape, &Filter::All, false)),
            whole
        );
    }

    #[test]
    fn every_other_filter_counts_its_rows() {
        let spec = table(Resource::Instance);
        let plain = Shape::default();
        let key = |f: &Filter| owned(count_key(&spec, &plain, f, false));
        let s = |v: &str| Operand::Json(json!(v));
        let not_cached = [
            // Other operators on a counted path.
            Filter::field("status", Op::Ne(s("pending"))),
            Filter::field("status", Op::In(vec![s("pending")])),
            Filter::field("status", Op::Gte(s("pending"))),
            Filter::field("status", Op::Exists(true)),
            Filter::field("status", Op::Regex(Pattern::new("^pending$", "").unwrap())),
            // Several conditions, or not a conjunction.
            Filter::and(vec![
                Filter::eq("status", "pending"),
                Filter::eq("type", "express"),
            ]),
            Filter::and(vec![
                Filter::eq("status", "pending"),
                Filter::eq("status", "pending"),
            ]),
            Filter::or(vec![Filter::eq("status", "pending")]),
            Filter::Nor(vec![]),
            // Paths that are not counted.
            Filter::eq("sid", "p1abc"),
            Filter::eq("status.x", "pending"),
            Filter::eq("_id", "6b063bb73e47cec0540baa24"),
            // Values that are not plain strings.
            Filter::eq("status", 1),
            Filter::eq("status", true),
            Filter::eq("status", Value::Null),
            Filter::eq("status", json!(["pending"])),
            Filter::eq("status", "[\"pending\"]"),
            Filter::eq("status", "{}"),
            Filter::eq("status", "2026-11-25 00:00:00 GMT"),
        ];
        for f in &not_cached {
            assert_eq!(key(f), None, "{f:?}");
        }
        let pending = Filter::eq("status", "pending");
        // Deleted records included.
        assert_eq!(count_key(&spec, &plain, &pending, true), None);
        assert_eq!(count_key(&spec, &plain, &Filter::All, true), None);
        // A stored array at the path: the SQL also searches its elements.
        let arrays = Shape::with(&["status"], &[]);
        assert_eq!(count_key(&spec, &arrays, &pending, false), None);
        // Tables without counts.
        assert_eq!(
            count_key(&JOBS, &plain, &Filter::eq("status", "queued"), false),
            None
        );
        assert_eq!(count_key(&JOBS, &plain, &Filter::All, false), None);
        assert_eq!(count_key(&table(Resource::Site), &plain, &pending, false), None);
    }

    #[test]
    fn job_fields_map_to_job_columns() {
        let t = translate(
            &JOBS,
            &Shape::default(),
            &Arc::new(Residuals::default()),
            &Filter::eq("status", "queued"),
            &[],
            false,
        );
        assert_eq!(t.where_sql, "status = ?1");
    }
}
