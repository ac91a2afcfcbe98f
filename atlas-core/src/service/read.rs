//! Reads: get (by `_id`, instance also by `sid`), find, versions, embedding
//! of data relations, and the job queue view. Hidden fields are stripped
//! here, so no reader ever sees them.

use serde_json::Value;

use crate::jobs::{Job, JobId};
use crate::model::{Doc, Id, Resource};
use crate::query::{Filter, FindQuery, Projection, QueryError};
use crate::schema;
use crate::service::{Service, ServiceError};
use crate::store::{FindPage, JobPage, StoreExt};

/// Which versions of a record to read (`?version=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// One version, 1-based.
    Number(u64),
    /// Every version, oldest first.
    All,
    /// The first version in full, then only what changed.
    Diffs,
}

pub(crate) fn redact(res: Resource, mut doc: Doc) -> Doc {
    for f in schema::hidden_fields(res) {
        doc.body.shift_remove(*f);
    }
    doc
}

/// Refuses a `clause` naming a hidden field of `res` (or a path inside one).
fn refuse_hidden<'a>(
    res: Resource,
    clause: &'static str,
    paths: impl IntoIterator<Item = &'a str>,
) -> Result<(), ServiceError> {
    let hidden = schema::hidden_fields(res);
    for path in paths {
        let top = path.split('.').next().unwrap_or(path);
        if hidden.contains(&top) {
            return Err(QueryError::HiddenField {
                clause,
                field: path.to_owned(),
            }
            .into());
        }
    }
    Ok(())
}

impl Service {
    /// Checks that `projection` names no hidden field of `res`.
    ///
    /// # Errors
    /// [`ServiceError::Query`] with [`QueryError::HiddenField`].
    pub fn check_projection(res: Resource, projection: &Projection) -> Result<(), ServiceError> {
        match projection {
            Projection::All => Ok(()),
            Projection::Include(paths) | Projection::Exclude(paths) => {
                refuse_hidden(res, "projection", paths.iter().map(String::as_str))
            }
        }
    }

    /// Parses an item URL's id: 24 lowercase hex, else not found.
    pub(crate) fn parse_id(res: Resource, id: &str) -> Result<Id, ServiceError> {
        Id::parse(id).map_err(|_| ServiceError::not_found(res, id))
    }

    /// The live record `id` of `res`; for `instance`, `id` may also be a
    /// `sid`.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] when there is no live record.
    pub async fn get(&self, res: Resource, id: &str) -> Result<Doc, ServiceError> {
        self.get_raw(res, id).await.map(|d| redact(res, d))
    }

    /// [`Service::get`] without redaction, for the engine.
    pub(crate) async fn get_raw(&self, res: Resource, id: &str) -> Result<Doc, ServiceError> {
        if let Ok(parsed) = Id::parse(id) {
            if let Some(doc) = self.store().get_live(res, &parsed).await? {
                return Ok(doc);
            }
        }
        if res == Resource::Instance {
            let page = self
                .store()
                .find(res, &FindQuery::all_matching(Filter::eq("sid", id)))
                .await?;
            if let Some(doc) = page.items.into_iter().next() {
                return Ok(doc);
            }
        }
        Err(ServiceError::not_found(res, id))
    }

    /// Records matching `q`, hidden fields stripped.
    ///
    /// # Errors
    /// [`ServiceError::Query`] when `where` or `sort` names a hidden field
    /// ([`QueryError::HiddenField`]); store failures.
    pub async fn find(&self, res: Resource, q: &FindQuery) -> Result<FindPage, ServiceError> {
        refuse_hidden(res, "where", q.filter.paths())?;
        refuse_hidden(res, "sort", q.sort.iter().map(|k| k.path.as_str()))?;
        let mut page = self.store().find(res, q).await?;
        page.items = page.items.into_iter().map(|d| redact(res, d)).collect();
        Ok(page)
    }

    /// Versions of record `id` (an item id; for instances also a sid). As in
    /// Eve, the history of a soft-deleted record stays readable: its delete
    /// is the last version, with `_deleted: true`.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] for an unknown record or version.
    pub async fn versions(&self, res: Resource, id: &str, which: Version) -> Result<Vec<Doc>, ServiceError> {
        let record = match Id::parse(id) {
            Ok(parsed) if self.store().get(res, &parsed).await?.is_some() => parsed,
            _ => self.get(res, id).await?.id,
        };
        let history: Vec<Doc> = self
            .store()
            .history(res, &record)
            .await?
            .into_iter()
            .map(|d| redact(res, d))
            .collect();
        match which {
            Version::All | Version::Diffs => Ok(history),
            Version::Number(n) => history
                .into_iter()
                .find(|d| d.version == n)
                .map(|d| vec![d])
                .ok_or_else(|| ServiceError::not_found(res, format!("{id}?version={n}"))),
        }
    }

    /// Replaces the data-relation ids at `paths` of `doc` (a rendered
    /// record of `res`) by the referenced live records (rendered without
    /// hidden fields). Paths that are not relations are ignored; ids that
    /// resolve to nothing are left as they are.
    ///
    /// # Errors
    /// Store failures.
    pub async fn embed(&self, res: Resource, doc: &mut Value, paths: &[String]) -> Result<(), ServiceError> {
        let relations = schema::relations(res);
        for path in paths {
            let Some((_, target)) = relations.iter().find(|(p, _)| p == path) else {
                continue;
            };
            let Some(slot) = pointer_mut(doc, path) else {
                continue;
            };
            match slot {
                Value::String(s) => {
                    if let Some(v) = self.embedded(*target, s).await? {
                        *slot = v;
                    }
                }
                Value::Array(items) => {
                    for item in items.iter_mut() {
                        if let Value::String(s) = item {
                            if let Some(v) = self.embedded(*target, s).await? {
                                *item = v;
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    async fn embedded(&self, res: Resource, id: &str) -> Result<Option<Value>, ServiceError> {
        let Ok(id) = Id::parse(id) else { return Ok(None) };
        Ok(self
            .store()
            .get_live(res, &id)
            .await?
            .map(|d| redact(res, d).to_json()))
    }

    /// One job; a command run (`command_run`) that has fanned out carries
    /// its current [`RunSummary`](crate::RunSummary) in `result.summary`.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`].
    pub async fn job(&self, id: &str) -> Result<Job, ServiceError> {
        let not_found = || ServiceError::JobNotFound(id.to_owned());
        let parsed: JobId = id.parse().map_err(|_| not_found())?;
        let job = self.store().job(&parsed).await?.ok_or_else(not_found)?;
        self.with_run_summary(job).await
    }

    /// Jobs matching `q`.
    ///
    /// # Errors
    /// Store failures.
    pub async fn find_jobs(&self, q: &FindQuery) -> Result<JobPage, ServiceError> {
        Ok(self.store().find_jobs(q).await?)
    }
}

fn pointer_mut<'a>(doc: &'a mut Value, path: &str) -> Option<&'a mut Value> {
    let mut cur = doc;
    for part in path.split('.') {
        cur = cur.as_object_mut()?.get_mut(part)?;
    }
    Some(cur)
}
