//! A listen stream's window, as plain code: which deliveries are in flight
//! (sent, not yet acknowledged) and since when, how far the stored
//! deliveries have been read, which acknowledgements wait to be recorded,
//! and what to redeliver. Methods take `now` and return decisions; the
//! listen stream (`ops::listen`) reads the store, writes the frames and
//! hands acknowledgements to the writer.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Acknowledgements handed to the writer together (at the latest on the
/// next tick of the listen loop); it records them with its next commit.
pub(crate) const ACK_BATCH: usize = 256;

/// One listener's window.
#[derive(Debug)]
pub(crate) struct Window {
    /// Most deliveries in flight at once (the listener's `maxInFlight`).
    max: usize,
    /// The last stored delivery read (sent or withheld).
    cursor: u64,
    /// Deliveries sent and not yet acknowledged: when last sent, and the
    /// envelope's stored text.
    in_flight: BTreeMap<u64, (Instant, String)>,
    /// Settled deliveries (acknowledged, or withheld by the access rule)
    /// not yet handed to the writer.
    acks: Vec<u64>,
    /// Whether the last read found nothing more pending: only a new
    /// delivery (a notification) or the tick can change that.
    drained: bool,
}

/// What an acknowledgement calls for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AfterAck {
    /// Hand the acknowledgements to the writer now (a batch is full).
    pub flush: bool,
    /// Read more deliveries: the window is half empty and the last read
    /// did not find the store drained.
    pub refill: bool,
}

impl Window {
    /// An empty window of `max_in_flight` deliveries.
    pub(crate) fn new(max_in_flight: u32) -> Window {
        Window {
            max: max_in_flight as usize,
            cursor: 0,
            in_flight: BTreeMap::new(),
            acks: Vec::new(),
            drained: false,
        }
    }

    /// The last stored delivery read: the next read starts after it.
    pub(crate) fn cursor(&self) -> u64 {
        self.cursor
    }

    /// How many more deliveries may be sent now.
    pub(crate) fn room(&self) -> usize {
        self.max.saturating_sub(self.in_flight.len())
    }

    /// A read of the store begins.
    pub(crate) fn reading(&mut self) {
        self.drained = false;
    }

    /// The store had nothing more pending.
    pub(crate) fn drained(&mut self) {
        self.drained = true;
    }

    /// The last read of the store found nothing more pending.
    pub(crate) fn is_drained(&self) -> bool {
        self.drained
    }

    /// Nothing to do until something happens: the store drained, nothing
    /// in flight to redeliver, no acknowledgement waiting to be recorded.
    pub(crate) fn is_idle(&self) -> bool {
        self.drained && self.in_flight.is_empty() && self.acks.is_empty()
    }

    /// Delivery `seq` was sent at `now`.
    pub(crate) fn sent(&mut self, seq: u64, envelope: String, now: Instant) {
        self.cursor = seq;
        self.in_flight.insert(seq, (now, envelope));
    }

    /// Delivery `seq` is not sent (the access rule no longer admits it): it
    /// is settled as if acknowledged.
    pub(crate) fn withheld(&mut self, seq: u64) {
        self.cursor = seq;
        self.acks.push(seq);
    }

    /// The listener acknowledged `delivery`; one not in flight (unknown,
    /// or acknowledged before) changes nothing.
    pub(crate) fn ack(&mut self, delivery: u64) -> AfterAck {
        if self.in_flight.remove(&delivery).is_some() {
            self.acks.push(delivery);
        }
        AfterAck {
            flush: self.acks.len() >= ACK_BATCH,
            refill: !self.drained && self.in_flight.len() < self.max / 2,
        }
    }

    /// The settled deliveries to hand to the writer, taken.
    pub(crate) fn take_acks(&mut self) -> Vec<u64> {
        std::mem::take(&mut self.acks)
    }

    /// The deliveries sent at least `after` before `now` and not
    /// acknowledged, in order: they are sent again, from `now`.
    pub(crate) fn redeliver(&mut self, now: Instant, after: Duration) -> Vec<u64> {
        let late: Vec<u64> = self
            .in_flight
            .iter()
            .filter(|(_, (at, _))| now.saturating_duration_since(*at) >= after)
            .map(|(seq, _)| *seq)
            .collect();
        for seq in &late {
            if let Some((at, _)) = self.in_flight.get_mut(seq) {
                *at = now;
            }
        }
        late
    }

    /// The stored text of delivery `seq`, while it is in flight.
    pub(crate) fn envelope(&self, seq: u64) -> Option<&str> {
        self.in_flight.get(&seq).map(|(_, text)| text.as_str())
    }
}

#[cfg(test)]
mod tests {
    //! Sequences of events on a window, each with the decisions expected.
    #![allow(clippy::unwrap_used)]

    use super::*;

    const REDELIVER: Duration = Duration::from_secs(30);

