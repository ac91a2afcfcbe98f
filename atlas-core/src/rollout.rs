//! Rollout waves, the rules: which instances a [`Rollout`] still has to
//! switch and in which order ([`instance_filter`], [`next_wave`]), how a
//! finished wave's instance jobs fold into the record ([`fold_wave`]) and
//! whether its failures halt the rollout ([`halts`]); also
//! [`RolloutProgress`], what `/metrics` reports of the rollouts.
//!
//! # Wave rule
//! The instances still using `from` (as core, profile or package) and
//! matching the rollout's `where` are taken in (update group ascending,
//! instances without one last, `_id`) order, leaving out those already
//! recorded as failed and the sids skipped on a resume. A wave is the
//! first `wave_size` of them that share the first one's update group: a
//! wave never mixes update groups.
//!
//! An in-place rollout ([`Rollout::in_place`], a code PATCH's) has one
//! wave: every instance still to do, whatever its update group — the
//! checkout already changed under all of them. Its instances keep using
//! the item, so those whose job succeeded ([`succeeded_jobs`]) are left
//! out, which is what lets a `resume` with `retry` redo only the failed.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::code_rules;
use crate::error::StoreError;
use crate::jobs::{Job, JobStatus};
use crate::model::{Id, Instance, OnFailure, Resource, Rollout, RolloutFailure, RolloutState};
use crate::query::{parse_where, Filter, FindQuery, Op, Paging, QueryError, SortKey};
use crate::store::Store;
use crate::task::Task;

/// The stored kind of a rollout's instance jobs.
pub const INSTANCE_KIND: &str = "rollout_instance";

/// The instances `rollout` acts on: those using `from` as core, profile or
/// package, narrowed by its `where`.
///
/// # Errors
/// [`QueryError`] when the stored `where` does not parse.
pub fn instance_filter(rollout: &Rollout) -> Result<Filter, QueryError> {
    let uses = code_rules::instances_using(&rollout.from);
    match rollout.where_.as_deref().map(parse_where).transpose()? {
        None | Some(Filter::All) => Ok(uses),
        Some(narrow) => Ok(Filter::and(vec![uses, narrow])),
    }
}

/// The order of the wave rule: update group ascending, none last, then id.
fn order_key(i: &Instance) -> (bool, i64, Id) {
    (i.update_group.is_none(), i.update_group.unwrap_or(0), i.id)
}

/// Whether `rollout` still has to switch `instance` (one of the instances
/// [`instance_filter`] selects): it uses `from` and is neither failed nor
/// skipped.
fn to_do(rollout: &Rollout, instance: &Instance) -> bool {
    rollout.uses_from(&instance.code)
        && !rollout.failed.iter().any(|f| f.instance == instance.id)
        && !rollout.skipped.iter().any(|s| s == instance.sid.as_str())
}

/// The two queries whose pages hold the next wave of `rollout` (the
/// instances `filter`, its [`instance_filter`], selects): those with an
/// update group in (group, `_id`) order, then those without in `_id`
/// order, each at most `wave_size` plus the failed and skipped instances
/// it leaves out — enough for [`next_wave`] to pick the same wave as from
/// every candidate, without reading them all. Their totals count the
/// candidates ([`remaining_of`]).
pub fn wave_queries(rollout: &Rollout, filter: &Filter) -> [FindQuery; 2] {
    let left_out = rollout.failed.len() + rollout.skipped.len();
    let limit = rollout
        .wave_size
        .max(1)
        .saturating_add(u64::try_from(left_out).unwrap_or(u64::MAX));
    [true, false].map(|grouped| FindQuery {
        filter: Filter::and(vec![
            filter.clone(),
            Filter::field("update_group", Op::Exists(grouped)),
        ]),
        sort: if grouped {
            vec![SortKey {
                path: "update_group".into(),
                descending: false,
            }]
        } else {
            Vec::new()
        },
        paging: Paging {
            page: 1,
            max_results: limit,
        },
        ..FindQuery::default()
    })
}

/// What `rollout` still has to switch when `total` instances use `from`
/// (and match its `where`): all but the failed and skipped ones, and for
/// an in-place rollout, whose instances keep using the item, the done ones.
pub fn remaining_of(rollout: &Rollout, total: u64) -> u64 {
    let left_out = u64::try_from(rollout.failed.len() + rollout.skipped.len()).unwrap_or(u64::MAX);
    let done = if rollout.in_place() { rollout.done } else { 0 };
    total.saturating_sub(left_out).saturating_sub(done)
}

