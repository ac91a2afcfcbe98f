//! History: every version of a record is kept, oldest first, the delete
//! included.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::json;

use crate::batch::Batch;
use crate::error::StoreError;
use crate::model::Resource;
use crate::store::Store;
use crate::testing::fixtures;

use super::{at, commit_ok, delete, first_doc, id, insert, update};

/// History keeps every version, oldest first, the delete included; a record
/// that never existed has no history (`NotFound`).
pub async fn history_keeps_every_version_including_delete(store: Arc<dyn Store>) {
    let s = &*store;
    let v1 = insert(
        s,
        Resource::Code,
        id(1),
        fixtures::code().module("views", "7.x-3.14").build(),
        at(0),
    )
    .await;
    let v2 = update(
        s,
        Resource::Code,
        &v1,
        json!({"meta": {"label": "Views"}}),
        at(10),
    )
    .await;
    let mut batch = Batch::new(at(20));
    batch.replace(
        Resource::Code,
        v1.id,
        fixtures::code().module("views", "7.x-3.15").build(),
        Some(v2.etag.clone()),
    );
    let v3 = first_doc(&commit_ok(s, batch).await);
    let v4 = delete(s, Resource::Code, &v3, at(30)).await;
    let history = s.history(Resource::Code, &v1.id).await.expect("history");
    assert_eq!(history, vec![v1, v2, v3, v4]);
    assert_eq!(
        history.iter().map(|d| d.version).collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );
    assert!(history
        .iter()
        .all(|d| d.created == at(0) && d.etag == d.compute_etag()));
    let etags: BTreeSet<_> = history.iter().map(|d| d.etag.clone()).collect();
    assert_eq!(etags.len(), 4);

    for (res, missing) in [(Resource::Code, id(2)), (Resource::Instance, id(1))] {
        let err = s.history(res, &missing).await.expect_err("never existed");
        assert!(
            matches!(err, StoreError::NotFound { res: r, id } if r == res && id == missing),
            "{err:?}"
        );
    }
}
