//! deploy_code, update_code, remove_code.

use atlas_core::{ExecError, Executor};

use crate::helpers::{link, TestEnv};

fn head(dir: &std::path::Path) -> String {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["rev-parse", "HEAD"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[tokio::test]
async fn deploy_code_clones_the_commit_and_links_current() {
    let env = TestEnv::new();
    let core = env.core_v1();
    env.exec.deploy_code(&core).await.unwrap();
    let dir = env.code_dir(&core);
    assert_eq!(head(&dir), env.core.commits[0]);
    assert_eq!(
        std::fs::read_to_string(dir.join("index.php")).unwrap(),
        "<?php // core 1\n"
    );
    assert!(dir.join("misc/drupal.js").exists());
    assert_eq!(link(&env.p("code/cores/drupal/drupal-current")), dir);
    let names: Vec<_> = std::fs::read_dir(env.p("code/cores/drupal"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 2, "no partial clone or temp link left: {names:?}");
}

#[tokio::test]
async fn deploy_code_of_a_non_current_item_makes_no_current_link() {
    let env = TestEnv::new();
    let mut core = env.core_v1();
    core.is_current = false;
    env.exec.deploy_code(&core).await.unwrap();
    assert!(env.code_dir(&core).join("index.php").exists());
    assert!(std::fs::symlink_metadata(env.p("code/cores/drupal/drupal-current")).is_err());
}

#[tokio::test]
async fn deploy_code_twice_gives_the_same_tree() {
    let env = TestEnv::new();
    let core = env.core_v1();
    env.exec.deploy_code(&core).await.unwrap();
    let first = env.snapshot();
    env.exec.deploy_code(&core).await.unwrap();
    assert_eq!(env.snapshot(), first);
}

#[tokio::test]
async fn deploy_code_converges_after_a_clone_killed_midway() {
    let env = TestEnv::new();
    let core = env.core_v1();
    let clean = {
        let other = TestEnv::new();
        let mut c = core.clone();
        c.git_url = env.core.path.display().to_string();
        other.exec.deploy_code(&c).await.unwrap();
        other.snapshot()
    };
    // A killed run left a partial clone and a half-made directory.
    std::fs::create_dir_all(env.p("code/cores/drupal/.drupal-7.1.atlas-partial/.git")).unwrap();
    std::fs::create_dir_all(env.p("code/cores/drupal/drupal-7.1/includes")).unwrap();
    std::fs::write(env.p("code/cores/drupal/drupal-7.1/junk"), b"x").unwrap();
    env.exec.deploy_code(&core).await.unwrap();
    assert_eq!(env.snapshot(), clean);
}

#[tokio::test]
async fn update_code_checks_out_the_new_commit_in_place_and_cleans() {
    let env = TestEnv::new();
    let prev = env.core_v1();
    env.exec.deploy_code(&prev).await.unwrap();
    let dir = env.code_dir(&prev);
    std::fs::write(dir.join("untracked.txt"), b"junk").unwrap();
    std::fs::write(dir.join("index.php"), b"local edit").unwrap();
    let mut next = prev.clone();
    next.commit_hash = env.core.commits[1].clone();
    env.exec.update_code(&prev, &next).await.unwrap();
    assert_eq!(head(&dir), env.core.commits[1]);
    assert_eq!(
        std::fs::read_to_string(dir.join("index.php")).unwrap(),
        "<?php // core 2\n"
    );
    assert!(dir.join("update.php").exists());
    assert!(!dir.join("misc").exists());
    assert!(!dir.join("untracked.txt").exists());
    let once = env.snapshot();
    env.exec.update_code(&prev, &next).await.unwrap();
    assert_eq!(env.snapshot(), once);
}

#[tokio::test]
async fn update_code_with_a_new_version_removes_and_redeploys() {
    let env = TestEnv::new();
    let prev = env.core_v1();
    env.exec.deploy_code(&prev).await.unwrap();
    let next = env.core_v2();
    env.exec.update_code(&prev, &next).await.unwrap();
    assert!(!env.code_dir(&prev).exists());
    assert_eq!(head(&env.code_dir(&next)), env.core.commits[1]);
    assert_eq!(
        link(&env.p("code/cores/drupal/drupal-current")),
        env.code_dir(&next)
    );
}

#[tokio::test]
async fn update_code_to_not_current_removes_the_current_link_pointing_at_it() {
    let env = TestEnv::new();
    let prev = env.core_v1();
    env.exec.deploy_code(&prev).await.unwrap();
    let mut next = prev.clone();
    next.is_current = false;
    env.exec.update_code(&prev, &next).await.unwrap();
    assert!(std::fs::symlink_metadata(env.p("code/cores/drupal/drupal-current")).is_err());
    assert!(env.code_dir(&prev).join("index.php").exists());
}

#[tokio::test]
async fn remove_code_deletes_the_checkout_and_only_its_own_current_link() {
    let env = TestEnv::new();
    let v1 = env.core_v1();
    let v2 = env.core_v2();
    env.exec.deploy_code(&v1).await.unwrap();
    env.exec.deploy_code(&v2).await.unwrap();
    assert_eq!(
        link(&env.p("code/cores/drupal/drupal-current")),
        env.code_dir(&v2)
    );
    env.exec.remove_code(&v1).await.unwrap();
    assert!(!env.code_dir(&v1).exists());
    assert_eq!(
        link(&env.p("code/cores/drupal/drupal-current")),
        env.code_dir(&v2)
    );
    env.exec.remove_code(&v2).await.unwrap();
    env.exec.remove_code(&v2).await.unwrap();
    assert!(!env.p("code/cores/drupal").exists());
    assert!(env.p("code/cores").exists());
}

#[tokio::test]
async fn deploy_code_fails_with_git_stderr_for_an_unknown_commit() {
    let env = TestEnv::new();
    let mut core = env.core_v1();
    core.commit_hash = "0123456789abcdef0123456789abcdef01234567".into();
    match env.exec.deploy_code(&core).await {
        Err(ExecError::Failed { program, stderr, .. }) => {
            assert_eq!(program, "git");
            assert!(!stderr.is_empty());
        }
        other => panic!("{other:?}"),
    }
    assert!(
        !env.code_dir(&core).exists(),
        "a failed clone is never renamed into place"
    );
    assert!(
        !env.p("code/cores/drupal/.drupal-7.1.atlas-partial").exists(),
        "the partial clone is cleaned up"
    );
}