/// How many of `candidates` `rollout` still has to switch (its
/// `remaining`).
pub fn still_to_do(rollout: &Rollout, candidates: &[Instance]) -> u64 {
    let n = candidates.iter().filter(|i| to_do(rollout, i)).count();
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// The next wave of `rollout` among `candidates` (the instances
/// [`instance_filter`] selects now), by the wave rule of the module.
pub fn next_wave(rollout: &Rollout, mut candidates: Vec<Instance>) -> Vec<Instance> {
    candidates.retain(|i| to_do(rollout, i));
    candidates.sort_by_key(order_key);
    if rollout.in_place() {
        return candidates;
    }
    let Some(group) = candidates.first().map(|i| i.update_group) else {
        return Vec::new();
    };
    let size = usize::try_from(rollout.wave_size.max(1)).unwrap_or(usize::MAX);
    candidates
        .into_iter()
        .take_while(|i| i.update_group == group)
        .take(size)
        .collect()
}

/// How the instance jobs of one wave ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WaveOutcome {
    /// Jobs still queued or running: the wave is not over.
    pub unfinished: usize,
    /// Instances switched (or found already off `from`).
    pub done: u64,
    /// Instances whose job failed for good, with its last error.
    pub failed: Vec<RolloutFailure>,
}

/// Folds the instance jobs of wave `wave` of `rollout` (any jobs given
/// that belong elsewhere are ignored); `sids` names the instances for the
/// failures (an unknown one is named by its id).
pub fn fold_wave(rollout: &Rollout, wave: u64, jobs: &[Job], sids: &BTreeMap<Id, String>) -> WaveOutcome {
    let mut out = WaveOutcome::default();
    for job in jobs {
        let Ok(Task::RolloutInstance {
            rollout: r,
            instance,
            wave: w,
        }) = Task::from_job(job)
        else {
            continue;
        };
        if r != rollout.id || w != wave || !rollout.current.contains(&instance) {
            continue;
        }
        match job.status {
            JobStatus::Queued | JobStatus::Running => out.unfinished += 1,
            JobStatus::Succeeded => out.done += 1,
            JobStatus::Dead => out.failed.push(RolloutFailure {
                instance,
                sid: sids
                    .get(&instance)
                    .cloned()
                    .unwrap_or_else(|| instance.to_string()),
                error: job
                    .last_error
                    .clone()
                    .unwrap_or_else(|| "the switch failed without an error".to_owned()),
            }),
        }
    }
    out
}

/// The query of the instance jobs of one wave of a rollout.
pub fn wave_jobs(rollout: &Id, wave: u64) -> FindQuery {
    FindQuery::all_matching(Filter::and(vec![
        Filter::eq("kind", INSTANCE_KIND),
        Filter::eq("payload.rollout", rollout.to_string()),
        Filter::eq("payload.wave", Value::from(wave)),
    ]))
}

/// The query of a rollout's instance jobs that succeeded (the instances
/// an in-place rollout has done).
pub fn succeeded_jobs(rollout: &Id) -> FindQuery {
    FindQuery::all_matching(Filter::and(vec![
        Filter::eq("kind", INSTANCE_KIND),
        Filter::eq("payload.rollout", rollout.to_string()),
        Filter::eq("status", JobStatus::Succeeded.as_str()),
    ]))
}

/// The query of a rollout's queued instance jobs (what an abort cancels).
pub fn queued_jobs(rollout: &Id) -> FindQuery {
    FindQuery::all_matching(Filter::and(vec![
        Filter::eq("kind", INSTANCE_KIND),
        Filter::eq("payload.rollout", rollout.to_string()),
        Filter::eq("status", JobStatus::Queued.as_str()),
    ]))
}

/// Whether `failures` failures in one wave halt `rollout`: more than it
/// tolerates, with the `halt` policy.
pub fn halts(rollout: &Rollout, failures: usize) -> bool {
    rollout.on_failure == OnFailure::Halt
        && u64::try_from(failures).unwrap_or(u64::MAX) > rollout.max_failures
}

/// One rollout's progress, as `/metrics` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolloutCounts {
    /// The rollout.
    pub rollout: Id,
    /// Where it stands.
    pub state: RolloutState,
    /// Instances switched.
    pub done: u64,
    /// Instances failed for good.
    pub failed: u64,
    /// Instances still to switch (the current wave's included).
    pub remaining: u64,
}

/// The rollouts as `/metrics` reports them: live records by state, and
/// the counts of each running, paused or halted one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RolloutProgress {
    /// Live rollout records by state (every state present, 0 included).
    pub states: BTreeMap<String, u64>,
    /// The running, paused and halted rollouts.
    pub active: Vec<RolloutCounts>,
}