    /// What happens to a window, and what it must answer.
    enum Step {
        Read,
        Send(u64),
        Withhold(u64),
        Drained,
        /// An acknowledgement, and whether it calls for a flush and a refill.
        Ack(u64, bool, bool),
        /// Seconds since the start, and what is redelivered then.
        Tick(u64, &'static [u64]),
        /// What is handed to the writer.
        Flush(&'static [u64]),
        /// Room left, and the cursor.
        Expect(usize, u64),
    }

    fn run(max: u32, steps: &[Step]) {
        use Step::*;
        let start = Instant::now();
        let mut w = Window::new(max);
        for (i, step) in steps.iter().enumerate() {
            match *step {
                Read => w.reading(),
                Send(seq) => w.sent(seq, format!("{{\"id\":{seq}}}"), start),
                Withhold(seq) => w.withheld(seq),
                Drained => w.drained(),
                Ack(seq, flush, refill) => {
                    assert_eq!(
                        w.ack(seq),
                        AfterAck { flush, refill },
                        "step {i}: ack {seq}"
                    )
                }
                Tick(secs, want) => {
                    let now = start + Duration::from_secs(secs);
                    assert_eq!(w.redeliver(now, REDELIVER), want, "step {i}: tick {secs}");
                    for seq in want {
                        assert_eq!(w.envelope(*seq), Some(format!("{{\"id\":{seq}}}").as_str()));
                    }
                }
                Flush(want) => assert_eq!(w.take_acks(), want, "step {i}: flush"),
                Expect(room, cursor) => {
                    assert_eq!(
                        (w.room(), w.cursor()),
                        (room, cursor),
                        "step {i}: room and cursor"
                    )
                }
            }
        }
    }

    #[test]
    fn a_window_fills_refills_at_half_and_settles_acknowledgements() {
        use Step::*;
        run(
            4,
            &[
                Read,
                Send(1),
                Send(2),
                Send(3),
                Send(4),
                Expect(0, 4),
                // Three, then two in flight: not less than half, no refill.
                Ack(1, false, false),
                Ack(2, false, false),
                // Unknown and repeated acknowledgements change nothing.
                Ack(2, false, false),
                Ack(99, false, false),
                // One of four: refill.
                Ack(3, false, true),
                Flush(&[1, 2, 3]),
                Flush(&[]),
                Expect(3, 4),
            ],
        );
    }

    #[test]
    fn a_window_is_idle_only_drained_with_nothing_in_flight_or_to_record() {
        let now = Instant::now();
        let mut w = Window::new(4);
        assert!(!w.is_idle(), "not yet read");
        w.reading();
        w.drained();
        assert!(w.is_idle());
        w.reading();
        w.sent(7, "{}".into(), now);
        w.drained();
        assert!(!w.is_idle(), "one in flight");
        w.ack(7);
        assert!(!w.is_idle(), "an acknowledgement to record");
        assert_eq!(w.take_acks(), [7]);
        assert!(w.is_idle());
        w.reading();
        assert!(!w.is_idle(), "a read under way");
    }

    #[test]
    fn a_drained_store_is_not_read_again_on_acknowledgements() {
        use Step::*;
        run(
            4,
            &[
                Read,
                Send(5),
                Drained,
                Ack(5, false, false),
                // A notification or the tick reads again.
                Read,
                Send(6),
                Ack(6, false, true),
            ],
        );
    }

    #[test]
    fn withheld_deliveries_advance_the_cursor_and_are_settled() {
        use Step::*;
        run(
            2,
            &[
                Read,
                Withhold(3),
                Send(4),
                Withhold(5),
                Expect(1, 5),
                Ack(4, false, true),
                Flush(&[3, 5, 4]),
            ],
        );
    }

    #[test]
    fn unacknowledged_deliveries_are_redelivered_after_the_delay_and_then_again() {
        use Step::*;
        run(
            8,
            &[
                Read,
                Send(1),
                Send(2),
                Tick(29, &[]),
                Ack(1, false, true),
                Tick(30, &[2]),
                // Sent again at 30 s: due again at 60 s, not before.
                Tick(59, &[]),
                Tick(60, &[2]),
                Ack(2, false, true),
                Tick(120, &[]),
            ],
        );
    }

    #[test]
    fn a_full_batch_of_acknowledgements_is_flushed_at_once() {
        let start = Instant::now();
        let mut w = Window::new(ACK_BATCH as u32 + 1);
        for seq in 1..=ACK_BATCH as u64 {
            w.sent(seq, String::new(), start);
        }
        for seq in 1..ACK_BATCH as u64 {
            assert!(!w.ack(seq).flush, "ack {seq}");
        }
        assert!(w.ack(ACK_BATCH as u64).flush);
        assert_eq!(w.take_acks().len(), ACK_BATCH);
    }
}
