//! The rules for values that become file names or program arguments on the
//! servers — code item names, versions and commit hashes — written once:
//! the schema validates requests with them and the executor re-checks its
//! specs with the same functions, so nothing the API accepts is refused
//! later on a server (and nothing refused there is accepted here).

use std::sync::OnceLock;

use crate::schema::FieldPattern;

/// A code item's `meta.name`: letters, digits, `_` and `-`, not starting
/// with `-` (it names checkouts and `<name>-current` links).
pub const CODE_NAME_PATTERN: &str = r"[A-Za-z0-9_][A-Za-z0-9_\-]*";
/// Bounds of a code item's name length.
pub const CODE_NAME_LEN: (usize, usize) = (3, 128);

/// A code item's `meta.version`: starts with a letter or digit; letters,
/// digits, `_`, `+`, `-`, and single dots between them (`7.x-2.1+rc1`).
pub const VERSION_PATTERN: &str = r"[A-Za-z0-9][A-Za-z0-9_+\-]*(\.[A-Za-z0-9_+\-]+)*";
/// Bounds of a version's length.
pub const VERSION_LEN: (usize, usize) = (1, 128);

/// A git commit hash: 7 to 40 hexadecimal digits (an abbreviated or full
/// SHA-1).
pub const COMMIT_HASH_PATTERN: &str = r"[0-9a-fA-F]{7,40}";

/// A value that breaks one of these rules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} '{value}' is not allowed: {rule}")]
pub struct IdentError {
    /// What the value is (`code name`, `version`, `commit hash`).
    pub what: &'static str,
    /// The value as given (control characters escaped).
    pub value: String,
    /// The rule it breaks, in words.
    pub rule: &'static str,
}

fn compiled(cell: &'static OnceLock<FieldPattern>, source: &'static str) -> &'static FieldPattern {
    cell.get_or_init(|| FieldPattern::new(source).expect("identifier patterns are valid constants"))
}

fn check(
    what: &'static str,
    value: &str,
    (min, max): (usize, usize),
    pattern: &FieldPattern,
    rule: &'static str,
) -> Result<(), IdentError> {
    let len = value.chars().count();
    if (min..=max).contains(&len) && pattern.is_match(value) {
        Ok(())
    } else {
        Err(IdentError {
            what,
            value: value.escape_debug().to_string(),
            rule,
        })
    }
}

/// Checks a code item name against [`CODE_NAME_PATTERN`] and
/// [`CODE_NAME_LEN`].
///
/// # Errors
/// [`IdentError`] saying what is allowed.
pub fn check_code_name(name: &str) -> Result<(), IdentError> {
    static P: OnceLock<FieldPattern> = OnceLock::new();
    check(
        "code name",
        name,
        CODE_NAME_LEN,
        compiled(&P, CODE_NAME_PATTERN),
        "use 3-128 characters of A-Z a-z 0-9 _ - (not starting with -)",
    )
}

/// Checks a version against [`VERSION_PATTERN`] and [`VERSION_LEN`].
///
/// # Errors
/// [`IdentError`] saying what is allowed.
pub fn check_version(version: &str) -> Result<(), IdentError> {
    static P: OnceLock<FieldPattern> = OnceLock::new();
    check(
        "version",
        version,
        VERSION_LEN,
        compiled(&P, VERSION_PATTERN),
        "use 1-128 letters, digits and _ + -, with single dots between them, starting with a letter or digit",
    )
}

/// Checks a commit hash against [`COMMIT_HASH_PATTERN`].
///
/// # Errors
/// [`IdentError`] saying what is allowed.
pub fn check_commit_hash(hash: &str) -> Result<(), IdentError> {
    static P: OnceLock<FieldPattern> = OnceLock::new();
    check(
        "commit hash",
        hash,
        (7, 40),
        compiled(&P, COMMIT_HASH_PATTERN),
        "use the 7-40 hexadecimal digits of a git commit",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_names_are_letters_digits_underscore_and_dash() {
        for ok in ["drupal", "cu_express-2", "abc", "_private"] {
            check_code_name(ok).unwrap();
        }
        for bad in ["", "ab", "../x", "a/b", "-rf", "a b", "a.b", "my.mod+1", "x\ny"] {
            assert!(check_code_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_code_name(&"a".repeat(129)).is_err());
    }

    #[test]
    fn versions_allow_single_dots_and_plus_but_no_path_tricks() {
        for ok in ["7.42", "7.x-2.1+rc1", "1", "2.2.5"] {
            check_version(ok).unwrap();
        }
        for bad in ["", "..", ".hidden", "1/2", "1..2", "-1", "7.x 1", "1.", "1\n2"] {
            assert!(check_version(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn commit_hashes_are_7_to_40_hex_digits() {
        check_commit_hash("0123abc").unwrap();
        check_commit_hash(&"a".repeat(40)).unwrap();
        for bad in [
            "--output=/tmp/x",
            "$(touch x)",
            "abcd\nef",
            "main",
            "012345",
            &"a".repeat(41),
        ] {
            assert!(check_commit_hash(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn errors_name_the_value_and_the_rule_with_control_characters_escaped() {
        let e = check_commit_hash("abcd\nef").unwrap_err().to_string();
        assert_eq!(
            e,
            r"commit hash 'abcd\nef' is not allowed: use the 7-40 hexadecimal digits of a git commit"
        );
    }
}
