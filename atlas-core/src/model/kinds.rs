//! The enumerated values of the schema: instance [`Status`], [`CodeType`],
//! [`InstanceType`], [`Pool`], [`RouteType`], [`RouteStatus`],
//! [`Environment`], [`BackupKind`], [`BackupState`], [`RolloutState`],
//! [`OnFailure`]. Each renders as the exact string the API uses.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why a string is not one of an enumeration's values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unallowed value {value} for {what}: use one of {allowed}")]
pub struct UnallowedValue {
    /// What was being parsed (`status`, `code_type`, …).
    pub what: &'static str,
    /// The value given.
    pub value: String,
    /// The allowed values, comma separated.
    pub allowed: String,
}

macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident, $what:literal { $($(#[$vm:meta])* $var:ident => $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vm])* #[serde(rename = $s)] $var),+
        }

        impl $name {
            /// Every value, in schema order.
            pub const ALL: &'static [$name] = &[$($name::$var),+];

            /// The API string.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$var => $s),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnallowedValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::ALL.iter().copied().find(|v| v.as_str() == s).ok_or_else(|| UnallowedValue {
                    what: $what,
                    value: s.to_owned(),
                    allowed: Self::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", "),
                })
            }
        }
    };
}

string_enum!(
    /// An instance's lifecycle status.
    Status, "status" {
        /// Created; the provision job is (re)trying.
        Pending => "pending",
        /// Provisioned and installed; ready to be handed out.
        Available => "available",
        /// Being assigned to its owner.
        Installing => "installing",
        /// Assigned; cron runs, packages may be added.
        Installed => "installed",
        /// Being put on its routes.
        Launching => "launching",
        /// Live on its routes.
        Launched => "launched",
        /// Being pointed at the down page.
        TakeDown => "take_down",
        /// Pointed at the down page.
        Down => "down",
        /// Being brought back from down.
        Restore => "restore",
    }
);

string_enum!(
    /// What a code item is.
    CodeType, "code_type" {
        /// Drupal core.
        Core => "core",
        /// An install profile.
        Profile => "profile",
        /// A module package.
        Module => "module",
        /// A theme package.
        Theme => "theme",
        /// A library package.
        Library => "library",
    }
);

impl CodeType {
    /// Whether items of this type are packages (module, theme, library).
    pub fn is_package(self) -> bool {
        matches!(self, CodeType::Module | CodeType::Theme | CodeType::Library)
    }
}

string_enum!(
    /// What kind of site an instance is.
    InstanceType, "type" {
        /// The default, self-service sites.
        Express => "express",
        /// Custom sites.
        Custom => "custom",
        /// Legacy sites.
        Legacy => "legacy",
        /// The homepage.
        Homepage => "homepage",
    }
);

string_enum!(
    /// The server pool an instance lives in.
    Pool, "pool" {
        /// Express pool (default).
        PoolbExpress => "poolb-express",
        /// Custom pool.
        PoolaCustom => "poola-custom",
        /// Homepage pool.
        PoolbHomepage => "poolb-homepage",
        /// Legacy pool.
        WwwLegacy => "WWWLegacy",
    }
);

string_enum!(
    /// Where a route sends traffic.
    RouteType, "route_type" {
        /// Express pool.
        PoolbExpress => "poolb-express",
        /// Homepage pool.
        PoolbHomepage => "poolb-homepage",
        /// Custom pool.
        PoolaCustom => "poola-custom",
        /// Legacy servers.
        Legacy => "legacy",
        /// A redirect.
        Redirect => "redirect",
    }
);

string_enum!(
    /// Whether a route is published.
    RouteStatus, "route_status" {
        /// Published to the load balancer.
        Active => "active",
        /// Not published.
        Inactive => "inactive",
    }
);

string_enum!(
    /// The deployment environment Atlas runs in.
    Environment, "environment" {
        /// A developer machine.
        Local => "local",
        /// Development.
        Development => "development",
        /// Test.
        Test => "test",
        /// Production.
        Production => "production",
    }
);

string_enum!(
    /// Why a backup was taken.
    BackupKind, "kind" {
        /// Asked for by a client (`POST /backup`).
        Manual => "manual",
        /// Taken by the periodic backup of launched instances.
        Scheduled => "scheduled",
        /// Taken before the instance was deleted.
        PreDelete => "pre_delete",
        /// Taken before an update.
        PreUpdate => "pre_update",
    }
);

string_enum!(
    /// Where a backup stands.
    BackupState, "state" {
        /// Recorded; the backup job has not started.
        Pending => "pending",
        /// The backup job is taking it.
        Running => "running",
        /// Every part is stored and verified.
        Complete => "complete",
        /// The backup job failed for good (see `error`).
        Failed => "failed",
    }
);

string_enum!(
    /// Where a rollout stands.
    RolloutState, "state" {
        /// Recorded; its first step has not run.
        Pending => "pending",
        /// Waves are being planned and run.
        Running => "running",
        /// Paused by an operator: the current wave finishes, no new wave
        /// starts until `resume`.
        Paused => "paused",
        /// Stopped by its failure policy; `resume` with a choice for the
        /// failed instances goes on.
        Halted => "halted",
        /// Every instance was switched (or recorded as failed or skipped).
        Completed => "completed",
        /// Stopped for good by an operator.
        Aborted => "aborted",
    }
);

impl RolloutState {
    /// Whether the rollout is over (`completed` or `aborted`): nothing
    /// moves it any more.
    pub fn is_final(self) -> bool {
        matches!(self, RolloutState::Completed | RolloutState::Aborted)
    }
}

string_enum!(
    /// What a rollout does when a wave has more failures than it tolerates.
    OnFailure, "on_failure" {
        /// Stop (`halted`) until an operator resumes it.
        Halt => "halt",
        /// Record the failures and go on with the next wave.
        Continue => "continue",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_parse_their_api_strings_and_name_allowed_values_on_error() {
        assert_eq!("take_down".parse::<Status>().unwrap(), Status::TakeDown);
        assert_eq!("WWWLegacy".parse::<Pool>().unwrap(), Pool::WwwLegacy);
        let e = "plugin".parse::<CodeType>().unwrap_err();
        assert!(e.to_string().contains("core, profile, module, theme, library"));
        assert_eq!(
            serde_json::to_string(&RouteType::PoolbExpress).unwrap(),
            "\"poolb-express\""
        );
    }
}
