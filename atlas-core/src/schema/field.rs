//! The field model of a resource schema (a Cerberus-like grammar as data):
//! [`Schema`], [`Field`], [`Rules`], [`Kind`], [`Relation`], [`FieldPattern`],
//! and the small builders the resource definitions are written with.

use std::fmt;

use regex::Regex;
use serde_json::Value;

use crate::model::Resource;

/// The type of a field's value.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Kind {
    /// A JSON string.
    String,
    /// A JSON integer (booleans and fractions are refused).
    Integer,
    /// Any JSON number (booleans are refused).
    Number,
    /// A JSON boolean.
    Boolean,
    /// A record id: 24 lowercase hex characters.
    ObjectId,
    /// A date: `DATE_FORMAT` or RFC 3339 on input, `DATE_FORMAT` once
    /// normalised.
    Datetime,
    /// An object with the given fields; unknown keys are refused.
    Dict(Schema),
    /// An object whose keys are free and whose values follow the rules
    /// (Cerberus `valueschema`).
    Map(Box<Rules>),
    /// An object with free content (the original's schemaless `dict`).
    AnyDict,
    /// An array; items follow the rules when given.
    List(Option<Box<Rules>>),
}

impl Kind {
    /// The type name used in `must be of <name> type` (and for OpenAPI).
    pub fn type_name(&self) -> &'static str {
        match self {
            Kind::String => "string",
            Kind::Integer => "integer",
            Kind::Number => "number",
            Kind::Boolean => "boolean",
            Kind::ObjectId => "objectid",
            Kind::Datetime => "datetime",
            Kind::Dict(_) | Kind::Map(_) | Kind::AnyDict => "dict",
            Kind::List(_) => "list",
        }
    }
}

/// A reference from an objectid field to a record of another resource
/// (Eve `data_relation`; the referenced field is always `_id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Relation {
    /// The resource the id must exist in (live, not soft-deleted).
    pub resource: Resource,
    /// Whether `?embedded=` may inline the referenced record.
    pub embeddable: bool,
}

/// A `regex` rule: the pattern as declared (it is what the issue message
/// quotes) and its compiled whole-string form.
#[derive(Clone)]
pub struct FieldPattern {
    source: &'static str,
    compiled: Regex,
}

impl FieldPattern {
    /// Compiles `source` to match whole strings only.
    ///
    /// # Errors
    /// The regex error when `source` is not a valid pattern.
    pub fn new(source: &'static str) -> Result<Self, regex::Error> {
        Ok(Self {
            source,
            compiled: Regex::new(&format!("^(?:{source})$"))?,
        })
    }

    /// The pattern as declared.
    pub fn source(&self) -> &'static str {
        self.source
    }

    /// Whether the whole of `s` matches.
    pub fn is_match(&self, s: &str) -> bool {
        self.compiled.is_match(s)
    }
}

impl fmt::Debug for FieldPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FieldPattern({:?})", self.source)
    }
}

/// The constraints on one value (a field's value, or a list item's).
#[derive(Debug, Clone)]
pub struct Rules {
    /// The value's type.
    pub kind: Kind,
    /// Must be present on create and replace (never enforced on PATCH).
    pub required: bool,
    /// `null` is accepted (and then no other rule applies).
    pub nullable: bool,
    /// Value stored when the field is absent on create and replace.
    pub default: Option<Value>,
    /// The only values accepted; empty means any.
    pub allowed: Vec<Value>,
    /// Minimum length of a string or list.
    pub minlength: Option<usize>,
    /// Maximum length of a string or list.
    pub maxlength: Option<usize>,
    /// A whole-string pattern strings must match.
    pub regex: Option<FieldPattern>,
    /// What a value matching `regex` looks like, in words; the issue says
    /// this instead of quoting a regex too long to read.
    pub regex_description: Option<&'static str>,
    /// Declared unique among live records (enforced through the store, see
    /// [`crate::schema::unique_keys`]).
    pub unique: bool,
    /// The resource an objectid refers to.
    pub relation: Option<Relation>,
    /// Clients may not send it (`field is read-only`).
    pub readonly: bool,
    /// Never returned in responses (e.g. `instance.db_key`).
    pub internal: bool,
    /// Stores should index this path (for lookups and `where` filters).
    pub indexed: bool,
}

