//! The core store conformance suite, every case on a fresh schema of the
//! test server (skipped with a printed reason when it is unreachable,
//! unless `ATLAS_TEST_REQUIRE` names `postgres`).

use std::sync::Arc;

use atlas_core::testing::store_suite::CASES;
use atlas_postgres::testing::TestSchema;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_whole_conformance_suite_passes_on_postgres() {
    let mut ran = 0;
    for (name, case) in CASES {
        let Some(schema) = TestSchema::create().await else {
            return;
        };
        eprintln!("case {name}");
        case(Arc::new(schema.store().await)).await;
        ran += 1;
    }
    assert_eq!(ran, CASES.len());
}
