//! A request to the writer thread: a [`Change`] and the channel its caller
//! waits on, typed together, so each change is answered with its own
//! result type and a mismatch cannot compile.
//!
//! The group commit sees requests only through the object-safe stages of
//! their life, each consumed by the next, so every request is answered
//! exactly once:
//! [`Queued`] (waiting to run, or to run again after a rollback) →
//! [`Uncommitted`] (ran inside the group's open transaction) →
//! [`Answer`] (its result decided, sent once the group is durable).

use std::fmt;
use std::sync::Arc;

use atlas_core::StoreError;
use rusqlite::Connection;
use tokio::sync::oneshot;

use crate::error::{Error, Result};
use crate::shape::ShapeDelta;

/// Where a caller waits for the result of its change.
pub(crate) type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

/// A change the writer thread runs inside a group's transaction: a batch
/// (`apply.rs`) or a job-queue operation (`queue.rs`).
pub(crate) trait Change: fmt::Debug + Send + 'static {
    /// What running the change gives, kept until its group commits.
    type Ran: Send + 'static;
    /// What the caller is answered with once its group is durable.
    type Answer: Send + 'static;

    /// Runs the change. It is only borrowed: a group that is rolled back
    /// runs its changes again.
    ///
    /// # Errors
    /// The change's own failure (the group rolls it back alone), or the
    /// database's.
    fn run(&self, conn: &Connection, delta: &mut ShapeDelta) -> Result<Self::Ran>;

    /// The caller's answer, given what the change gave in the committed
    /// transaction.
    fn answer(self, ran: Self::Ran) -> Self::Answer;
}

/// What running a [`Queued`] request gives: the request, ran; or the
/// request back, with its error.
pub(crate) type Run = Result<Box<dyn Uncommitted>, (Box<dyn Queued>, Error)>;

/// A request waiting to run, or to run again after its group was rolled
/// back.
pub(crate) trait Queued: fmt::Debug + Send {
    /// Runs the request in the open transaction. A request that fails
    /// comes back with its error, to be run again or failed.
    fn run(self: Box<Self>, conn: &Connection, delta: &mut ShapeDelta) -> Run;

    /// Ends the request: `error` is its answer.
    fn fail(self: Box<Self>, error: StoreError) -> Box<dyn Answer>;
}

/// A request that ran inside the group's open transaction.
pub(crate) trait Uncommitted: fmt::Debug + Send {
    /// The transaction committed: the request's result is its answer.
    fn commit(self: Box<Self>) -> Box<dyn Answer>;

    /// The transaction was rolled back and the group runs again.
    fn requeue(self: Box<Self>) -> Box<dyn Queued>;

    /// The transaction did not commit: `error` is the request's answer.
    fn fail(self: Box<Self>, error: StoreError) -> Box<dyn Answer>;
}

/// A request whose result is decided, to be sent once its group is durable.
pub(crate) trait Answer: fmt::Debug + Send {
    /// Whether the request wrote to the database (it ran in a committed
    /// transaction).
    fn wrote(&self) -> bool;

    /// Answers the caller. A request that wrote is answered with
    /// `not_durable` instead of its result when its group could not be
    /// made durable.
    fn send(self: Box<Self>, not_durable: Option<&Arc<Error>>);
}

/// A change and its caller's reply channel: the [`Queued`] stage.
pub(crate) struct Call<C: Change> {
    change: C,
    reply: Reply<C::Answer>,
}

impl<C: Change> Call<C> {
    /// A request for `change`, and where its caller waits for the result.
    pub(crate) fn new(change: C) -> (Call<C>, oneshot::Receiver<Result<C::Answer, StoreError>>) {
        let (reply, rx) = oneshot::channel();
        (Call { change, reply }, rx)
    }
}

impl<C: Change> fmt::Debug for Call<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Call")
            .field("change", &self.change)
            .finish_non_exhaustive()
    }
}

impl<C: Change> Queued for Call<C> {
    fn run(self: Box<Self>, conn: &Connection, delta: &mut ShapeDelta) -> Run {
        match self.change.run(conn, delta) {
            Ok(ran) => Ok(Box::new(Ran { call: *self, ran })),
            Err(e) => Err((self, e)),
        }
    }

