//! `find` → SQL: the conditions of a filter that an index can answer become
//! a prefilter (`WHERE` clauses with bound parameters only), and the store
//! then runs the core evaluator ([`atlas_core::query::select`]) over the
//! rows it returns, so results, order and totals equal the reference.
//!
//! A prefilter clause never drops a row the filter matches: each
//! condition of the filter's top-level conjunction is translated to a
//! condition at least as broad, or left out; an `or` (or `$in`) is
//! translated only when each of its members is (`sid == x or path == x`
//! is two index lookups, not a scan).
//! - `path == "text"` or `== true/false` on a body path becomes
//!   `body @@ '$."a"."b" == "text"'` (a jsonpath in lax mode, which reaches
//!   into arrays as the query language does); the resource's GIN index
//!   (`jsonb_path_ops`) answers it, array-contains (`code.package`) included.
//! - `_id == "<id>"` becomes `id = $n` (the primary key).
//! - `_created`/`_updated` compared with a date become comparisons of the
//!   seconds columns (`ix_<table>_updated` serves `_updated`).
//! - On jobs, `status`, `key` and `_id` equalities use their columns.

use atlas_core::model::Id;
use atlas_core::query::{Filter, FindQuery, Op, Operand};
use serde_json::Value;
use tokio_postgres::types::ToSql;

use crate::tables::plain_path;

/// A bound parameter.
pub(crate) type Param = Box<dyn ToSql + Sync + Send>;

/// The prefilter of a query: `WHERE` clauses and their parameters.
#[derive(Default)]
pub(crate) struct Prefilter {
    /// Clauses, all of which hold for every matching row.
    pub(crate) clauses: Vec<String>,
    /// Parameters, `$1` first.
    pub(crate) params: Vec<Param>,
}

impl std::fmt::Debug for Prefilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prefilter")
            .field("clauses", &self.clauses)
            .field("params", &self.params.len())
            .finish()
    }
}

impl Prefilter {
    fn bind(&mut self, p: Param) -> String {
        self.params.push(p);
        format!("${}", self.params.len())
    }

    /// ` WHERE a AND b`, or nothing.
    pub(crate) fn where_sql(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.clauses.join(" AND "))
        }
    }

    /// The parameters as the driver takes them.
    pub(crate) fn args(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.params
            .iter()
            .map(|p| p.as_ref() as &(dyn ToSql + Sync))
            .collect()
    }
}

/// The conditions every match must meet: the filter itself, or the members
/// of its (nested) top-level `and`.
fn conjuncts(f: &Filter) -> Vec<&Filter> {
    match f {
        Filter::And(fs) => fs.iter().flat_map(conjuncts).collect(),
        other => vec![other],
    }
}

/// A jsonpath string literal: JSON string syntax, which jsonpath shares.
fn jsonpath_string(s: &str) -> String {
    Value::String(s.to_owned()).to_string()
}

/// `$."a"."b" == <value>` for a plain body path and a string or boolean.
pub(crate) fn jsonpath_eq(path: &str, v: &Value) -> Option<String> {
    if !plain_path(path) {
        return None;
    }
    let value = match v {
        Value::String(s) => jsonpath_string(s),
        Value::Bool(b) => b.to_string(),
        _ => return None,
    };
    let mut jp = String::from("$");
    for seg in path.split('.') {
        jp.push('.');
        jp.push_str(&jsonpath_string(seg));
    }
    Some(format!("{jp} == {value}"))
}

/// A canonical record id given as a string.
fn canonical_id(v: &Value) -> Option<String> {
    let s = v.as_str()?;
    let id = Id::parse(s).ok()?;
    (id.to_string() == s).then(|| s.to_owned())
}

/// The prefilter of a `find` on a resource table.
pub(crate) fn records(q: &FindQuery) -> Prefilter {
    let mut p = Prefilter::default();
    if !q.includes_deleted() {
        p.clauses.push("NOT deleted".to_owned());
    }
    for f in conjuncts(&q.filter) {
        if let Some(c) = clause(&mut p, f) {
            p.clauses.push(c);
        }
    }
    p
}

