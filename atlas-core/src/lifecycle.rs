//! The instance lifecycle: which status changes a client may request, their
//! guards, the work each one triggers, the status it settles in and the date
//! it stamps; plus the lifecycle guards on packages and routes.
//!
//! ```text
//! pending ──provision ok──▶ available ──client: installing──▶ installing ──ok──▶ installed
//! installed ──client: launching (needs routes.primary_route)──▶ launching ──ok──▶ launched
//! installed|launched ──client: take_down──▶ take_down ──ok──▶ down
//! down ──client: restore──▶ restore ──ok──▶ installed
//! ```
//!
//! `pending` and `available` are set by the system only ([`PROVISION`]).
//! A client PATCHing `installed` on an `available` instance (the seed does)
//! gets the same work as `installing`. While work is in flight (`installing`,
//! `launching`, `take_down`, `restore`) every change is refused.
//! Everything here is pure: the service turns a [`Transition`] into writes
//! and a job, the worker settles it.

use std::fmt;

use serde_json::{Map, Value};

use crate::model::{Body, Id, Instance, RouteStatus, Status, Timestamp};

/// Facts about the instance that guards need, beyond its status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct TransitionContext {
    /// Whether `routes.primary_route` is set (needed to launch).
    pub has_primary_route: bool,
}

impl TransitionContext {
    /// The context of `instance` as stored (or as it will be after the
    /// request's other changes are merged).
    pub(crate) fn of(instance: &Instance) -> Self {
        TransitionContext {
            has_primary_route: instance.routes.primary_route.is_some(),
        }
    }
}

/// The work (job) a client-requested transition triggers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Work {
    /// Rewrite settings for the assigned instance, clear caches.
    Assign,
    /// Rewrite settings, activate routes, symlink sources, publish routes.
    Launch,
    /// Point the instance at the down page.
    TakeDown,
    /// Point it back and run database updates.
    Restore,
}

impl Work {
    /// Every kind of work.
    pub const ALL: [Work; 4] = [Work::Assign, Work::Launch, Work::TakeDown, Work::Restore];

    /// The name used in refusals and engine messages.
    pub fn name(&self) -> &'static str {
        match self {
            Work::Assign => "install_assign",
            Work::Launch => "launch",
            Work::TakeDown => "take_down",
            Work::Restore => "restore",
        }
    }

    /// The status the instance holds while this work is in flight.
    pub fn in_flight(&self) -> Status {
        match self {
            Work::Assign => Status::Installing,
            Work::Launch => Status::Launching,
            Work::TakeDown => Status::TakeDown,
            Work::Restore => Status::Restore,
        }
    }

    /// The status the instance settles in when the work succeeds.
    pub fn settles(&self) -> Status {
        match self {
            Work::Assign | Work::Restore => Status::Installed,
            Work::Launch => Status::Launched,
            Work::TakeDown => Status::Down,
        }
    }

    /// The date stamped when the work succeeds.
    pub fn stamp(&self) -> Option<DateStamp> {
        match self {
            Work::Assign => Some(DateStamp::Assigned),
            Work::Launch => Some(DateStamp::Launched),
            Work::TakeDown => Some(DateStamp::TakenDown),
            Work::Restore => None,
        }
    }

    /// The work in flight while an instance is in `status`, if any.
    pub fn in_flight_at(status: Status) -> Option<Work> {
        Work::ALL.into_iter().find(|w| w.in_flight() == status)
    }
}

impl fmt::Display for Work {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which of the instance's `dates` a transition stamps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DateStamp {
    /// `dates.assigned`.
    Assigned,
    /// `dates.launched`.
    Launched,
    /// `dates.taken_down`.
    TakenDown,
}

impl DateStamp {
    /// The field name inside `dates`.
    pub fn field(&self) -> &'static str {
        match self {
            DateStamp::Assigned => "assigned",
            DateStamp::Launched => "launched",
            DateStamp::TakenDown => "taken_down",
        }
    }

    /// The dotted path (`dates.assigned`).
    pub fn path(&self) -> &'static str {
        match self {
            DateStamp::Assigned => "dates.assigned",
            DateStamp::Launched => "dates.launched",
            DateStamp::TakenDown => "dates.taken_down",
        }
    }
}

