//! The [`Filter`] AST a `where` clause parses into, and the operands it
//! compares with. Evaluation semantics live in `eval.rs`; every store must
//! reproduce them.

use serde_json::Value;

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
