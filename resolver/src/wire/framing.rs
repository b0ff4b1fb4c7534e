//! TCP framing (handle-protocol.md §1 "TCP"): where the next message ends in
//! a byte stream, and how a reader's buffer may grow while it waits for the
//! rest. Sans-IO: the TCP door drives it, the fuzz target checks it.
//!
//! A client declares a message's length in the envelope before sending it;
//! a reader that allocated the declared length up front would let anyone
//! reserve 256 KiB per connection with 20 bytes. [`grow`] only ever doubles
//! a full buffer, so a buffer is never larger than twice the bytes received
//! (or the initial size), whatever the envelope says.

use super::ENVELOPE_LEN;

/// What the bytes at the front of a stream buffer hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// Fewer than [`ENVELOPE_LEN`] bytes.
    NeedEnvelope,
    /// The envelope declares more than the message limit.
    TooLong { declared: usize },
    /// The envelope is here; the message (`total` bytes with the envelope)
    /// is not complete yet.
    NeedMore { total: usize },
    /// A complete message of `total` bytes (envelope included).
    Ready { total: usize },
}

/// Frames the front of `buf`, refusing declared lengths over `max_message`.
pub fn frame(buf: &[u8], max_message: usize) -> Framing {
    if buf.len() < ENVELOPE_LEN {
        return Framing::NeedEnvelope;
    }
    let declared = u32::from_be_bytes([buf[16], buf[17], buf[18], buf[19]]) as usize;
    if declared > max_message {
        return Framing::TooLong { declared };
    }
    let total = ENVELOPE_LEN + declared;
    if buf.len() >= total { Framing::Ready { total } } else { Framing::NeedMore { total } }
}

/// The buffer size to read more of a `total`-byte message into, given a
/// buffer of `cap` bytes holding `filled`: `cap` while there is room; when
/// full, doubled (at least `initial`, never past `total`).
pub fn grow(cap: usize, filled: usize, total: usize, initial: usize) -> usize {
    if filled < cap || cap >= total { cap } else { (cap * 2).clamp(initial, total) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(len: u32) -> Vec<u8> {
        let mut e = vec![2, 11, 2, 11, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0];
        e.extend_from_slice(&len.to_be_bytes());
        e
    }

    #[test]
    fn frames_and_refuses() {
        assert_eq!(frame(&[0; 19], 100), Framing::NeedEnvelope);
        assert_eq!(frame(&envelope(101), 100), Framing::TooLong { declared: 101 });
        assert_eq!(frame(&envelope(10), 100), Framing::NeedMore { total: 30 });
        let mut m = envelope(10);
        m.extend_from_slice(&[0; 12]);
        assert_eq!(frame(&m, 100), Framing::Ready { total: 30 });
    }

    #[test]
    fn buffer_grows_only_with_bytes() {
        // 20 bytes declaring 256 KiB leave a 4 KiB buffer alone.
        assert_eq!(grow(4096, 20, 262_164, 4096), 4096);
        // Full: doubles, never past the message.
        assert_eq!(grow(4096, 4096, 262_164, 4096), 8192);
        assert_eq!(grow(200_000, 200_000, 262_164, 4096), 262_164);
        assert_eq!(grow(262_164, 262_164, 262_164, 4096), 262_164);
    }
}
