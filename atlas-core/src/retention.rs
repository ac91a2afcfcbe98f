//! Backup retention as a pure rule: of one instance's backups, keep the
//! newest of each of the last `daily` days that have one and the newest of
//! each of the last `weekly` weeks that have one; prune the rest.
//!
//! Days are UTC calendar days; weeks run Monday to Sunday (UTC). A backup
//! kept by both rules is kept once. Days or weeks without a backup do not
//! count, so a gap in backups never prunes older ones early.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::model::{Id, Timestamp};

/// How many backups per instance the periodic backup keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retention {
    /// The newest backup of each of this many most recent days.
    pub daily: usize,
    /// The newest backup of each of this many most recent weeks.
    pub weekly: usize,
}

impl Default for Retention {
    /// Seven daily and four weekly backups.
    fn default() -> Self {
        Retention { daily: 7, weekly: 4 }
    }
}

const DAY: i64 = 86_400;

/// The UTC day number of `t` (days since 1970-01-01).
fn day_of(t: Timestamp) -> i64 {
    t.unix_seconds().div_euclid(DAY)
}

/// The week number of `t`, weeks starting on Monday (1970-01-01 was a
/// Thursday, so day 4 starts week 1).
fn week_of(t: Timestamp) -> i64 {
    (day_of(t) + 3).div_euclid(7)
}

impl Retention {
    /// The backups of `backups` (one instance's, as id and time taken) that
    /// this retention prunes, oldest first.
    pub fn to_prune(&self, backups: &[(Id, Timestamp)]) -> Vec<Id> {
        let mut newest_first: Vec<&(Id, Timestamp)> = backups.iter().collect();
        newest_first.sort_by(|a, b| b.1.cmp(&a.1).then(b.0.cmp(&a.0)));
        let keep_daily = keep_newest_per(&newest_first, self.daily, day_of);
        let keep_weekly = keep_newest_per(&newest_first, self.weekly, week_of);
        let mut pruned: Vec<Id> = newest_first
            .iter()
            .rev()
            .map(|(id, _)| *id)
            .filter(|id| !keep_daily.contains(id) && !keep_weekly.contains(id))
            .collect();
        pruned.dedup();
        pruned
    }
}

/// The newest backup of each of the first `n` buckets (by `bucket`) of
/// `newest_first`.
fn keep_newest_per(newest_first: &[&(Id, Timestamp)], n: usize, bucket: fn(Timestamp) -> i64) -> HashSet<Id> {
    let mut kept = HashSet::new();
    let mut last = None;
    for (id, at) in newest_first {
        if kept.len() == n {
            break;
        }
        let b = bucket(*at);
        if last != Some(b) {
            kept.insert(*id);
            last = Some(b);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-02 00:00:00 UTC, a Monday.
    const MONDAY: i64 = 1_793_577_600;

    fn at(day: i64, hour: i64) -> Timestamp {
        Timestamp::from_unix(MONDAY + day * DAY + hour * 3600)
    }

    #[test]
    fn the_reference_monday_is_a_monday() {
        assert_eq!(
            Timestamp::from_unix(MONDAY).to_string(),
            "2026-11-02 00:00:00 GMT"
        );
        assert_eq!(week_of(at(0, 0)), week_of(at(6, 23)));
        assert_ne!(week_of(at(6, 23)), week_of(at(7, 0)));
    }

    #[test]
    fn a_month_of_nightly_backups_keeps_seven_days_and_four_weeks() {
        // Days 0..=30 (five weeks from Monday 2 November to Wednesday 2
        // December), one backup at 02:00 each night, plus a manual-hour
        // second one at 14:00 on day 29.
        let mut backups: Vec<(Id, Timestamp, i64, i64)> = (0..=30)
            .map(|d| (Id::generate(at(d, 2)), at(d, 2), d, 2))
            .collect();
        backups.push((Id::generate(at(29, 14)), at(29, 14), 29, 14));
        let input: Vec<(Id, Timestamp)> = backups.iter().map(|b| (b.0, b.1)).collect();
        let pruned = Retention { daily: 7, weekly: 4 }.to_prune(&input);
        let kept: Vec<(i64, i64)> = backups
            .iter()
            .filter(|b| !pruned.contains(&b.0))
            .map(|b| (b.2, b.3))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        // Daily: days 24..=30, day 29's 14:00 backup (the newest of it).
        // Weekly (weeks start on days 0, 7, 14, 21, 28): the newest of the
        // weeks of days 28, 21, 14 and 7 → days 30, 27, 20, 13.
        assert_eq!(
            kept,
            [
                (13, 2),
                (20, 2),
                (24, 2),
                (25, 2),
                (26, 2),
                (27, 2),
                (28, 2),
                (29, 14),
                (30, 2)
            ]
        );
        assert_eq!(pruned.len(), backups.len() - kept.len());
        // Oldest first.
        assert_eq!(pruned[0], backups[0].0);
    }

    #[test]
    fn days_without_backups_do_not_count_against_the_daily_ones() {
        let input: Vec<(Id, Timestamp)> = [0, 10, 20]
            .into_iter()
            .map(|d| (Id::generate(at(d, 2)), at(d, 2)))
            .collect();
        let pruned = Retention { daily: 3, weekly: 0 }.to_prune(&input);
        assert!(pruned.is_empty(), "{pruned:?}");
        let pruned = Retention { daily: 2, weekly: 0 }.to_prune(&input);
        assert_eq!(pruned, [input[0].0]);
    }

    #[test]
    fn keeping_nothing_prunes_everything_and_no_backups_prune_nothing() {
        let input = [(Id::generate(at(0, 1)), at(0, 1))];
        assert_eq!(Retention { daily: 0, weekly: 0 }.to_prune(&input), [input[0].0]);
        assert!(Retention::default().to_prune(&[]).is_empty());
    }
}
