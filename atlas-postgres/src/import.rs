//! Copying another store's data in as it is (`atlas migrate --from
//! sqlite:…`): records with every version (ids, etags, time stamps and
//! version numbers kept, so clients' etags stay valid) and jobs in any
//! state (a running job's lease simply expires and it is retried).

use atlas_core::model::{Doc, Resource};
use atlas_core::{Job, StoreError};

use crate::db;
use crate::error::{Error, Result};
use crate::rows::{body_json, secs, version};
use crate::store::PgStore;
use crate::tables::{history_name, table_name};

impl PgStore {
    /// Whether the store holds no records and no jobs.
    ///
    /// # Errors
    /// [`StoreError::Backend`].
    pub async fn is_empty(&self) -> Result<bool, StoreError> {
        let mut total = 0i64;
        let client = self.client().await?;
        for res in Resource::ALL {
            let sql = format!("SELECT count(*) FROM {}", table_name(res));
            total += client
                .query_one(&sql, &[])
                .await
                .map_err(Error::from)?
                .get::<_, i64>(0);
        }
        total += client
            .query_one("SELECT count(*) FROM jobs", &[])
            .await
            .map_err(Error::from)?
            .get::<_, i64>(0);
        Ok(total == 0)
    }

    /// Copies one record, all its `versions` (oldest first; the last is the
    /// current one), in one transaction.
    ///
    /// # Errors
    /// [`StoreError::Unique`] when the record (or a live record with one of
    /// its unique values) is already here; [`StoreError::Backend`].
    pub async fn import_record(&self, res: Resource, versions: &[Doc]) -> Result<(), StoreError> {
        let Some(current) = versions.last() else {
            return Ok(());
        };
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(Error::from)?;
        let hist = format!(
            "INSERT INTO {} (id, version, etag, created, updated, deleted, body) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            history_name(res)
        );
        for d in versions {
            row(&tx, &hist, d).await?;
        }
        let cur = format!(
            "INSERT INTO {} (id, version, etag, created, updated, deleted, body) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            table_name(res)
        );
        row(&tx, &cur, current).await.map_err(|e| match e {
            Error::Db(db) if db.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) => {
                Error::Store(StoreError::Unique {
                    write: 0,
                    res,
                    field: db
                        .as_db_error()
                        .and_then(|d| d.constraint())
                        .unwrap_or("_id")
                        .to_owned(),
                    value: current.id.to_string(),
                })
            }
            other => other,
        })?;
        tx.commit().await.map_err(Error::from)?;
        Ok(())
    }

    /// Copies one job as it is.
    ///
    /// # Errors
    /// [`StoreError::Backend`], also when the job is already here.
    pub async fn import_job(&self, job: &Job) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(Error::from)?;
        crate::apply::insert_job(&tx, job).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(())
    }
}

async fn row(tx: &db::Tx<'_>, sql: &str, d: &Doc) -> Result<()> {
    db::execute(
        tx,
        sql,
        &[
            &d.id.to_string(),
            &version(d.version),
            &d.etag.to_string(),
            &secs(d.created),
            &secs(d.updated),
            &d.deleted,
            &body_json(d),
        ],
    )
    .await?;
    Ok(())
}
