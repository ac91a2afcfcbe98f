//! Running statements: every statement is prepared once per connection
//! (deadpool's statement cache) and run with bound parameters only.

use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use crate::error::Result;

/// A transaction on a pooled connection.
pub(crate) type Tx<'a> = deadpool_postgres::Transaction<'a>;

/// Runs `sql`, answering at most one row.
pub(crate) async fn query_opt(tx: &Tx<'_>, sql: &str, args: &[&(dyn ToSql + Sync)]) -> Result<Option<Row>> {
    let stmt = tx.prepare_cached(sql).await?;
    Ok(tx.query_opt(&stmt, args).await?)
}

/// Runs `sql`, answering its rows.
pub(crate) async fn query(tx: &Tx<'_>, sql: &str, args: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>> {
    let stmt = tx.prepare_cached(sql).await?;
    Ok(tx.query(&stmt, args).await?)
}

/// Runs `sql`, answering how many rows it changed.
pub(crate) async fn execute(tx: &Tx<'_>, sql: &str, args: &[&(dyn ToSql + Sync)]) -> Result<u64> {
    let stmt = tx.prepare_cached(sql).await?;
    Ok(tx.execute(&stmt, args).await?)
}
