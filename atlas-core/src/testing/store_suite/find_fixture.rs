//! The record set the `filters` and `sort` cases query — ten code items and
//! thirty instances (two soft-deleted) with varied statuses, types, pools,
//! groups, packages, tags, settings and dates — and the assertion that a
//! store's `find` over it agrees with the reference evaluator.

use crate::model::{Doc, Id, InstanceType, Pool, Resource, Status};
use crate::query::{select, FindQuery, Paging};
use crate::store::Store;
use crate::testing::fixtures;

use super::{at, current, delete, find, id, insert};

/// The stored records, as written, and the ids the cases refer to.
pub(super) struct FindFixture<'s> {
    store: &'s dyn Store,
    /// The instance ids, in insertion (and id) order.
    pub(super) instances: Vec<Id>,
    instance_docs: Vec<Doc>,
    code_docs: Vec<Doc>,
    pub(super) ga: Id,
    pub(super) views: Id,
    pub(super) ctools: Id,
    pub(super) webform: Id,
    pub(super) core_old: Id,
}

impl<'s> FindFixture<'s> {
    /// Writes the record set to `s` and reads it back.
    pub(super) async fn load(s: &'s dyn Store) -> FindFixture<'s> {
        let code = [
            fixtures::code()
                .core("drupal", "7.42")
                .current()
                .tag("stable")
                .build(),
            fixtures::code().core("drupal", "7.41").build(),
            fixtures::code().profile("express", "2.8.1").current().build(),
            fixtures::code().profile("express", "2.8.0").build(),
            fixtures::code()
                .module("google_analytics", "7.x-2.3")
                .current()
                .label("Google Analytics")
                .build(),
            fixtures::code().module("ctools", "7.x-1.12").current().build(),
            fixtures::code()
                .module("views", "7.x-3.14")
                .current()
                .dependencies([id(106)])
                .build(),
            fixtures::code()
                .theme("cu_theme", "1.0")
                .current()
                .label("CU Theme")
                .build(),
            fixtures::code().library("ckeditor", "4.6").build(),
            fixtures::code()
                .module("webform", "7.x-4.14")
                .tag("forms")
                .tag("beta")
                .build(),
        ];
        let mut codes = Vec::new();
        for (n, b) in code.into_iter().enumerate() {
            let cid = id(101 + n as u32);
            insert(s, Resource::Code, cid, b, at(n as i64)).await;
            codes.push(cid);
        }
        let (core, core_old, profile) = (codes[0], codes[1], codes[2]);
        let (ga, ctools, views, webform) = (codes[4], codes[5], codes[6], codes[9]);

        let statuses = [
            Status::Pending,
            Status::Available,
            Status::Installed,
            Status::Launched,
            Status::Down,
        ];
        let mut instances = Vec::new();
        for n in 0..30u32 {
            let i = n as i64;
            let mut b = fixtures::instance()
                .sid(&format!("p1test{n:06}"))
                .status(statuses[n as usize % 5])
                .update_group((n % 3) as u8)
                .core(if n % 4 == 0 { core_old } else { core })
                .profile(profile)
                .created(at(i * 86_400))
                .page_cache_maximum_age(if n % 8 == 0 { 600 } else { 300 });
            b = match n % 3 {
                0 => b.packages([ga, views]),
                1 => b.packages([webform]),
                _ => b,
            };
            if n % 5 == 0 {
                let mut pk = vec![ctools];
                if n % 3 == 0 {
                    pk = vec![ga, views, ctools];
                }
                b = b.packages(pk);
            }
            if n % 7 == 0 {
                b = b.instance_type(InstanceType::Custom).pool(Pool::PoolaCustom);
            } else if n % 11 == 0 {
                b = b.instance_type(InstanceType::Legacy).pool(Pool::WwwLegacy);
            }
            if n % 6 == 0 {
                b = b.tag("priority");
            }
            if n % 4 == 1 {
                b = b.siteimprove_site(1000 + i);
            }
            if n % 9 == 2 {
                b = b.date("launched", at(i * 86_400 + 3_600));
            }
            let iid = id(200 + n);
            let d = insert(s, Resource::Instance, iid, b.build(), at(i * 600)).await;
            if n == 3 || n == 17 {
                delete(s, Resource::Instance, &d, at(i * 600 + 1)).await;
            }
            instances.push(iid);
        }
        let mut instance_docs = Vec::new();
        for i in &instances {
            instance_docs.push(current(s, Resource::Instance, i).await);
        }
        let mut code_docs = Vec::new();
        for c in &codes {
            code_docs.push(current(s, Resource::Code, c).await);
        }
        FindFixture {
            store: s,
            instances,
            instance_docs,
            code_docs,
            ga,
            views,
            ctools,
            webform,
            core_old,
        }
    }

    /// The `n`th code item as stored.
    pub(super) fn code(&self, n: usize) -> &Doc {
        &self.code_docs[n]
    }

    /// For each named query on instances, [`assert_find_agrees`].
    pub(super) async fn assert_instances(&self, cases: Vec<(&str, FindQuery)>) {
        for (name, q) in cases {
            assert_find_agrees(self.store, Resource::Instance, &self.instance_docs, name, q).await;
        }
    }

    /// For each named query on code items, [`assert_find_agrees`].
    pub(super) async fn assert_codes(&self, cases: Vec<(&str, FindQuery)>) {
        for (name, q) in cases {
            assert_find_agrees(self.store, Resource::Code, &self.code_docs, name, q).await;
        }
    }
}

/// `find` returns what the reference evaluator selects from `all` for `q`
/// (which must match something) — the same records in the same order with
/// the same total — and so does page 2 of `q` at three per page.
async fn assert_find_agrees(s: &dyn Store, res: Resource, all: &[Doc], name: &str, q: FindQuery) {
    let expected = select(all.iter().map(|d| (d.id, d.to_json())), &q);
    assert!(!expected.0.is_empty(), "case `{name}` should match something");
    assert_eq!(find(s, res, &q).await, expected, "case `{name}`");
    let paged = FindQuery {
        paging: Paging {
            page: 2,
            max_results: 3,
        },
        ..q
    };
    let expected = select(all.iter().map(|d| (d.id, d.to_json())), &paged);
    assert_eq!(find(s, res, &paged).await, expected, "case `{name}`, page 2 of 3");
}
