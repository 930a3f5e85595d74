//! [`OwnedMessage`]: the only copy of a message delivered to one local agent, in an allocation
//! that is kept for the next message when the delivery is dropped.
//!
//! A `Message` is some two hundred bytes: too large for the allocator's fast lists, so every
//! local send paid a full malloc and free for its box (with 1 000 messages in flight on glibc,
//! about 90 ns a pair, against 25 ns for the 40-byte envelope actix adds; more than the whole
//! raw actix `do_send`). Each thread keeps up to [`KEPT_PER_THREAD`] emptied boxes instead and
//! fills one for the next message it sends, so a stream of local sends reuses the same few
//! allocations. A link's reader boxes each message it decodes the same way, so an agent on the
//! reader's arbiter hands the box back to it. The boxes kept are bounded per thread, and a
//! thread's are freed when it ends.

use std::cell::RefCell;
use std::fmt;
use std::mem::{ManuallyDrop, MaybeUninit};
use std::ops::{Deref, DerefMut};

use swarm_protocol::Message;

/// Emptied message boxes each thread keeps at most (about 210 KiB of them).
const KEPT_PER_THREAD: usize = 1024;

/// An emptied message allocation: the right size and alignment, holding no message.
type Spare = Box<MaybeUninit<Message>>;

thread_local! {
    static SPARES: RefCell<Vec<Spare>> = const { RefCell::new(Vec::new()) };
}

/// A boxed message whose allocation goes back to this thread's spares when it is dropped or
/// unwrapped. Derefs to the [`Message`].
pub struct OwnedMessage(ManuallyDrop<Box<Message>>);

impl OwnedMessage {
    /// Boxes `message`, in a spare allocation of this thread's when it has one.
    pub fn new(message: Message) -> Self {
        let spare = SPARES.try_with(|s| s.borrow_mut().pop()).ok().flatten();
        let boxed = match spare {
            Some(mut spare) => {
                spare.write(message);
                // SAFETY: the line above initialised the box's contents.
                unsafe { spare.assume_init() }
            }
            None => Box::new(message),
        };
        OwnedMessage(ManuallyDrop::new(boxed))
    }

    /// The message by value; its allocation is kept as a spare.
    pub fn into_inner(self) -> Message {
        let mut this = ManuallyDrop::new(self);
        // SAFETY: `this` is never dropped, so the box is taken out of it exactly once.
        let raw = Box::into_raw(unsafe { ManuallyDrop::take(&mut this.0) });
        // SAFETY: `raw` comes from a live `Box<Message>`, so it points to an initialised
        // message; it is read out once here, and `keep_emptied` reads it never again.
        let message = unsafe { raw.read() };
        // SAFETY: the box's message was moved out just above.
        unsafe { keep_emptied(raw) };
        message
    }
}

impl Drop for OwnedMessage {
    fn drop(&mut self) {
        // SAFETY: called once, from `drop`; `self.0` is not used after it.
        let raw = Box::into_raw(unsafe { ManuallyDrop::take(&mut self.0) });
        // SAFETY: `raw` comes from a live `Box<Message>`, so it points to an initialised
        // message, dropped in place once here; `keep_emptied` never reads it.
        unsafe { raw.drop_in_place() };
        // SAFETY: the box's message was dropped just above.
        unsafe { keep_emptied(raw) };
    }
}

/// Keeps the allocation behind `raw` for this thread's next message, or frees it when the
/// thread keeps enough (or is ending).
///
/// # Safety
///
/// `raw` comes from `Box::<Message>::into_raw`, and its message has been moved out or dropped:
/// the allocation is handed on as uninitialised memory of the same layout
/// (`MaybeUninit<Message>` has `Message`'s size and alignment), never read as a message.
unsafe fn keep_emptied(raw: *mut Message) {
    // SAFETY: by this function's contract, `raw` is a `Box<Message>` allocation whose message
    // is gone, which is a valid `Box<MaybeUninit<Message>>`.
    let spare: Spare = unsafe { Box::from_raw(raw.cast::<MaybeUninit<Message>>()) };
    let _ = SPARES.try_with(move |s| {
        let mut spares = s.borrow_mut();
        if spares.len() < KEPT_PER_THREAD {
            spares.push(spare);
        }
    });
}

impl Deref for OwnedMessage {
    type Target = Message;

    fn deref(&self) -> &Message {
        &self.0
    }
}

impl DerefMut for OwnedMessage {
    fn deref_mut(&mut self) -> &mut Message {
        &mut self.0
    }
}

impl std::borrow::Borrow<Message> for OwnedMessage {
    fn borrow(&self) -> &Message {
        &self.0
    }
}

impl Clone for OwnedMessage {
    fn clone(&self) -> Self {
        OwnedMessage::new(Message::clone(self))
    }
}

impl fmt::Debug for OwnedMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Message::fmt(self, f)
    }
}

impl From<OwnedMessage> for Message {
    fn from(m: OwnedMessage) -> Self {
        m.into_inner()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spares() -> usize {
        SPARES.with(|s| s.borrow().len())
    }

    #[test]
    fn a_dropped_message_leaves_its_allocation_for_the_next() {
        let first = OwnedMessage::new(Message::event("a", "e", "one"));
        let at = std::ptr::from_ref::<Message>(&first);
        let before = spares();
        drop(first);
        assert_eq!(spares(), before + 1);
        let second = OwnedMessage::new(Message::event("a", "e", "two"));
        assert_eq!(
            std::ptr::from_ref::<Message>(&second),
            at,
            "the same allocation"
        );
        assert_eq!(spares(), before);
        assert_eq!(
            second.into_inner().payload,
            Message::event("a", "e", "two").payload
        );
        assert_eq!(spares(), before + 1, "unwrapping keeps the allocation too");
    }

    #[test]
    fn a_thread_keeps_a_bounded_number_of_spares() {
        std::thread::spawn(|| {
            let many: Vec<_> = (0..KEPT_PER_THREAD + 10)
                .map(|i| OwnedMessage::new(Message::event("a", "e", i as i64)))
                .collect();
            drop(many);
            assert_eq!(spares(), KEPT_PER_THREAD);
        })
        .join()
        .unwrap();
    }

    #[test]
    fn a_spare_from_another_thread_is_reused_here() {
        let made = std::thread::spawn(|| OwnedMessage::new(Message::event("a", "e", 1)))
            .join()
            .unwrap();
        let before = spares();
        drop(made);
        assert_eq!(spares(), before + 1);
        let again = OwnedMessage::new(Message::event("a", "e", 2));
        assert_eq!(again.payload, Message::event("a", "e", 2).payload);
    }
}