impl RolloutProgress {
    /// Reads every live rollout, and for each active one counts the
    /// instances still to switch (one counting query each).
    ///
    /// # Errors
    /// The store's; a record that does not read as a rollout is left out.
    pub async fn gather(store: &dyn Store) -> Result<Self, StoreError> {
        let mut out = RolloutProgress {
            states: RolloutState::ALL
                .iter()
                .map(|s| (s.as_str().to_owned(), 0))
                .collect(),
            active: Vec::new(),
        };
        let docs = store
            .find(Resource::Rollout, &FindQuery::all_matching(Filter::All))
            .await?
            .items;
        for doc in &docs {
            let Ok(r) = Rollout::from_doc(doc) else {
                continue;
            };
            *out.states.entry(r.state.as_str().to_owned()).or_default() += 1;
            if !matches!(
                r.state,
                RolloutState::Running | RolloutState::Paused | RolloutState::Halted
            ) {
                continue;
            }
            let remaining = match instance_filter(&r) {
                Ok(filter) => {
                    let q = FindQuery::count_of(filter);
                    remaining_of(&r, store.find(Resource::Instance, &q).await?.total)
                }
                Err(_) => 0,
            };
            out.active.push(RolloutCounts {
                rollout: r.id,
                state: r.state,
                done: r.done,
                failed: u64::try_from(r.failed.len()).unwrap_or(u64::MAX),
                remaining,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::model::{Body, Doc, Timestamp};

    fn id(n: u32) -> Id {
        Id::parse(&format!("6b063bb73e47cec0540b{n:04x}")).unwrap()
    }

    fn doc(res_id: Id, body: serde_json::Value) -> Doc {
        let body: Body = body.as_object().cloned().unwrap();
        Doc::new(res_id, body, Timestamp::from_unix(0))
    }

    fn rollout(size: u64) -> Rollout {
        Rollout::from_doc(&doc(
            id(1),
            json!({"from": id(2).to_string(), "to": id(3).to_string(), "wave_size": size}),
        ))
        .unwrap()
    }

    fn instance(n: u32, group: Option<i64>) -> Instance {
        let mut body = json!({"sid": format!("p1sid{n:05}"), "status": "launched",
                              "code": {"core": id(2).to_string()}});
        if let Some(g) = group {
            body["update_group"] = json!(g);
        }
        Instance::from_doc(&doc(id(100 + n), body)).unwrap()
    }

    #[test]
    fn a_wave_takes_the_lowest_update_group_first_and_never_mixes_groups() {
        let fleet = vec![
            instance(1, None),
            instance(2, Some(2)),
            instance(3, Some(0)),
            instance(4, Some(1)),
            instance(5, Some(0)),
        ];
        let wave = next_wave(&rollout(3), fleet.clone());
        let ids: Vec<Id> = wave.iter().map(|i| i.id).collect();
        assert_eq!(ids, vec![id(103), id(105)], "group 0 only, by id");
        let rest: Vec<Instance> = fleet.into_iter().filter(|i| !ids.contains(&i.id)).collect();
        let wave = next_wave(&rollout(3), rest);
        assert_eq!(wave.iter().map(|i| i.id).collect::<Vec<_>>(), vec![id(104)]);
    }

    #[test]
    fn an_in_place_rollout_takes_every_candidate_in_one_wave_whatever_its_group() {
        let mut r = rollout(1);
        r.to = r.from;
        let wave = next_wave(
            &r,
            vec![instance(1, None), instance(2, Some(2)), instance(3, Some(0))],
        );
        assert_eq!(
            wave.iter().map(|i| i.id).collect::<Vec<_>>(),
            vec![id(103), id(102), id(101)]
        );
    }

    #[test]
    fn instances_without_an_update_group_come_last() {
        let wave = next_wave(&rollout(5), vec![instance(1, None), instance(2, Some(2))]);
        assert_eq!(wave.iter().map(|i| i.id).collect::<Vec<_>>(), vec![id(102)]);
    }

    #[test]
    fn failed_and_skipped_instances_are_left_out_of_later_waves() {
        let mut r = rollout(5);
        r.failed.push(RolloutFailure {
            instance: id(101),
            sid: "p1sid00001".into(),
            error: "boom".into(),
        });
        r.skipped.push("p1sid00002".into());
        let wave = next_wave(
            &r,
            vec![instance(1, Some(0)), instance(2, Some(0)), instance(3, Some(0))],
        );
        assert_eq!(wave.iter().map(|i| i.id).collect::<Vec<_>>(), vec![id(103)]);
    }

    #[test]
    fn the_filter_combines_uses_from_with_the_clients_where() {
        let mut r = rollout(5);
        r.where_ = Some(r#"{"type": "express"}"#.into());
        let f = instance_filter(&r).unwrap();
        assert!(f.mentions("code.package") && f.mentions("type"));
        r.where_ = Some("{not json".into());
        assert!(instance_filter(&r).is_err());
    }

    #[test]
    fn halting_needs_more_failures_than_tolerated_and_the_halt_policy() {
        let mut r = rollout(5);
        assert!(!halts(&r, 0));
        assert!(halts(&r, 1));
        r.max_failures = 1;
        assert!(!halts(&r, 1));
        r.on_failure = OnFailure::Continue;
        assert!(!halts(&r, 4));
    }
}
