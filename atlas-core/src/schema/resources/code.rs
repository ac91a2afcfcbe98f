//! The `code` schema: a versioned piece of code (core, profile, package)
//! deployed from git.

use super::GIT_URL_PATTERN;
use crate::model::{CodeType, Resource};
use crate::schema::field::{any_list, boolean, dict, field, list, objectid, string, Schema};
use crate::schema::{CODE_NAME_LEN, CODE_NAME_PATTERN, COMMIT_HASH_PATTERN, VERSION_LEN, VERSION_PATTERN};

pub(super) fn schema() -> Schema {
    Schema::new(vec![
        field(
            "meta",
            dict(vec![
                field(
                    "name",
                    string()
                        .min(CODE_NAME_LEN.0)
                        .max(CODE_NAME_LEN.1)
                        .regex(CODE_NAME_PATTERN)
                        .required()
                        .indexed(),
                ),
                field(
                    "version",
                    string()
                        .min(VERSION_LEN.0)
                        .max(VERSION_LEN.1)
                        .regex(VERSION_PATTERN)
                        .required()
                        .indexed(),
                ),
                field(
                    "code_type",
                    string()
                        .allowed_str(CodeType::ALL.iter().map(|t| t.as_str()))
                        .required(),
                ),
                field("label", string()),
                field("is_current", boolean().default(false).required().indexed()),
                field("tag", any_list()),
                field("dependency", list(objectid(Resource::Code))),
            ])
            .unique(),
        ),
        field(
            "git_url",
            string()
                .regex_described(
                    GIT_URL_PATTERN,
                    "a git URL: use https://host/path.git, ssh://host/path.git, git@host:path.git, \
                     or a local path or file:// URL ending in .git",
                )
                .required(),
        ),
        field(
            "commit_hash",
            string().regex(COMMIT_HASH_PATTERN).required().unique(),
        ),
        field("created_by", string()),
        field("modified_by", string()),
    ])
}
