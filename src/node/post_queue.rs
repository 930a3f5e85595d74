//! Fire-and-forget sends on their way from the node's handles to its supervisor: one shared
//! queue, and one actix message ([`DrainPosts`](crate::node::supervisor::commands::DrainPosts)) per
//! burst instead of one envelope per message.
//!
//! A handle pushes a [`Post`] and, if no drain is scheduled yet, schedules one (the caller
//! sends `DrainPosts`). The supervisor takes the whole queue, clears the flag in the same
//! critical section, and routes the posts in order. A post pushed after that sees the flag
//! clear and schedules the next drain, so none is left behind. Order is kept: posts from one
//! thread leave in push order, and a message a handle sends to the supervisor's mailbox after
//! its posts (a request, say) is handled after them — either its posts were taken by a drain
//! already in the mailbox ahead of it, or the push that found the flag clear put a new drain
//! ahead of it.
//!
//! The queue's length is bounded by the node's backlog (`max_backlog`), reserved before each
//! push and released as the supervisor routes each post.

use std::sync::{Arc, Mutex, PoisonError};

use swarm_protocol::Message;

use crate::support::slots::Reserved;

/// A message for the supervisor to route.
#[derive(Debug)]
pub struct Post {
    /// The message, stamped.
    pub message: Arc<Message>,
    /// The sender already looked its destination up among the local agents and found none:
    /// the supervisor goes straight to the remote routes.
    pub not_local: bool,
    /// Its place in the node's backlog, given back when the supervisor has routed it.
    pub slot: Reserved,
}

#[derive(Debug, Default)]
struct Inner {
    posts: Vec<Post>,
    drain_scheduled: bool,
}

/// The queue of posts of one node.
#[derive(Debug, Default)]
pub struct PostQueue {
    inner: Mutex<Inner>,
}

impl PostQueue {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave `Inner` half-updated (a push or a swap):
        // the data is still good.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `post`; `true` when the caller must schedule a drain (send `DrainPosts`).
    pub fn push(&self, post: Post) -> bool {
        let mut inner = self.lock();
        inner.posts.push(post);
        !std::mem::replace(&mut inner.drain_scheduled, true)
    }

    /// Takes everything queued into `out` (which must be empty; its allocation is reused by
    /// the next pushes) and clears the schedule.
    pub fn take(&self, out: &mut Vec<Post>) {
        let mut inner = self.lock();
        std::mem::swap(&mut inner.posts, out);
        inner.drain_scheduled = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(n: i64) -> Post {
        let slots = crate::support::slots::Slots::new(usize::MAX);
        Post {
            message: Arc::new(Message::event("a", "e", n)),
            not_local: true,
            slot: slots.try_reserve().unwrap(),
        }
    }

    fn value(p: &Post) -> i64 {
        match &p.message.payload {
            swarm_protocol::MessageType::Event { data, .. } => data.as_i64().unwrap(),
            _ => unreachable!(),
        }
    }

    #[test]
    fn one_drain_per_burst_and_none_missed() {
        let q = PostQueue::default();
        assert!(q.push(post(1)), "the first push schedules a drain");
        assert!(!q.push(post(2)), "later pushes ride on it");
        let mut out = Vec::new();
        q.take(&mut out);
        assert_eq!(out.iter().map(value).collect::<Vec<_>>(), [1, 2]);
        out.clear();
        assert!(
            q.push(post(3)),
            "after a take, the next push schedules again"
        );
        q.take(&mut out);
        assert_eq!(out.iter().map(value).collect::<Vec<_>>(), [3]);
    }

    #[test]
    fn concurrent_pushes_are_all_drained_in_per_thread_order() {
        let q = Arc::new(PostQueue::default());
        let scheduled = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let producers: Vec<_> = (0..4)
            .map(|t| {
                let (q, scheduled) = (q.clone(), scheduled.clone());
                std::thread::spawn(move || {
                    for i in 0..10_000 {
                        if q.push(post(t * 1_000_000 + i)) {
                            scheduled.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        }
                    }
                })
            })
            .collect();
        let mut seen = Vec::new();
        let mut out = Vec::new();
        let mut done = false;
        while !done {
            done = producers.iter().all(|p| p.is_finished());
            q.take(&mut out);
            seen.extend(out.drain(..).map(|p| value(&p)));
        }
        q.take(&mut out);
        seen.extend(out.drain(..).map(|p| value(&p)));
        assert_eq!(seen.len(), 40_000);
        for t in 0..4 {
            let mine: Vec<i64> = seen
                .iter()
                .copied()
                .filter(|v| v / 1_000_000 == t)
                .collect();
            assert!(
                mine.windows(2).all(|w| w[0] < w[1]),
                "thread {t} out of order"
            );
        }
        assert!(scheduled.load(std::sync::atomic::Ordering::SeqCst) >= 1);
    }
}