/// The plan for an accepted client-requested status change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Transition {
    /// The status before the request.
    pub from: Status,
    /// The status the client asked for.
    pub requested: Status,
    /// The status stored together with the request (the in-flight status).
    pub set_now: Status,
    /// The job to enqueue in the same batch.
    pub work: Work,
    /// The status stored when the work succeeds.
    pub settles: Status,
    /// The date stamped when the work succeeds.
    pub stamp: Option<DateStamp>,
}

impl Transition {
    fn of(from: Status, requested: Status, work: Work) -> Self {
        Transition {
            from,
            requested,
            set_now: work.in_flight(),
            work,
            settles: work.settles(),
            stamp: work.stamp(),
        }
    }

    /// The patch stored with the request: `{"status": set_now}`.
    pub(crate) fn request_patch(&self) -> Body {
        let mut m = Map::new();
        m.insert("status".into(), Value::String(self.set_now.as_str().into()));
        m
    }

    /// The patch stored when the work succeeds at `now`:
    /// `{"status": settles, "dates": {stamp: now}}`.
    pub(crate) fn settle_patch(&self, now: Timestamp) -> Body {
        settle_patch(self.settles, self.stamp, now)
    }
}

fn settle_patch(status: Status, stamp: Option<DateStamp>, now: Timestamp) -> Body {
    let mut m = Map::new();
    m.insert("status".into(), Value::String(status.as_str().into()));
    if let Some(s) = stamp {
        let mut dates = Map::new();
        dates.insert(s.field().into(), Value::String(now.to_string()));
        m.insert("dates".into(), Value::Object(dates));
    }
    m
}

/// A status change only the system makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SystemTransition {
    /// The status it starts from.
    pub from: Status,
    /// The status stored when the job succeeds (a failed job leaves `from`).
    pub settles: Status,
}

impl SystemTransition {
    /// The patch stored when the job succeeds: `{"status": settles}`.
    pub(crate) fn settle_patch(&self, now: Timestamp) -> Body {
        settle_patch(self.settles, None, now)
    }
}

/// `pending ──provision ok──▶ available`: set `pending` on create, enqueue
/// the provision job; only its full success stores `available`.
pub(crate) const PROVISION: SystemTransition = SystemTransition {
    from: Status::Pending,
    settles: Status::Available,
};

/// Why a requested status change is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransitionError {
    /// The change is not in the table (or the instance is busy).
    #[error("{}", refusal_message(*.from, *.to, .allowed))]
    Refused {
        /// The current status.
        from: Status,
        /// The requested status.
        to: Status,
        /// What a client may request from `from` (empty while busy).
        allowed: Vec<Status>,
    },
    /// `launching` without `routes.primary_route`.
    #[error(
        "cannot go from '{from}' to 'launching': the instance has no routes.primary_route; \
         set routes.primary_route to the route it should be served on, then request 'launching' again"
    )]
    NeedsPrimaryRoute {
        /// The current status.
        from: Status,
    },
}

impl TransitionError {
    /// The field a client should look at (`status` or `routes.primary_route`).
    pub fn field(&self) -> &'static str {
        match self {
            TransitionError::Refused { .. } => "status",
            TransitionError::NeedsPrimaryRoute { .. } => "routes.primary_route",
        }
    }
}

fn list(statuses: &[Status]) -> String {
    statuses.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
}

fn refusal_message(from: Status, to: Status, allowed: &[Status]) -> String {
    if from == Status::Pending {
        return format!(
            "instance is 'pending'; a client may not change the status until provisioning finishes \
             (it becomes 'available' by itself), so '{to}' cannot be requested yet"
        );
    }
    if let Some(work) = Work::in_flight_at(from) {
        return format!(
            "instance is busy: it is '{from}' while its {work} work runs; no status change is allowed \
             until it settles in '{}', so '{to}' cannot be requested now",
            work.settles()
        );
    }
    let system_only = if matches!(to, Status::Pending | Status::Available) {
        format!(" ('{to}' is set by the system only)")
    } else {
        String::new()
    };
    format!(
        "cannot go from '{from}' to '{to}'{system_only}; allowed from '{from}': {}",
        list(allowed)
    )
}

