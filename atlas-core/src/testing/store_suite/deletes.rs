//! Soft delete: deleted records are hidden from `find` unless asked for,
//! deleting twice is a no-op, and writes to deleted or missing records are
//! refused.

use std::sync::Arc;

use serde_json::json;

use crate::batch::Batch;
use crate::error::StoreError;
use crate::model::{Id, Resource};
use crate::query::{Filter, FindQuery, Op};
use crate::store::Store;
use crate::testing::fixtures;

use super::{at, body, commit_ok, current, delete, field, find, first_doc, id, insert, query};

/// Soft-deleted records are left out of `find` unless `show_deleted` is set
/// or the filter mentions `_deleted`; `get` still returns them, marked.
pub async fn soft_deleted_records_are_hidden_unless_show_deleted_or_filter_mentions_deleted(
    store: Arc<dyn Store>,
) {
    let s = &*store;
    let mut docs = Vec::new();
    for n in 1..=3 {
        let sid = format!("p1hide00000{n}");
        docs.push(
            insert(
                s,
                Resource::Instance,
                id(n),
                fixtures::instance().sid(&sid).build(),
                at(0),
            )
            .await,
        );
    }
    let gone = delete(s, Resource::Instance, &docs[1], at(1)).await;
    assert!(gone.deleted);
    assert_eq!(current(s, Resource::Instance, &id(2)).await, gone);

    assert_eq!(
        find(s, Resource::Instance, &query(Filter::All)).await,
        (vec![id(1), id(3)], 2)
    );
    let show = FindQuery {
        show_deleted: true,
        ..query(Filter::All)
    };
    assert_eq!(
        find(s, Resource::Instance, &show).await,
        (vec![id(1), id(2), id(3)], 3)
    );
    assert_eq!(
        find(s, Resource::Instance, &query(Filter::eq("_deleted", true))).await,
        (vec![id(2)], 1)
    );
    assert_eq!(
        find(s, Resource::Instance, &query(Filter::eq("_deleted", false))).await,
        (vec![id(1), id(3)], 2)
    );
    assert_eq!(
        find(s, Resource::Instance, &query(Filter::eq("sid", "p1hide000002"))).await,
        (vec![], 0)
    );
    let by_sid_and_deleted = Filter::and(vec![
        Filter::eq("sid", "p1hide000002"),
        field("_deleted", Op::Exists(true)),
    ]);
    assert_eq!(
        find(s, Resource::Instance, &query(by_sid_and_deleted)).await,
        (vec![id(2)], 1)
    );
}

/// Deleting an already-deleted record changes nothing: no new version, and
/// the write returns the record as it is.
pub async fn delete_of_deleted_record_is_a_no_op(store: Arc<dyn Store>) {
    let s = &*store;
    let v1 = insert(s, Resource::Route, id(1), fixtures::route().build(), at(0)).await;
    let v2 = delete(s, Resource::Route, &v1, at(1)).await;
    assert_eq!((v2.version, v2.deleted, v2.updated), (2, true, at(1)));
    let mut again = Batch::new(at(2));
    again.delete(Resource::Route, v1.id, None);
    assert_eq!(first_doc(&commit_ok(s, again).await), v2);
    assert_eq!(current(s, Resource::Route, &v1.id).await, v2);
    assert_eq!(
        s.history(Resource::Route, &v1.id).await.expect("history").len(),
        2
    );
}

/// Updates and replaces of deleted or missing records, and deletes of
/// missing records, are refused with `WriteTargetMissing` naming the write.
pub async fn writes_to_deleted_records_are_refused(store: Arc<dyn Store>) {
    let s = &*store;
    let v1 = insert(s, Resource::Instance, id(1), fixtures::instance().build(), at(0)).await;
    let v2 = delete(s, Resource::Instance, &v1, at(1)).await;
    let cases: Vec<(Id, crate::batch::Write)> = vec![
        (
            v1.id,
            crate::batch::Write::Update {
                res: Resource::Instance,
                id: v1.id,
                patch: body(json!({"status": "available"})),
                expect: None,
            },
        ),
        (
            v1.id,
            crate::batch::Write::Update {
                res: Resource::Instance,
                id: v1.id,
                patch: body(json!({"status": "available"})),
                expect: Some(v2.etag.clone()),
            },
        ),
        (
            v1.id,
            crate::batch::Write::Replace {
                res: Resource::Instance,
                id: v1.id,
                body: fixtures::instance().build(),
                expect: None,
            },
        ),
        (
            id(9),
            crate::batch::Write::Update {
                res: Resource::Instance,
                id: id(9),
                patch: body(json!({"status": "available"})),
                expect: None,
            },
        ),
        (
            id(9),
            crate::batch::Write::Replace {
                res: Resource::Instance,
                id: id(9),
                body: fixtures::instance().build(),
                expect: None,
            },
        ),
        (
            id(9),
            crate::batch::Write::Delete {
                res: Resource::Instance,
                id: id(9),
                expect: None,
            },
        ),
        // Same id, other resource.
        (
            v1.id,
            crate::batch::Write::Delete {
                res: Resource::Route,
                id: v1.id,
                expect: None,
            },
        ),
    ];
    for (target, w) in cases {
        let mut batch = Batch::new(at(2));
        batch.insert(Resource::Site, id(100), body(json!({"site_type": "express"})));
        batch.push(w);
        let err = s.commit(batch).await.expect_err("missing target");
        assert!(
            matches!(&err, StoreError::WriteTargetMissing { write: 1, id, .. } if *id == target),
            "{err:?}"
        );
    }
    assert_eq!(current(s, Resource::Instance, &v1.id).await, v2);
    assert_eq!(s.get(Resource::Site, &id(100)).await.expect("get"), None);
}