    fn fail(self: Box<Self>, error: StoreError) -> Box<dyn Answer> {
        Box::new(Failed {
            reply: self.reply,
            error,
        })
    }
}

/// A request and what its change gave: the [`Uncommitted`] stage, and the
/// [`Answer`] of a request whose transaction committed.
struct Ran<C: Change> {
    call: Call<C>,
    ran: C::Ran,
}

impl<C: Change> fmt::Debug for Ran<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ran")
            .field("change", &self.call.change)
            .finish_non_exhaustive()
    }
}

impl<C: Change> Uncommitted for Ran<C> {
    fn commit(self: Box<Self>) -> Box<dyn Answer> {
        self
    }

    fn requeue(self: Box<Self>) -> Box<dyn Queued> {
        Box::new(self.call)
    }

    fn fail(self: Box<Self>, error: StoreError) -> Box<dyn Answer> {
        Box::new(self.call).fail(error)
    }
}

impl<C: Change> Answer for Ran<C> {
    fn wrote(&self) -> bool {
        true
    }

    fn send(self: Box<Self>, not_durable: Option<&Arc<Error>>) {
        let Ran { call, ran } = *self;
        let result = match not_durable {
            None => Ok(call.change.answer(ran)),
            Some(cause) => Err(Error::NotDurable {
                source: Arc::clone(cause),
            }
            .into()),
        };
        // A caller that stopped waiting needs no answer.
        let _ = call.reply.send(result);
    }
}

/// A request whose answer is its failure.
struct Failed<T> {
    reply: Reply<T>,
    error: StoreError,
}

impl<T> fmt::Debug for Failed<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Failed")
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl<T: Send + 'static> Answer for Failed<T> {
    fn wrote(&self) -> bool {
        false
    }

    fn send(self: Box<Self>, _not_durable: Option<&Arc<Error>>) {
        let _ = self.reply.send(Err(self.error));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A change that answers with the length of its text, or fails.
    #[derive(Debug)]
    struct Len(&'static str);

    impl Change for Len {
        type Ran = usize;
        type Answer = String;

        fn run(&self, _: &Connection, _: &mut ShapeDelta) -> Result<usize> {
            if self.0.is_empty() {
                return Err(Error::RolledBack);
            }
            Ok(self.0.len())
        }

        fn answer(self, ran: usize) -> String {
            format!("{} has {ran} bytes", self.0)
        }
    }

    fn run(change: Len) -> (Run, oneshot::Receiver<Result<String, StoreError>>) {
        let conn = Connection::open_in_memory().unwrap();
        let (call, rx) = Call::new(change);
        (Box::new(call).run(&conn, &mut ShapeDelta::default()), rx)
    }

    #[test]
    fn a_committed_change_is_answered_with_its_own_result_type() {
        let (ran, rx) = run(Len("abc"));
        let answer = ran.unwrap().commit();
        assert!(answer.wrote());
        answer.send(None);
        assert_eq!(rx.blocking_recv().unwrap().unwrap(), "abc has 3 bytes");
    }

    #[test]
    fn a_committed_change_that_is_not_durable_is_answered_with_that() {
        let (ran, rx) = run(Len("abc"));
        ran.unwrap().commit().send(Some(&Arc::new(Error::SyncGone)));
        let e = rx.blocking_recv().unwrap().unwrap_err();
        assert!(e.to_string().contains("may not be on disk"), "{e}");
    }

    #[test]
    fn a_failed_change_comes_back_to_be_failed_and_never_counts_as_written() {
        let (ran, rx) = run(Len(""));
        let Err((queued, e)) = ran else {
            panic!("the change should fail")
        };
        let answer = queued.fail(e.into());
        assert!(!answer.wrote());
        answer.send(Some(&Arc::new(Error::SyncGone)));
        let e = rx.blocking_recv().unwrap().unwrap_err();
        assert!(e.to_string().contains("rolled the transaction back"), "{e}");
    }
}