/// What a client may request from `current` (empty while `pending` or busy).
pub(crate) fn allowed_targets(current: Status) -> Vec<Status> {
    match current {
        Status::Available => vec![Status::Installing, Status::Installed],
        Status::Installed => vec![Status::Launching, Status::TakeDown],
        Status::Launched => vec![Status::TakeDown],
        Status::Down => vec![Status::Restore],
        Status::Pending | Status::Installing | Status::Launching | Status::TakeDown | Status::Restore => {
            Vec::new()
        }
    }
}

/// Plans a client-requested status change from `current` to `requested`.
///
/// # Behavior
/// `Ok(None)` when `requested == current` (nothing to do). Otherwise the
/// transition of the table, with the work to enqueue and where it settles.
///
/// # Errors
/// [`TransitionError::Refused`] for any change outside the table, while
/// `pending`, and while work is in flight; [`TransitionError::NeedsPrimaryRoute`]
/// for `launching` without `routes.primary_route`.
pub(crate) fn plan(
    current: Status,
    requested: Status,
    ctx: &TransitionContext,
) -> Result<Option<Transition>, TransitionError> {
    if requested == current {
        return Ok(None);
    }
    let work = match (current, requested) {
        (Status::Available, Status::Installing | Status::Installed) => Work::Assign,
        (Status::Installed, Status::Launching) => {
            if !ctx.has_primary_route {
                return Err(TransitionError::NeedsPrimaryRoute { from: current });
            }
            Work::Launch
        }
        (Status::Installed | Status::Launched, Status::TakeDown) => Work::TakeDown,
        (Status::Down, Status::Restore) => Work::Restore,
        _ => {
            return Err(TransitionError::Refused {
                from: current,
                to: requested,
                allowed: allowed_targets(current),
            })
        }
    };
    Ok(Some(Transition::of(current, requested, work)))
}

/// Whether periodic `drush cron` may run on an instance in `status`: once
/// it is assigned (never on `pending` or `available`) and while it serves
/// its own code (not while it is pointed at the down page).
pub(crate) fn cron_runs(status: Status) -> bool {
    matches!(
        status,
        Status::Installing | Status::Installed | Status::Launching | Status::Launched
    )
}

/// Why a change is refused by a lifecycle guard.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GuardError {
    /// Packages added to an instance that is not installed yet.
    #[error(
        "packages may not be added while the instance is '{status}'; they can be added once it is \
         'installed' (request 'installing' first). Refused: {}",
        ids(.added)
    )]
    PackagesBeforeInstalled {
        /// The instance's status.
        status: Status,
        /// The package ids the change would add.
        added: Vec<Id>,
    },
    /// An active route pointing at an instance that is not launched.
    #[error(
        "an active route may only point at a launched instance, and this route's instance is \
         '{instance_status}'; keep the route inactive until the instance is launched \
         (routes with active_on_launch: true are activated by the launch)"
    )]
    RouteToUnlaunchedInstance {
        /// The status of the instance the route points at.
        instance_status: Status,
    },
}

impl GuardError {
    /// The field a client should look at.
    pub fn field(&self) -> &'static str {
        match self {
            GuardError::PackagesBeforeInstalled { .. } => "code.package",
            GuardError::RouteToUnlaunchedInstance { .. } => "route_status",
        }
    }
}

fn ids(ids: &[Id]) -> String {
    ids.iter().map(Id::to_string).collect::<Vec<_>>().join(", ")
}

