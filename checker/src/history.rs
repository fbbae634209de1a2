//! A recorded run: timestamped operations, saved and loaded as JSON lines.
//!
//! JSON lines (one [`Event`] per line) keeps a failing run's history readable
//! with `grep`/`jq` and lets a fixed checker re-check an old run.

use std::io::{BufRead, Write};

use serde::{Deserialize, Serialize};

use crate::op::Op;

/// One completed operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Milliseconds since the run started, taken when the operation completed.
    pub at_ms: u64,
    /// The client (or test thread) that performed the operation.
    pub process: u64,
    #[serde(flatten)]
    pub op: Op,
}

/// Everything a run recorded, in the order it was recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    pub events: Vec<Event>,
}

/// Why a history could not be saved or loaded.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("parse history line {line}")]
    Parse {
        /// 1-based line number.
        line: usize,
        #[source]
        source: serde_json::Error,
    },
    #[error("encode history event {index}")]
    Encode {
        index: usize,
        #[source]
        source: serde_json::Error,
    },
    #[error("read or write history")]
    Io(#[source] std::io::Error),
}

impl History {
    pub fn new(events: Vec<Event>) -> Self {
        Self { events }
    }

    /// One JSON object per line, each line ending in `\n`.
    pub fn to_jsonl(&self) -> Result<String, HistoryError> {
        let mut out = Vec::new();
        self.write_jsonl(&mut out)?;
        // serde_json only emits UTF-8.
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    /// Parses [`History::to_jsonl`] output; blank lines are skipped.
    pub fn from_jsonl(text: &str) -> Result<Self, HistoryError> {
        let mut events = Vec::new();
        for (n, line) in text.lines().enumerate() {
            if let Some(event) = parse_line(n + 1, line)? {
                events.push(event);
            }
        }
        Ok(Self { events })
    }

    pub fn write_jsonl<W: Write>(&self, mut out: W) -> Result<(), HistoryError> {
        for (index, event) in self.events.iter().enumerate() {
            serde_json::to_writer(&mut out, event).map_err(|source| HistoryError::Encode { index, source })?;
            out.write_all(b"\n").map_err(HistoryError::Io)?;
        }
        out.flush().map_err(HistoryError::Io)
    }

    pub fn read_jsonl<R: BufRead>(input: R) -> Result<Self, HistoryError> {
        let mut events = Vec::new();
        for (n, line) in input.lines().enumerate() {
            let line = line.map_err(HistoryError::Io)?;
            if let Some(event) = parse_line(n + 1, &line)? {
                events.push(event);
            }
        }
        Ok(Self { events })
    }
}

impl From<Vec<Event>> for History {
    fn from(events: Vec<Event>) -> Self {
        Self { events }
    }
}

fn parse_line(line: usize, text: &str) -> Result<Option<Event>, HistoryError> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    serde_json::from_str(text).map(Some).map_err(|source| HistoryError::Parse { line, source })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::PublishOutcome;

    fn every_kind_of_event() -> History {
        let ops = vec![
            Op::Publish {
                topic: "t".into(),
                message_id: "m1".into(),
                outcome: PublishOutcome::Ok { partition: 1, offset: u64::MAX },
            },
            Op::Publish {
                topic: "t".into(),
                message_id: "m2".into(),
                outcome: PublishOutcome::Fail { reason: "not leader".into() },
            },
            Op::Publish { topic: "t".into(), message_id: "m3".into(), outcome: PublishOutcome::Unknown },
            Op::Read {
                topic: "t".into(),
                partition: 1,
                from: 0,
                to: 2,
                entries: vec![(0, "m1".into()), (1, "m\"3\n".into())],
            },
            Op::Subscribe {
                subscription: 7,
                group: "g".into(),
                topic: "t".into(),
                partition: 1,
                start_offset: 0,
                from_committed: true,
            },
            Op::Deliver {
                subscription: 7,
                topic: "t".into(),
                partition: 1,
                offset: 0,
                message_id: "m1".into(),
                redelivered: false,
            },
            Op::CommitAck { group: "g".into(), topic: "t".into(), partition: 1, committed_offset: 1 },
            Op::CommitRead { group: "g".into(), topic: "t".into(), partition: 1, committed_offset: 1 },
            Op::Drained { group: "g".into(), topic: "t".into(), partition: 1, end_offset: 1 },
            Op::FinalRead { topic: "t".into(), partition: 1, replica: "n1".into(), entries: vec![(0, "m1".into())] },
            Op::Fault { description: "kill -9 n1".into() },
            Op::Healed,
        ];
        ops.into_iter()
            .enumerate()
            .map(|(i, op)| Event { at_ms: i as u64 * 10, process: i as u64 % 3, op })
            .collect::<Vec<_>>()
            .into()
    }

    #[test]
    fn jsonl_round_trip_keeps_every_event() {
        let history = every_kind_of_event();
        let text = history.to_jsonl().expect("encode");
        assert_eq!(text.lines().count(), history.events.len());
        assert_eq!(History::from_jsonl(&text).expect("decode"), history);
        let via_reader = History::read_jsonl(text.as_bytes()).expect("decode via reader");
        assert_eq!(via_reader, history);
    }

    #[test]
    fn jsonl_is_flat_and_tagged() {
        let history = every_kind_of_event();
        let text = history.to_jsonl().expect("encode");
        let first = text.lines().next().expect("a line");
        assert!(first.starts_with(r#"{"at_ms":0,"process":0,"op":"publish""#));
        assert!(first.contains(r#""outcome":{"status":"ok","partition":1"#));
        assert!(text.contains(r#"{"at_ms":110,"process":2,"op":"healed"}"#));
    }

    #[test]
    fn blank_lines_are_skipped() {
        let text = "\n{\"at_ms\":1,\"process\":2,\"op\":\"healed\"}\n\n";
        let history = History::from_jsonl(text).expect("decode");
        assert_eq!(history.events.len(), 1);
    }

    #[test]
    fn bad_lines_are_reported_with_their_number() {
        let text = "{\"at_ms\":1,\"process\":2,\"op\":\"healed\"}\n{\"at_ms\":1,\"op\":\"nope\"}\n";
        match History::from_jsonl(text) {
            Err(HistoryError::Parse { line, .. }) => assert_eq!(line, 2),
            other => panic!("expected a parse error, got {other:?}"),
        }
        assert!(History::from_jsonl("{\"at_ms\":-1,\"process\":0,\"op\":\"healed\"}").is_err());
    }
}