impl Rules {
    /// Unconstrained rules of `kind`.
    pub fn of(kind: Kind) -> Self {
        Self {
            kind,
            required: false,
            nullable: false,
            default: None,
            allowed: Vec::new(),
            minlength: None,
            maxlength: None,
            regex: None,
            regex_description: None,
            unique: false,
            relation: None,
            readonly: false,
            internal: false,
            indexed: false,
        }
    }

    /// Marks it required.
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    /// Accepts `null`.
    pub fn nullable(mut self) -> Self {
        self.nullable = true;
        self
    }

    /// Sets the default.
    pub fn default(mut self, v: impl Into<Value>) -> Self {
        self.default = Some(v.into());
        self
    }

    /// Restricts to `values` (strings), and marks the path indexed.
    pub fn allowed_str<I: IntoIterator<Item = &'static str>>(mut self, values: I) -> Self {
        self.allowed = values.into_iter().map(Value::from).collect();
        self.indexed = true;
        self
    }

    /// Restricts to `values` (integers).
    pub fn allowed_int<I: IntoIterator<Item = i64>>(mut self, values: I) -> Self {
        self.allowed = values.into_iter().map(Value::from).collect();
        self
    }

    /// Sets the minimum length.
    pub fn min(mut self, n: usize) -> Self {
        self.minlength = Some(n);
        self
    }

    /// Sets the maximum length.
    pub fn max(mut self, n: usize) -> Self {
        self.maxlength = Some(n);
        self
    }

    /// Sets the pattern.
    ///
    /// # Panics
    /// When `source` is not a valid regex. Patterns are constants of this
    /// crate, and a unit test compiles every schema, so this never reaches
    /// a user request.
    #[allow(clippy::expect_used)]
    pub fn regex(mut self, source: &'static str) -> Self {
        self.regex = Some(FieldPattern::new(source).expect("schema regexes are valid constants"));
        self
    }

    /// Sets the pattern, refusing a mismatch with `description` (what the
    /// value should look like, for people) instead of quoting the regex.
    ///
    /// # Panics
    /// As [`Rules::regex`].
    pub fn regex_described(self, source: &'static str, description: &'static str) -> Self {
        let mut rules = self.regex(source);
        rules.regex_description = Some(description);
        rules
    }

    /// Declares it unique (and indexed).
    pub fn unique(mut self) -> Self {
        self.unique = true;
        self.indexed = true;
        self
    }

    /// Marks it read-only for clients.
    pub fn readonly(mut self) -> Self {
        self.readonly = true;
        self
    }

    /// Hides it from responses.
    pub fn internal(mut self) -> Self {
        self.internal = true;
        self
    }

    /// Marks the path indexed.
    pub fn indexed(mut self) -> Self {
        self.indexed = true;
        self
    }

    /// Makes the relation of an objectid not embeddable.
    pub fn not_embeddable(mut self) -> Self {
        if let Some(r) = self.relation.as_mut() {
            r.embeddable = false;
        }
        self
    }
}

/// A named field of a schema.
#[derive(Debug, Clone)]
pub struct Field {
    /// The key in the document.
    pub name: &'static str,
    /// Its constraints.
    pub rules: Rules,
}

/// The fields of a resource, or of a nested dict, in declaration order.
#[derive(Debug, Clone, Default)]
pub struct Schema {
    fields: Vec<Field>,
}

impl Schema {
    /// A schema of `fields`.
    pub fn new(fields: Vec<Field>) -> Self {
        Self { fields }
    }

    /// The fields in declaration order.
    pub fn fields(&self) -> &[Field] {
        &self.fields
    }

    /// The field named `name`.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The rules at a dotted path (`meta.name`; list items are reached
    /// through the list's name, `meta.dependency` gives the list itself).
    pub fn rules_at(&self, path: &str) -> Option<&Rules> {
        let mut parts = path.split('.');
        let mut rules = &self.field(parts.next()?)?.rules;
        for p in parts {
            rules = match &rules.kind {
                Kind::Dict(s) => &s.field(p)?.rules,
                Kind::Map(v) => v,
                _ => return None,
            };
        }
        Some(rules)
    }

