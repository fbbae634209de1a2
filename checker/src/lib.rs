//! Jepsen-style history checker for Zya's chaos and fault tests.
//!
//! A chaos test records every client operation with its outcome (through a
//! shared [`Recorder`]), then hands the [`History`] to [`check`], which looks
//! for the anomalies listed in `reliability.md`: inconsistent offsets,
//! duplicates, lost writes, failed writes made visible, out-of-order or
//! skipping subscriptions, lost or impossible commits, lost deliveries and
//! diverging replicas. The model is the checker of Jepsen's Kafka workload.
//!
//! The crate does no IO beyond saving and loading a history as JSON lines, so
//! a failing run can be kept and re-checked:
//!
//! ```
//! use zya_checker::{check, Op, PublishOutcome, Recorder};
//!
//! let recorder = Recorder::new();
//! recorder.record(1, Op::Publish {
//!     topic: "t".into(),
//!     message_id: "m1".into(),
//!     outcome: PublishOutcome::Ok { partition: 0, offset: 0 },
//! });
//! recorder.record(2, Op::FinalRead {
//!     topic: "t".into(),
//!     partition: 0,
//!     replica: "n1".into(),
//!     entries: vec![],
//! });
//! let report = check(&recorder.history());
//! assert!(!report.is_valid()); // m1 was acknowledged but no replica has it
//! println!("{report}");
//! ```

mod anomaly;
mod check;
mod evidence;
mod history;
mod op;
mod recorder;
mod report;

pub use anomaly::{Anomaly, AnomalyKind};
pub use check::check;
pub use evidence::{CommitSource, Placement, Sighting, Source};
pub use history::{Event, History, HistoryError};
pub use op::{Op, PublishOutcome};
pub use recorder::Recorder;
pub use report::{AnomalySummary, FaultWindow, OutcomeCounts, Report, Totals, MAX_EXAMPLES};