/// Checks a change of an instance's package list from `old` to `new`.
///
/// # Behavior
/// Adding packages on `pending` or `available` is refused; removing
/// packages, reordering or leaving them unchanged is always fine, as is
/// adding them from `installed` on.
///
/// # Errors
/// [`GuardError::PackagesBeforeInstalled`] naming the status and the added ids.
pub(crate) fn check_packages_change(status: Status, old: &[Id], new: &[Id]) -> Result<(), GuardError> {
    if !matches!(status, Status::Pending | Status::Available) {
        return Ok(());
    }
    let mut added: Vec<Id> = Vec::new();
    for id in new {
        if !old.contains(id) && !added.contains(id) {
            added.push(*id);
        }
    }
    if added.is_empty() {
        Ok(())
    } else {
        Err(GuardError::PackagesBeforeInstalled { status, added })
    }
}

/// Checks a route's status against the instance it points at
/// (`instance_status` is `None` when the route points at no instance, as
/// redirects do).
///
/// # Errors
/// [`GuardError::RouteToUnlaunchedInstance`] when an `active` route points at
/// an instance that is not `launched`.
pub(crate) fn check_route_activation(
    route_status: RouteStatus,
    instance_status: Option<Status>,
) -> Result<(), GuardError> {
    match (route_status, instance_status) {
        (RouteStatus::Active, Some(s)) if s != Status::Launched => {
            Err(GuardError::RouteToUnlaunchedInstance { instance_status: s })
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WITH_ROUTE: TransitionContext = TransitionContext {
        has_primary_route: true,
    };
    const NO_ROUTE: TransitionContext = TransitionContext {
        has_primary_route: false,
    };

    fn planned(from: Status, to: Status) -> Transition {
        plan(from, to, &WITH_ROUTE)
            .expect("transition is allowed")
            .expect("transition is not a no-op")
    }

    fn refusal(from: Status, to: Status) -> TransitionError {
        plan(from, to, &WITH_ROUTE).expect_err("transition is refused")
    }

    fn id(n: u8) -> Id {
        Id::from_bytes([n; 12])
    }

    // The table, one test per row.

    #[test]
    fn available_to_installing_assigns_and_settles_installed_stamping_assigned() {
        let t = planned(Status::Available, Status::Installing);
        assert_eq!(t.from, Status::Available);
        assert_eq!(t.requested, Status::Installing);
        assert_eq!(t.set_now, Status::Installing);
        assert_eq!(t.work, Work::Assign);
        assert_eq!(t.work.name(), "install_assign");
        assert_eq!(t.settles, Status::Installed);
        assert_eq!(t.stamp, Some(DateStamp::Assigned));
    }

    #[test]
    fn available_to_installed_does_the_installing_work() {
        let t = planned(Status::Available, Status::Installed);
        assert_eq!(t.requested, Status::Installed);
        assert_eq!(t.set_now, Status::Installing);
        assert_eq!(t.work, Work::Assign);
        assert_eq!(t.settles, Status::Installed);
        assert_eq!(t.stamp, Some(DateStamp::Assigned));
    }

    #[test]
    fn installed_to_launching_launches_and_settles_launched_stamping_launched() {
        let t = planned(Status::Installed, Status::Launching);
        assert_eq!(t.set_now, Status::Launching);
        assert_eq!(t.work, Work::Launch);
        assert_eq!(t.work.name(), "launch");
        assert_eq!(t.settles, Status::Launched);
        assert_eq!(t.stamp, Some(DateStamp::Launched));
    }

    #[test]
    fn installed_to_take_down_takes_down_and_settles_down_stamping_taken_down() {
        let t = planned(Status::Installed, Status::TakeDown);
        assert_eq!(t.set_now, Status::TakeDown);
        assert_eq!(t.work, Work::TakeDown);
        assert_eq!(t.work.name(), "take_down");
        assert_eq!(t.settles, Status::Down);
        assert_eq!(t.stamp, Some(DateStamp::TakenDown));
    }

    #[test]
    fn launched_to_take_down_takes_down_and_settles_down_stamping_taken_down() {
        let t = planned(Status::Launched, Status::TakeDown);
        assert_eq!(t.set_now, Status::TakeDown);
        assert_eq!(t.work, Work::TakeDown);
        assert_eq!(t.settles, Status::Down);
        assert_eq!(t.stamp, Some(DateStamp::TakenDown));
    }

    #[test]
    fn down_to_restore_restores_and_settles_installed_without_a_stamp() {
        let t = planned(Status::Down, Status::Restore);
        assert_eq!(t.set_now, Status::Restore);
        assert_eq!(t.work, Work::Restore);
        assert_eq!(t.work.name(), "restore");
        assert_eq!(t.settles, Status::Installed);
        assert_eq!(t.stamp, None);
    }

    #[test]
    fn provision_is_a_system_transition_from_pending_to_available() {
        assert_eq!(PROVISION.from, Status::Pending);
        assert_eq!(PROVISION.settles, Status::Available);
        let now = Timestamp::from_unix(0);
        assert_eq!(
            Value::Object(PROVISION.settle_patch(now)),
            serde_json::json!({"status": "available"})
        );
    }

    #[test]
    fn requesting_the_current_status_plans_nothing() {
        for &s in Status::ALL {
            assert_eq!(plan(s, s, &NO_ROUTE), Ok(None), "{s}");
        }
    }

    // Guards and refusals.

    #[test]
    fn launching_without_primary_route_is_refused() {
        let e = plan(Status::Installed, Status::Launching, &NO_ROUTE).unwrap_err();
        assert_eq!(
            e,
            TransitionError::NeedsPrimaryRoute {
                from: Status::Installed
            }
        );
        assert_eq!(e.field(), "routes.primary_route");
        assert!(e.to_string().contains("routes.primary_route"), "{e}");
        assert!(e.to_string().contains("'installed'"), "{e}");
    }

    #[test]
    fn pending_refuses_every_client_change_until_provisioning_finishes() {
        for &to in Status::ALL.iter().filter(|&&s| s != Status::Pending) {
            let e = refusal(Status::Pending, to);
            assert_eq!(
                e,
                TransitionError::Refused {
                    from: Status::Pending,
                    to,
                    allowed: vec![]
                }
            );
            assert!(e.to_string().starts_with(
                "instance is 'pending'; a client may not change the status until provisioning finishes"
            ));
        }
    }

    #[test]
    fn busy_statuses_refuse_every_change_saying_the_instance_is_busy() {
        for (busy, settles) in [
            (Status::Installing, "installed"),
            (Status::Launching, "launched"),
            (Status::TakeDown, "down"),
            (Status::Restore, "installed"),
        ] {
            for &to in Status::ALL.iter().filter(|&&s| s != busy) {
                let e = refusal(busy, to);
                let msg = e.to_string();
                assert!(msg.starts_with("instance is busy"), "{msg}");
                assert!(msg.contains(&format!("'{busy}'")), "{msg}");
                assert!(msg.contains(&format!("settles in '{settles}'")), "{msg}");
                assert!(matches!(e, TransitionError::Refused { ref allowed, .. } if allowed.is_empty()));
            }
        }
    }

    #[test]
    fn installed_to_down_is_refused_naming_the_allowed_targets() {
        let e = refusal(Status::Installed, Status::Down);
        assert_eq!(
            e.to_string(),
            "cannot go from 'installed' to 'down'; allowed from 'installed': launching, take_down"
        );
        assert_eq!(e.field(), "status");
    }

    #[test]
    fn installed_to_launched_is_refused_because_launching_is_the_request() {
        let e = refusal(Status::Installed, Status::Launched);
        assert!(e
            .to_string()
            .contains("allowed from 'installed': launching, take_down"));
    }

    #[test]
    fn installed_to_restore_is_refused() {
        assert!(matches!(
            refusal(Status::Installed, Status::Restore),
            TransitionError::Refused { .. }
        ));
    }

    #[test]
    fn available_may_not_launch_or_take_down_before_it_is_installed() {
        for to in [
            Status::Launching,
            Status::Launched,
            Status::TakeDown,
            Status::Down,
            Status::Restore,
        ] {
            let e = refusal(Status::Available, to);
            assert!(
                e.to_string()
                    .ends_with("allowed from 'available': installing, installed"),
                "{e}"
            );
        }
    }

    #[test]
    fn launched_may_only_be_taken_down() {
        for to in [
            Status::Installing,
            Status::Installed,
            Status::Launching,
            Status::Down,
            Status::Restore,
        ] {
            let e = refusal(Status::Launched, to);
            assert!(
                e.to_string().ends_with("allowed from 'launched': take_down"),
                "{e}"
            );
        }
    }

    #[test]
    fn down_may_only_be_restored() {
        for to in [
            Status::Installing,
            Status::Installed,
            Status::Launching,
            Status::Launched,
            Status::TakeDown,
        ] {
            let e = refusal(Status::Down, to);
            assert!(e.to_string().ends_with("allowed from 'down': restore"), "{e}");
        }
    }

    #[test]
    fn clients_may_never_request_pending_or_available() {
        for from in [
            Status::Available,
            Status::Installed,
            Status::Launched,
            Status::Down,
        ] {
            for to in [Status::Pending, Status::Available] {
                if from == to {
                    continue;
                }
                let e = refusal(from, to);
                assert!(e.to_string().contains("is set by the system only"), "{e}");
            }
        }
    }

    #[test]
    fn every_allowed_target_plans_and_every_other_is_refused() {
        for &from in Status::ALL {
            let allowed = allowed_targets(from);
            for &to in Status::ALL.iter().filter(|&&to| to != from) {
                let result = plan(from, to, &WITH_ROUTE);
                assert_eq!(result.is_ok(), allowed.contains(&to), "{from} -> {to}");
            }
        }
    }

    #[test]
    fn allowed_targets_follow_the_table() {
        assert_eq!(allowed_targets(Status::Pending), []);
        assert_eq!(
            allowed_targets(Status::Available),
            [Status::Installing, Status::Installed]
        );
        assert_eq!(
            allowed_targets(Status::Installed),
            [Status::Launching, Status::TakeDown]
        );
        assert_eq!(allowed_targets(Status::Launched), [Status::TakeDown]);
        assert_eq!(allowed_targets(Status::Down), [Status::Restore]);
        for busy in [
            Status::Installing,
            Status::Launching,
            Status::TakeDown,
            Status::Restore,
        ] {
            assert!(allowed_targets(busy).is_empty());
            assert!(Work::in_flight_at(busy).is_some(), "work is in flight in {busy}");
        }
    }

    #[test]
    fn transition_patches_store_the_in_flight_status_then_the_settled_status_and_date() {
        let t = planned(Status::Installed, Status::Launching);
        assert_eq!(
            Value::Object(t.request_patch()),
            serde_json::json!({"status": "launching"})
        );
        let now = Timestamp::parse("2026-11-25 01:36:55 GMT").unwrap();
        assert_eq!(
            Value::Object(t.settle_patch(now)),
            serde_json::json!({"status": "launched", "dates": {"launched": "2026-11-25 01:36:55 GMT"}})
        );
    }

    #[test]
    fn date_stamps_name_their_dates_fields() {
        assert_eq!(DateStamp::Assigned.field(), "assigned");
        assert_eq!(DateStamp::Launched.field(), "launched");
        assert_eq!(DateStamp::TakenDown.field(), "taken_down");
        assert_eq!(DateStamp::TakenDown.path(), "dates.taken_down");
    }

    #[test]
    fn work_is_displayed_as_the_kind_of_its_task() {
        let id = Id::parse("5f0c8a1b2c3d4e5f60718293").unwrap();
        for w in Work::ALL {
            assert_eq!(w.to_string(), w.name());
            assert_eq!(
                w.name(),
                crate::task::Task::lifecycle(w, id, Status::Installed).kind()
            );
        }
        assert_eq!(Work::Assign.to_string(), "install_assign");
        assert_eq!(Work::TakeDown.to_string(), "take_down");
    }

    #[test]
    fn cron_runs_only_once_an_instance_is_assigned() {
        assert!(!cron_runs(Status::Pending));
        assert!(!cron_runs(Status::Available));
        for s in [
            Status::Installing,
            Status::Installed,
            Status::Launching,
            Status::Launched,
        ] {
            assert!(cron_runs(s), "{s}");
        }
    }

    #[test]
    fn cron_does_not_run_on_instances_pointed_at_the_down_page() {
        for s in [Status::TakeDown, Status::Down, Status::Restore] {
            assert!(!cron_runs(s), "{s}");
        }
    }

    #[test]
    fn transition_context_reads_the_primary_route_of_an_instance() {
        let mut body = Map::new();
        body.insert("sid".into(), Value::String("p1abcdef0123".into()));
        let now = Timestamp::from_unix(0);
        let doc = crate::model::Doc::new(id(1), body.clone(), now);
        let inst = Instance::from_doc(&doc).unwrap();
        assert!(!TransitionContext::of(&inst).has_primary_route);
        body.insert(
            "routes".into(),
            serde_json::json!({"primary_route": id(2).to_string()}),
        );
        let inst = Instance::from_doc(&crate::model::Doc::new(id(1), body, now)).unwrap();
        assert!(TransitionContext::of(&inst).has_primary_route);
    }

    #[test]
    fn adding_packages_to_an_available_instance_is_refused_naming_the_status() {
        let e = check_packages_change(Status::Available, &[id(1)], &[id(1), id(2)]).unwrap_err();
        assert_eq!(
            e,
            GuardError::PackagesBeforeInstalled {
                status: Status::Available,
                added: vec![id(2)]
            }
        );
        assert!(e.to_string().contains("while the instance is 'available'"), "{e}");
        assert!(e.to_string().contains(&id(2).to_string()), "{e}");
        assert_eq!(e.field(), "code.package");
    }

    #[test]
    fn adding_packages_to_a_pending_instance_is_refused() {
        let e = check_packages_change(Status::Pending, &[], &[id(3), id(4), id(3)]).unwrap_err();
        assert!(
            matches!(e, GuardError::PackagesBeforeInstalled { ref added, .. } if added == &[id(3), id(4)])
        );
        assert!(e.to_string().contains("'pending'"), "{e}");
    }

    #[test]
    fn removing_or_keeping_packages_before_installed_is_allowed() {
        assert_eq!(
            check_packages_change(Status::Available, &[id(1), id(2)], &[id(2)]),
            Ok(())
        );
        assert_eq!(check_packages_change(Status::Pending, &[id(1)], &[id(1)]), Ok(()));
        assert_eq!(
            check_packages_change(Status::Available, &[id(1), id(2)], &[id(2), id(1)]),
            Ok(())
        );
    }

    #[test]
    fn adding_packages_from_installed_on_is_allowed() {
        for s in [Status::Installed, Status::Launched, Status::Down] {
            assert_eq!(check_packages_change(s, &[], &[id(1)]), Ok(()), "{s}");
        }
    }

    #[test]
    fn an_active_route_to_an_unlaunched_instance_is_refused_naming_its_status() {
        let e = check_route_activation(RouteStatus::Active, Some(Status::Installed)).unwrap_err();
        assert_eq!(
            e,
            GuardError::RouteToUnlaunchedInstance {
                instance_status: Status::Installed
            }
        );
        assert!(e.to_string().contains("'installed'"), "{e}");
        assert!(e.to_string().contains("only point at a launched instance"), "{e}");
    }

    #[test]
    fn an_active_route_to_a_launched_instance_is_allowed() {
        assert_eq!(
            check_route_activation(RouteStatus::Active, Some(Status::Launched)),
            Ok(())
        );
    }

    #[test]
    fn an_inactive_route_may_point_at_any_instance() {
        for &s in Status::ALL {
            assert_eq!(check_route_activation(RouteStatus::Inactive, Some(s)), Ok(()));
        }
    }

    #[test]
    fn an_active_route_without_an_instance_is_allowed() {
        assert_eq!(check_route_activation(RouteStatus::Active, None), Ok(()));
    }
}