/// `ORDER BY` for a `find` the database can page by itself: the filter
/// matches every record (`records` already keeps only the live ones unless
/// deleted ones are asked for) and the sort is by `_id` alone, or none
/// (the reference breaks ties by `_id`: ids compare as strings, byte by
/// byte, which the `id` column's "C" collation gives). `None` for any
/// other query, which the evaluator pages.
pub(crate) fn records_order(q: &FindQuery) -> Option<&'static str> {
    if !conjuncts(&q.filter).iter().all(|f| matches!(f, Filter::All)) {
        return None;
    }
    match q.sort.as_slice() {
        [] => Some(" ORDER BY id"),
        [k] if k.path == "_id" && !k.descending => Some(" ORDER BY id"),
        [k] if k.path == "_id" => Some(" ORDER BY id DESC"),
        _ => None,
    }
}

/// A clause at least as broad as `f` that an index answers, its
/// parameters bound into `p`; `None` (nothing bound) when there is none.
/// An `or` (and an `$in`) becomes one only when every member does: a
/// member without a clause could match any row.
fn clause(p: &mut Prefilter, f: &Filter) -> Option<String> {
    match f {
        Filter::Field { path, op: Op::In(xs) } if !xs.is_empty() => {
            any_of(p, xs.iter(), |p, x| field_clause(p, path, &Op::Eq(x.clone())))
        }
        Filter::Field { path, op } => field_clause(p, path, op),
        Filter::And(fs) => {
            let parts: Vec<String> = fs.iter().filter_map(|f| clause(p, f)).collect();
            (!parts.is_empty()).then(|| format!("({})", parts.join(" AND ")))
        }
        Filter::Or(fs) if !fs.is_empty() => any_of(p, fs.iter(), clause),
        _ => None,
    }
}

/// `(a OR b …)` when `each` gives a clause for every item; otherwise
/// `None`, the parameters bound meanwhile dropped again.
fn any_of<T>(
    p: &mut Prefilter,
    items: impl Iterator<Item = T>,
    each: impl Fn(&mut Prefilter, T) -> Option<String>,
) -> Option<String> {
    let mark = p.params.len();
    let mut parts = Vec::new();
    for item in items {
        let Some(c) = each(p, item) else {
            p.params.truncate(mark);
            return None;
        };
        parts.push(c);
    }
    Some(format!("({})", parts.join(" OR ")))
}

/// The clause of one condition on `path`, if an index answers it.
fn field_clause(p: &mut Prefilter, path: &str, op: &Op) -> Option<String> {
    match (path, op) {
        ("_id", Op::Eq(Operand::Json(v))) => {
            let id = canonical_id(v)?;
            let n = p.bind(Box::new(id));
            Some(format!("id = {n}"))
        }
        (col @ ("_created" | "_updated"), op) => {
            let (sym, t) = match op {
                Op::Eq(Operand::Date(t)) => ("=", t),
                Op::Gt(Operand::Date(t)) => (">", t),
                Op::Gte(Operand::Date(t)) => (">=", t),
                Op::Lt(Operand::Date(t)) => ("<", t),
                Op::Lte(Operand::Date(t)) => ("<=", t),
                _ => return None,
            };
            let n = p.bind(Box::new(t.unix_seconds()));
            let col = if col == "_created" { "created" } else { "updated" };
            Some(format!("{col} {sym} {n}"))
        }
        (path, Op::Eq(Operand::Json(v))) if !path.starts_with('_') => {
            let jp = jsonpath_eq(path, v)?;
            let n = p.bind(Box::new(jp));
            Some(format!("body @@ ({n}::text)::jsonpath"))
        }
        _ => None,
    }
}

