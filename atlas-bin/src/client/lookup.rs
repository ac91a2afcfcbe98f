//! Finding the records operators name: an instance by sid or id, a
//! command item by name or id, the current code items of a name, and JSON
//! queries given on the command line. A record that is not there is an
//! error saying how to find the right one.

use anyhow::bail;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::client::http::status_of;
use crate::client::Client;

/// Whether `s` looks like a record id (24 lowercase hex).
pub fn is_id(s: &str) -> bool {
    s.len() == 24
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The instance with sid or id `key`.
///
/// # Errors
/// None such (naming it and how to list them); requests failing.
pub async fn instance(client: &Client, key: &str) -> anyhow::Result<Value> {
    if key.is_empty() || key.contains('/') {
        bail!("'{key}' is not an instance sid or id: `atlas instance list` shows them");
    }
    match client.get(&format!("instance/{key}"), &[], false).await {
        Err(e) if status_of(&e) == Some(StatusCode::NOT_FOUND) => {
            let what = if is_id(key) { "id" } else { "sid" };
            bail!("no instance with {what} {key}: `atlas instance list` shows the instances")
        }
        other => other,
    }
}

/// The command item named `key` (or with id `key`).
///
/// # Errors
/// None or several such (naming them); requests failing.
pub async fn command_item(client: &Client, key: &str) -> anyhow::Result<Value> {
    if is_id(key) {
        return match client.get(&format!("commands/{key}"), &[], true).await {
            Err(e) if status_of(&e) == Some(StatusCode::NOT_FOUND) => {
                bail!("no command item with id {key}: `atlas command list` shows them")
            }
            other => other,
        };
    }
    let found = client
        .list(
            "commands",
            &[("where", json!({"name": key}).to_string())],
            false,
            None,
        )
        .await?;
    match found.as_slice() {
        [one] => Ok(one.clone()),
        [] => bail!(
            "no command item named '{key}': `atlas command list` shows them, `atlas command add` adds one"
        ),
        many => {
            let ids: Vec<&str> = many.iter().filter_map(|c| c["_id"].as_str()).collect();
            bail!(
                "{} command items are named '{key}' ({}): run one by its id",
                many.len(),
                ids.join(", ")
            )
        }
    }
}

/// The current code items named `name` (one per code type).
///
/// # Errors
/// Requests failing.
pub async fn current_code(client: &Client, name: &str) -> anyhow::Result<Vec<Value>> {
    client
        .list(
            "code",
            &[(
                "where",
                json!({"meta.name": name, "meta.is_current": true}).to_string(),
            )],
            false,
            None,
        )
        .await
}

/// A JSON object given as the flag `flag`.
///
/// # Errors
/// Not JSON, or not an object (naming the flag and an example).
pub fn json_object(text: &str, flag: &str) -> anyhow::Result<Value> {
    let v: Value = serde_json::from_str(text).map_err(|e| {
        anyhow::anyhow!("{flag} is not JSON ({e}): give an object such as '{{\"status\": \"launched\"}}'")
    })?;
    if !v.is_object() {
        bail!("{flag} must be a JSON object such as '{{\"status\": \"launched\"}}'");
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_24_lowercase_hex_and_sids_are_not() {
        assert!(is_id("6b063bb73e47cec0540baa24"));
        assert!(!is_id("p1abcdef0123"));
        assert!(!is_id("6B063BB73E47CEC0540BAA24"));
    }

    #[test]
    fn a_where_that_is_not_json_names_the_flag() {
        let e = json_object("{status", "--where").unwrap_err().to_string();
        assert!(e.starts_with("--where is not JSON"), "{e}");
        assert!(json_object("[1]", "--where").is_err());
    }
}
