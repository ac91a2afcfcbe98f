//! Drift across two SSH hosts: a settings file edited on one host only is
//! one finding naming that host; rewriting the settings (what a heal
//! runs) clears it.

use atlas_core::model::Status;
use atlas_core::{DriftKind, Executor};

use crate::harness::Fleet;

const SID: &str = "p1fleetd0001";

#[tokio::test]
async fn a_settings_file_edited_on_one_host_is_a_finding_naming_that_host() {
    let Some(f) = Fleet::start(|_, _| {}) else { return };
    f.deploy_all().await;
    let mut spec = f.env.instance(SID);
    f.exec.provision(&spec).await.unwrap();
    spec.status = Status::Installed;
    f.exec.write_settings(&spec).await.unwrap();
    assert_eq!(f.exec.verify_instance(&spec).await.unwrap(), []);

    let settings = f.p(
        "web2",
        &format!("instances/{SID}/{SID}/sites/default/settings.php"),
    );
    let mut text = std::fs::read_to_string(&settings).unwrap();
    text.push_str("\n// edited by hand on web2\n");
    std::fs::write(&settings, text).unwrap();

    let found = f.exec.verify_instance(&spec).await.unwrap();
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].host, "web2");
    assert_eq!(found[0].kind, DriftKind::Settings);
    assert!(found[0].heals());

    f.exec.write_settings(&spec).await.unwrap();
    assert_eq!(f.exec.verify_instance(&spec).await.unwrap(), []);
}
