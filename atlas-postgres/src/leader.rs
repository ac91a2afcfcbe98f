//! One holder of a role across nodes ([`atlas_core::Store::lead`]): a row
//! per role in `leader` with its owner and the time it holds the role
//! until. Taking or renewing it is one upsert: it succeeds for the current
//! owner, or for anyone once the owner's time has passed (takeover when a
//! node died). Times come from the caller's clock, never the server's.

use atlas_core::model::Timestamp;
use deadpool_postgres::Object;

use crate::error::Result;
use crate::rows::secs;

const LEAD: &str = "INSERT INTO leader (name, owner, until) VALUES ($1, $2, $4) \
     ON CONFLICT (name) DO UPDATE SET owner = EXCLUDED.owner, until = EXCLUDED.until \
     WHERE leader.owner = EXCLUDED.owner OR leader.until < $3 \
     RETURNING owner";

/// Takes or renews `role` for `owner` until `until`; whether it holds it.
pub(crate) async fn lead(
    client: &Object,
    role: &str,
    owner: &str,
    now: Timestamp,
    until: Timestamp,
) -> Result<bool> {
    let stmt = client.prepare_cached(LEAD).await?;
    let row = client
        .query_opt(&stmt, &[&role, &owner, &secs(now), &secs(until)])
        .await?;
    let held = row.is_some();
    if held {
        tracing::debug!(role, owner, "holding the role");
    }
    Ok(held)
}
