//! Notification texts: what the engine tells people, on the original's
//! events (code deploy/update/remove results, provision success with its
//! duration or failure, instance update and remove, command results,
//! `drush cron` failures, outdated statistics) and on rollouts halting or
//! completing. Titles follow the original's
//! Slack messages; every instance notice links to `<atlas_url>/instance/<id>`
//! and names the environment.

use crate::drift::DriftFinding;
use crate::executor::{CodeSpec, CommandOutput, InstanceSpec, RouteMapCheck};
use crate::model::{Id, Sid};
use crate::notify::{Level, Notification};
use crate::service::ServiceConfig;

/// `<atlas_url>/instance/<id>`.
pub(crate) fn instance_link(cfg: &ServiceConfig, id: &Id) -> String {
    format!("{}/instance/{id}", cfg.atlas_url.trim_end_matches('/'))
}

/// `<atlas_url>/code/<id>`.
pub(crate) fn code_link(cfg: &ServiceConfig, id: &Id) -> String {
    format!("{}/code/{id}", cfg.atlas_url.trim_end_matches('/'))
}

fn env(cfg: &ServiceConfig) -> String {
    cfg.environment.as_str().to_owned()
}

/// `n` about one instance: its link, sid and the environment.
fn about_instance(n: Notification, cfg: &ServiceConfig, id: &Id, sid: &Sid) -> Notification {
    n.link(instance_link(cfg, id))
        .field("Instance", sid.as_str())
        .field("Environment", env(cfg))
}

fn outcome(ok: bool) -> (Level, &'static str) {
    if ok {
        (Level::Success, "Success")
    } else {
        (Level::Error, "Error")
    }
}

/// `Code Deploy|Update|Remove - Success|Error` with name, environment and
/// version (and the error).
pub(crate) fn code_result(
    cfg: &ServiceConfig,
    action: &str,
    code: &CodeSpec,
    user: Option<&str>,
    error: Option<&str>,
) -> Notification {
    let (level, word) = outcome(error.is_none());
    Notification::new(
        level,
        format!("Code {action} - {word}"),
        format!("{} - {}", code.name, code.version),
    )
    .link(code_link(cfg, &code.id))
    .field("Name", code.name.clone())
    .field("Environment", env(cfg))
    .field("Version", code.version.clone())
    .field_if("User", user)
    .field_if("Error message", error)
}

fn code_string(code: &CodeSpec) -> String {
    format!("{}-{}", code.name, code.version)
}

/// `Instance provision - Success` with the seconds since the instance was
/// created.
pub(crate) fn provision_succeeded(
    cfg: &ServiceConfig,
    spec: &InstanceSpec,
    seconds: Option<u64>,
) -> Notification {
    let secs = seconds.map_or_else(|| "unknown".to_owned(), |s| s.to_string());
    let n = Notification::new(
        Level::Success,
        "Instance provision - Success",
        format!(
            "Instance provision - Success - {secs} seconds: {} is available",
            spec.sid
        ),
    );
    about_instance(n, cfg, &spec.id, &spec.sid)
        .field("Time", format!("{secs} sec"))
        .field("Core", code_string(&spec.core))
        .field("Profile", code_string(&spec.profile))
}

/// `Instance provision - Error`: the provision gave up; the instance stays
/// `pending` until the stuck-pending task removes it.
pub(crate) fn provision_failed(
    cfg: &ServiceConfig,
    id: &Id,
    sid: &Sid,
    attempts: u32,
    error: &str,
) -> Notification {
    let n = Notification::new(
        Level::Error,
        "Instance provision - Error",
        format!(
            "Instance provision - Error - {sid} failed after {attempts} attempt(s); it stays 'pending' and is \
             removed by the stuck-pending task"
        ),
    );
    about_instance(n, cfg, id, sid).field("Error message", error)
}

/// `Instance Update - Success|Error` after a lifecycle step, a code switch
/// or a settings rewrite.
pub(crate) fn instance_updated(
    cfg: &ServiceConfig,
    id: &Id,
    sid: &Sid,
    what: &str,
    status: &str,
    error: Option<&str>,
) -> Notification {
    let (level, word) = outcome(error.is_none());
    let n = Notification::new(
        level,
        format!("Instance Update - {word}"),
        format!("{sid}: {what}"),
    );
    about_instance(n, cfg, id, sid)
        .field("Status", status)
        .field_if("Error message", error)
}

/// `Instance Remove - Success|Error`.
pub(crate) fn instance_removed(
    cfg: &ServiceConfig,
    id: &Id,
    sid: &Sid,
    user: Option<&str>,
    error: Option<&str>,
) -> Notification {
    let (level, word) = outcome(error.is_none());
    let n = Notification::new(
        level,
        format!("Instance Remove - {word}"),
        match error {
            None => format!("{sid} was removed from the servers and its statistics deleted"),
            Some(_) => format!("{sid} could not be removed from the servers"),
        },
    );
    about_instance(n, cfg, id, sid)
        .field_if("Delete requested by", user)
        .field_if("Error message", error)
}