/// The prefilter of a `find_jobs`, and whether it is exact: every
/// condition of the filter became a clause (equalities of `_id`, `status`
/// and `key` with strings, which their columns answer exactly).
pub(crate) fn jobs(q: &FindQuery) -> (Prefilter, bool) {
    let mut p = Prefilter::default();
    let mut exact = true;
    for f in conjuncts(&q.filter) {
        let (path, s) = match f {
            Filter::All => continue,
            Filter::Field {
                path,
                op: Op::Eq(Operand::Json(Value::String(s))),
            } => (path, s),
            _ => {
                exact = false;
                continue;
            }
        };
        let col = match path.as_str() {
            "_id" => "id",
            "status" => "status",
            "key" => "key",
            _ => {
                exact = false;
                continue;
            }
        };
        let n = p.bind(Box::new(s.clone()));
        p.clauses.push(format!("{col} = {n}"));
    }
    (p, exact)
}

/// `ORDER BY` for a job query whose sort keys are all on the `created` and
/// `run_at` columns (dates, never missing, whose `DATE_FORMAT` strings sort
/// as the seconds do), ties by id as the reference breaks them; `None`
/// for any other sort.
pub(crate) fn jobs_order(q: &FindQuery) -> Option<String> {
    let mut keys = Vec::new();
    for k in &q.sort {
        let col = match k.path.as_str() {
            "created" => "created",
            "run_at" => "run_at",
            _ => return None,
        };
        keys.push(format!("{col}{}", if k.descending { " DESC" } else { "" }));
    }
    keys.push("id".to_owned());
    Some(format!(" ORDER BY {}", keys.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn equality_on_a_body_path_becomes_a_quoted_jsonpath() {
        assert_eq!(
            jsonpath_eq("code.package", &json!("a\"b")).as_deref(),
            Some(r#"$."code"."package" == "a\"b""#)
        );
        assert_eq!(jsonpath_eq("a.0", &json!("x")), None);
        assert_eq!(jsonpath_eq("a", &json!(1)), None);
    }

    #[test]
    fn an_or_of_indexed_equalities_becomes_one_clause() {
        let q = FindQuery::all_matching(Filter::and(vec![
            Filter::eq("status", "installed"),
            Filter::or(vec![Filter::eq("sid", "x"), Filter::eq("path", "x")]),
        ]));
        let p = records(&q);
        assert_eq!(
            p.clauses,
            [
                "NOT deleted",
                "body @@ ($1::text)::jsonpath",
                "(body @@ ($2::text)::jsonpath OR body @@ ($3::text)::jsonpath)"
            ]
        );
        assert_eq!(p.params.len(), 3);
    }

    #[test]
    fn an_or_with_a_member_no_index_answers_is_left_to_the_evaluator() {
        let q = FindQuery::all_matching(Filter::and(vec![
            Filter::or(vec![
                Filter::eq("sid", "x"),
                Filter::field("update_group", Op::Gt(Operand::Json(json!(1)))),
            ]),
            Filter::eq("status", "installed"),
        ]));
        let p = records(&q);
        assert_eq!(p.clauses, ["NOT deleted", "body @@ ($1::text)::jsonpath"]);
        assert_eq!(p.params.len(), 1, "the or's parameters are dropped");
    }

    #[test]
    fn only_unfiltered_finds_sorted_by_id_are_paged_in_sql() {
        use atlas_core::query::SortKey;
        let by = |path: &str, descending: bool| SortKey {
            path: path.to_owned(),
            descending,
        };
        let mut q = FindQuery::default();
        assert_eq!(records_order(&q), Some(" ORDER BY id"));
        q.sort = vec![by("_id", true)];
        assert_eq!(records_order(&q), Some(" ORDER BY id DESC"));
        q.sort = vec![by("sid", false)];
        assert_eq!(records_order(&q), None, "other sorts are the evaluator's");
        let filtered = FindQuery::all_matching(Filter::eq("status", "installed"));
        assert_eq!(records_order(&filtered), None, "the prefilter is not exact");
    }

    #[test]
    fn in_becomes_an_or_of_equalities() {
        let q = FindQuery::all_matching(Filter::field(
            "meta.code_type",
            Op::In(vec![
                Operand::Json(json!("core")),
                Operand::Json(json!("profile")),
            ]),
        ));
        let p = records(&q);
        assert_eq!(
            p.clauses,
            [
                "NOT deleted",
                "(body @@ ($1::text)::jsonpath OR body @@ ($2::text)::jsonpath)"
            ]
        );
    }
}
