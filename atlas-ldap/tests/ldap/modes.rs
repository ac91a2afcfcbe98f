//! The other ways to find and admit users: a direct bind with a DN
//! template, a group search, an allow-list, no restriction, and the users
//! file in front of the directory.

use std::sync::Arc;

use atlas_http::{hash_password, Chain, StaticUsers};
use atlas_ldap::testing::{Slapd, ALICE_PASSWORD, BOB_PASSWORD, GROUPS};
use atlas_ldap::LdapAuthenticator;
use reqwest::StatusCode;

use crate::helpers::{serve, setup};

#[tokio::test]
async fn a_direct_bind_signs_members_in_by_their_dn_and_escapes_the_name() {
    let Some((_slapd, server, _)) = setup(|c| {
        c.dn_template = Some("uid={user},ou=people,dc=atlas,dc=test".into());
        c.bind_dn = None;
        c.bind_password_file = None;
    })
    .await
    else {
        return;
    };
    server
        .write_expecting("alice", ALICE_PASSWORD, 1, StatusCode::CREATED)
        .await;
    server
        .write_expecting("alice", "nope", 2, StatusCode::UNAUTHORIZED)
        .await;
    server
        .write_expecting("bob", BOB_PASSWORD, 2, StatusCode::UNAUTHORIZED)
        .await;
    for name in ["alice,ou=people", "uid=alice", "*"] {
        server
            .write_expecting(name, ALICE_PASSWORD, 2, StatusCode::UNAUTHORIZED)
            .await;
    }
}

#[tokio::test]
async fn a_group_search_admits_members_only() {
    let Some((_slapd, server, _)) = setup(|c| c.group_base = Some(GROUPS.into())).await else {
        return;
    };
    server
        .write_expecting("alice", ALICE_PASSWORD, 1, StatusCode::CREATED)
        .await;
    server
        .write_expecting("bob", BOB_PASSWORD, 2, StatusCode::UNAUTHORIZED)
        .await;
}

#[tokio::test]
async fn the_allow_list_admits_the_users_it_names_only() {
    let Some((_slapd, server, _)) = setup(|c| {
        c.required_group = None;
        c.allowed_users = vec!["bob".into()];
    })
    .await
    else {
        return;
    };
    server
        .write_expecting("bob", BOB_PASSWORD, 1, StatusCode::CREATED)
        .await;
    server
        .write_expecting("alice", ALICE_PASSWORD, 2, StatusCode::UNAUTHORIZED)
        .await;
}

#[tokio::test]
async fn without_a_list_or_group_every_user_the_filter_finds_signs_in() {
    let Some((_slapd, server, _)) = setup(|c| c.required_group = None).await else {
        return;
    };
    server
        .write_expecting("bob", BOB_PASSWORD, 1, StatusCode::CREATED)
        .await;
}

#[tokio::test]
async fn a_user_of_the_users_file_is_decided_by_the_file_and_others_by_the_directory() {
    let Some(slapd) = Slapd::start() else {
        return;
    };
    let directory = LdapAuthenticator::new(&slapd.config()).unwrap();
    let file = StaticUsers::new([("alice", hash_password("file-password"))]).unwrap();
    let server = serve(Arc::new(Chain::new(file, Arc::new(directory)))).await;
    server
        .write_expecting("alice", ALICE_PASSWORD, 1, StatusCode::UNAUTHORIZED)
        .await;
    server
        .write_expecting("alice", "file-password", 1, StatusCode::CREATED)
        .await;
    server
        .write_expecting("bob", BOB_PASSWORD, 2, StatusCode::UNAUTHORIZED)
        .await;
}