/// `Command - Success|Error` for one instance's run of a command item.
pub(crate) fn command_result(
    cfg: &ServiceConfig,
    name: &str,
    command: &str,
    spec: &InstanceSpec,
    output: Option<&CommandOutput>,
    error: Option<&str>,
) -> Notification {
    let exit_ok = output.is_some_and(|o| o.exit_status == Some(0));
    let (level, word) = outcome(error.is_none() && (output.is_none() || exit_ok));
    let n = Notification::new(level, format!("Command - {word}"), command);
    let mut n = about_instance(n, cfg, &spec.id, &spec.sid).field("Command", name);
    if let Some(o) = output {
        let status = o
            .exit_status
            .map_or_else(|| "killed by a signal".to_owned(), |s| s.to_string());
        n = n
            .field("Exit status", status)
            .field("Time", format!("{} ms", o.duration.as_millis()));
    }
    n.field_if("Error message", error)
}

/// `Command - Success|Error` for a hook command that runs once (`clear_apc`,
/// `import_code`, …).
pub(crate) fn hook_result(
    cfg: &ServiceConfig,
    name: &str,
    hook: &str,
    detail: &str,
    error: Option<&str>,
) -> Notification {
    let (level, word) = outcome(error.is_none());
    Notification::new(level, format!("Command - {word}"), format!("{hook}: {detail}"))
        .field("Environment", env(cfg))
        .field("Command", name)
        .field_if("Error message", error)
}

/// `Run Command` / `Error`: a periodic `drush cron` failed.
pub(crate) fn cron_failed(cfg: &ServiceConfig, id: &Id, sid: &Sid, error: &str) -> Notification {
    about_instance(
        Notification::new(Level::Error, "Run Command", "Error"),
        cfg,
        id,
        sid,
    )
    .field("Command", "drush cron")
    .field("Error message", error)
}

/// `Outdated Statistics`: statistics not updated within the configured age.
pub(crate) fn outdated_statistics(cfg: &ServiceConfig, sids: &[Sid]) -> Notification {
    let hours = cfg.statistics_stale_after.as_secs() / 3600;
    let list: Vec<&str> = sids.iter().map(Sid::as_str).collect();
    Notification::new(
        Level::Warning,
        "Outdated Statistics",
        format!(
            "{} statistics items have not been updated in {hours} hours.",
            sids.len()
        ),
    )
    .link(format!("{}/statistics", cfg.atlas_url.trim_end_matches('/')))
    .field("Environment", env(cfg))
    .field("Instances", list.join(", "))
}

/// `Backups Overdue`: instances whose newest complete backup is older than
/// `backup_max_age` (or that have none), newly so since the last check.
pub(crate) fn backups_overdue(cfg: &ServiceConfig, sids: &[&str]) -> Notification {
    let hours = cfg.backup_max_age.as_secs() / 3600;
    Notification::new(
        Level::Warning,
        "Backups Overdue",
        format!(
            "{} instance(s) have had no successful backup in {hours} hours; \
             the failed backups' `error` and the backup_take jobs say why.",
            sids.len()
        ),
    )
    .link(format!("{}/backup", cfg.atlas_url.trim_end_matches('/')))
    .field("Environment", env(cfg))
    .field("Instances", sids.join(", "))
}

/// `Rollout Halted`: a wave of rollout `id` failed on more instances than
/// it tolerates; names the failed sids.
pub(crate) fn rollout_halted(cfg: &ServiceConfig, id: &Id, wave: u64, sids: &[&str]) -> Notification {
    Notification::new(
        Level::Error,
        "Rollout Halted",
        format!(
            "Wave {wave} failed on {} instance(s); the rollout is halted. Resume it with \
             {{\"failed\": \"retry\"}} or {{\"failed\": \"skip\"}}, or abort it.",
            sids.len()
        ),
    )
    .link(format!("{}/rollout/{id}", cfg.atlas_url.trim_end_matches('/')))
    .field("Environment", env(cfg))
    .field("Failed", sids.join(", "))
}

/// `Rollout Completed`: every instance of rollout `id` was switched (or
/// recorded as failed or skipped).
pub(crate) fn rollout_completed(
    cfg: &ServiceConfig,
    id: &Id,
    done: u64,
    failed: usize,
    skipped: usize,
) -> Notification {
    let level = if failed == 0 {
        Level::Success
    } else {
        Level::Warning
    };
    Notification::new(
        level,
        "Rollout Completed",
        format!("{done} instance(s) switched, {failed} failed, {skipped} skipped."),
    )
    .link(format!("{}/rollout/{id}", cfg.atlas_url.trim_end_matches('/')))
    .field("Environment", env(cfg))
}

