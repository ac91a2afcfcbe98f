//! The eight resource schemas as data, following the original Atlas (2017)
//! schema with the constraints of docs/http.md "Resources".

mod backup;
mod code;
mod commands;
mod instance;
mod rollout;
mod route;
mod site;
mod statistics;

use crate::model::Resource;
use crate::schema::field::Schema;

/// Pattern of a safe relative web path (instance `path`, route `source`):
/// `/`-separated segments of `[A-Za-z0-9_-]`, with single dots only between
/// such characters. So no `..`, no leading or trailing `/`, no hidden
/// names; `domainroot` (the domain root) is one such segment.
pub const SAFE_PATH_PATTERN: &str =
    r"[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*(/[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*)*";

/// Pattern of `code.git_url`: the original's git/ssh/http(s)/`git@host:`
/// URLs, plus local absolute paths and `file://` URLs ending in `.git`.
pub const GIT_URL_PATTERN: &str =
    r"((git|ssh|http(s)?)|(git@[\w.]+))(:(//)?)([\w.@:/\-~]+)(\.git)(/)?|(file://)?(/[\w.@\-~]+)+\.git/?";

/// Builds the schema of `res`.
pub(super) fn build(res: Resource) -> Schema {
    match res {
        Resource::Code => code::schema(),
        Resource::Instance => instance::schema(),
        Resource::Route => route::schema(),
        Resource::Commands => commands::schema(),
        Resource::Statistics => statistics::schema(),
        Resource::Site => site::schema(),
        Resource::Backup => backup::schema(),
        Resource::Rollout => rollout::schema(),
    }
}
