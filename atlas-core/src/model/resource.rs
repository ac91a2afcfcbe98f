//! [`Resource`]: the eight record collections Atlas serves.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A record collection (Eve "resource").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Resource {
    /// Code items (core, profile, packages).
    Code,
    /// Drupal instances.
    Instance,
    /// Routes published to the load balancer.
    Route,
    /// Command items run across instances.
    Commands,
    /// Per-instance statistics.
    Statistics,
    /// Optional wrappers grouping instances.
    Site,
    /// Backups of instances (database dump and files archive).
    Backup,
    /// Rollouts moving the instances on one code item to its next release,
    /// in waves.
    Rollout,
}

/// Why a string names no [`Resource`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown resource '{0}': use one of code, instance, route, commands, statistics, site, backup, rollout"
)]
pub struct UnknownResource(pub String);

impl Resource {
    /// Every resource, in the order the API lists them.
    pub const ALL: [Resource; 8] = [
        Resource::Code,
        Resource::Instance,
        Resource::Route,
        Resource::Commands,
        Resource::Statistics,
        Resource::Site,
        Resource::Backup,
        Resource::Rollout,
    ];

    /// The six resources of the first schema version, whose tables the
    /// stores' first migration creates (later resources get their tables in
    /// later migrations, so databases that already ran the first one
    /// receive them too).
    /// They lead [`Resource::ALL`]; resources added later come after them.
    pub const FIRST_SCHEMA: &'static [Resource] = Resource::ALL.split_at(6).0;

    /// The URL segment and collection name.
    pub fn as_str(self) -> &'static str {
        match self {
            Resource::Code => "code",
            Resource::Instance => "instance",
            Resource::Route => "route",
            Resource::Commands => "commands",
            Resource::Statistics => "statistics",
            Resource::Site => "site",
            Resource::Backup => "backup",
            Resource::Rollout => "rollout",
        }
    }

    /// Whether DELETE is soft on this resource (all but `commands`, as the
    /// original configured it).
    pub fn soft_delete(self) -> bool {
        !matches!(self, Resource::Commands)
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Resource {
    type Err = UnknownResource;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Resource::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownResource(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_names_round_trip() {
        for r in Resource::ALL {
            assert_eq!(r.as_str().parse::<Resource>().unwrap(), r);
        }
        assert!("codes".parse::<Resource>().is_err());
    }
}