/// `Route Map Differs` naming each load balancer whose map differs from
/// the records, with how many entries.
pub(crate) fn route_map_drift(cfg: &ServiceConfig, differing: &[&RouteMapCheck]) -> Notification {
    let hosts: Vec<String> = differing
        .iter()
        .map(|c| match &c.error {
            Some(e) => format!("{} (unreadable: {e})", c.host),
            None => format!("{} ({} entries)", c.host, c.differences.len()),
        })
        .collect();
    Notification::new(
        Level::Warning,
        "Route Map Differs",
        format!(
            "The route map on {} load balancer(s) differs from the records; \
             `atlas routes check` lists the entries; the next route publication rewrites the map.",
            differing.len()
        ),
    )
    .field("Environment", env(cfg))
    .field("Load balancers", hosts.join(", "))
}

/// `Drift Found` on an instance: each new finding's host, kind and
/// detail, and whether a heal fixes it.
pub(crate) fn drift_found(cfg: &ServiceConfig, id: &Id, sid: &Sid, new: &[&DriftFinding]) -> Notification {
    let lines: Vec<String> = new
        .iter()
        .map(|f| {
            let heal = if f.heals() { "healable" } else { "not healable" };
            format!("{} {}: {} ({heal})", f.host, f.kind, f.detail)
        })
        .collect();
    let n = Notification::new(
        Level::Warning,
        "Drift Found",
        format!(
            "{} new difference(s) between the servers and the records; `POST /instance/{id}/heal` \
             re-applies the healable ones, the others need a person.\n{}",
            new.len(),
            lines.join("\n")
        ),
    );
    about_instance(n, cfg, id, sid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CodeType, Environment, Timestamp};

    fn cfg() -> ServiceConfig {
        ServiceConfig {
            environment: Environment::Test,
            atlas_url: "https://atlas.example.edu/".into(),
            ..ServiceConfig::default()
        }
    }

    fn code() -> CodeSpec {
        CodeSpec {
            id: Id::from_bytes([1; 12]),
            name: "drupal".into(),
            version: "7.42".into(),
            code_type: CodeType::Core,
            git_url: "/srv/git/drupal.git".into(),
            commit_hash: "abc".into(),
            is_current: true,
        }
    }

    fn field<'a>(n: &'a Notification, name: &str) -> Option<&'a str> {
        n.fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    #[test]
    fn code_deploy_notice_names_code_environment_and_version() {
        let n = code_result(&cfg(), "Deploy", &code(), Some("alice"), None);
        assert_eq!(n.title, "Code Deploy - Success");
        assert_eq!(n.level, Level::Success);
        assert_eq!(n.text, "drupal - 7.42");
        assert_eq!(field(&n, "Name"), Some("drupal"));
        assert_eq!(field(&n, "Environment"), Some("test"));
        assert_eq!(field(&n, "Version"), Some("7.42"));
        assert_eq!(field(&n, "User"), Some("alice"));
        assert_eq!(
            n.link.as_deref(),
            Some("https://atlas.example.edu/code/010101010101010101010101")
        );
    }

    #[test]
    fn code_deploy_failure_notice_is_an_error_carrying_the_message() {
        let n = code_result(&cfg(), "Deploy", &code(), None, Some("git clone failed"));
        assert_eq!(n.title, "Code Deploy - Error");
        assert_eq!(n.level, Level::Error);
        assert_eq!(field(&n, "Error message"), Some("git clone failed"));
    }

    #[test]
    fn outdated_statistics_notice_lists_the_sids_as_a_warning() {
        let sids = [
            Sid::parse("p1aaaaaaaaaa").unwrap(),
            Sid::parse("p1bbbbbbbbbb").unwrap(),
        ];
        let n = outdated_statistics(&cfg(), &sids);
        assert_eq!(n.level, Level::Warning);
        assert_eq!(n.text, "2 statistics items have not been updated in 36 hours.");
        assert_eq!(field(&n, "Instances"), Some("p1aaaaaaaaaa, p1bbbbbbbbbb"));
    }

    #[test]
    fn instance_link_points_at_the_instance_resource() {
        let id = Id::generate(Timestamp::from_unix(0));
        assert_eq!(
            instance_link(&cfg(), &id),
            format!("https://atlas.example.edu/instance/{id}")
        );
    }

    #[test]
    fn cron_failure_notice_is_an_error_naming_drush_cron() {
        let sid = Sid::parse("p1cccccccccc").unwrap();
        let n = cron_failed(&cfg(), &Id::from_bytes([2; 12]), &sid, "exit 1");
        assert_eq!(
            (n.title.as_str(), n.text.as_str(), n.level),
            ("Run Command", "Error", Level::Error)
        );
        assert_eq!(field(&n, "Command"), Some("drush cron"));
        assert_eq!(field(&n, "Instance"), Some("p1cccccccccc"));
    }
}