    /// Every `(dotted path, rules)` pair, depth first, parents before their
    /// children. List items are reported under the list's path; map values
    /// are not descended into.
    pub fn walk(&self) -> Vec<(String, &Rules)> {
        let mut out = Vec::new();
        walk_into(self, "", &mut out);
        out
    }
}

fn walk_into<'a>(schema: &'a Schema, prefix: &str, out: &mut Vec<(String, &'a Rules)>) {
    for f in &schema.fields {
        let path = if prefix.is_empty() {
            f.name.to_owned()
        } else {
            format!("{prefix}.{}", f.name)
        };
        out.push((path.clone(), &f.rules));
        match &f.rules.kind {
            Kind::Dict(s) => walk_into(s, &path, out),
            Kind::List(Some(item)) => out.push((path, item)),
            _ => {}
        }
    }
}

/// `name: rules`.
pub(crate) fn field(name: &'static str, rules: Rules) -> Field {
    Field { name, rules }
}

/// A string.
pub(crate) fn string() -> Rules {
    Rules::of(Kind::String)
}

/// An integer.
pub(crate) fn integer() -> Rules {
    Rules::of(Kind::Integer)
}

/// A boolean.
pub(crate) fn boolean() -> Rules {
    Rules::of(Kind::Boolean)
}

/// A date.
pub(crate) fn datetime() -> Rules {
    Rules::of(Kind::Datetime)
}

/// An id of a record of `resource` (embeddable, indexed).
pub(crate) fn objectid(resource: Resource) -> Rules {
    let mut r = Rules::of(Kind::ObjectId);
    r.relation = Some(Relation {
        resource,
        embeddable: true,
    });
    r.indexed = true;
    r
}

/// A nested dict of `fields`.
pub(crate) fn dict(fields: Vec<Field>) -> Rules {
    Rules::of(Kind::Dict(Schema::new(fields)))
}

/// A dict with free keys whose values follow `values`.
pub(crate) fn map(values: Rules) -> Rules {
    Rules::of(Kind::Map(Box::new(values)))
}

/// A dict with free content.
pub(crate) fn any_dict() -> Rules {
    Rules::of(Kind::AnyDict)
}

/// A list of `items`.
pub(crate) fn list(items: Rules) -> Rules {
    Rules::of(Kind::List(Some(Box::new(items))))
}

/// A list of anything.
pub(crate) fn any_list() -> Rules {
    Rules::of(Kind::List(None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_pattern_matches_whole_strings_only() {
        let p = FieldPattern::new("[a-z]+").unwrap();
        assert!(p.is_match("abc"));
        assert!(!p.is_match("abc1"));
        assert!(!p.is_match("1abc"));
        assert_eq!(p.source(), "[a-z]+");
    }

    #[test]
    fn rules_at_follows_nested_dicts() {
        let s = Schema::new(vec![field(
            "meta",
            dict(vec![
                field("name", string().min(3)),
                field("dependency", list(integer())),
            ]),
        )]);
        assert_eq!(s.rules_at("meta.name").unwrap().minlength, Some(3));
        assert!(matches!(
            s.rules_at("meta.dependency").unwrap().kind,
            Kind::List(_)
        ));
        assert!(s.rules_at("meta.nope").is_none());
        assert!(s.rules_at("meta.name.deeper").is_none());
    }

    #[test]
    fn walk_lists_parents_before_children_and_list_items_under_the_list() {
        let s = Schema::new(vec![field(
            "code",
            dict(vec![field("package", list(objectid(Resource::Code)))]),
        )]);
        let paths: Vec<(String, &'static str)> = s
            .walk()
            .into_iter()
            .map(|(p, r)| (p, r.kind.type_name()))
            .collect();
        assert_eq!(
            paths,
            [
                ("code".to_owned(), "dict"),
                ("code.package".to_owned(), "list"),
                ("code.package".to_owned(), "objectid")
            ]
        );
    }
}
