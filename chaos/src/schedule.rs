//! Which faults a run injects, in which order and for how long: a pure
//! function of the seed, so a failing run can be replayed exactly (the
//! targets are then chosen by the same seeded generator from the cluster's
//! state at the time).
//!
//! Kinds come in shuffled rounds (each round has every enabled kind once),
//! so even a short run injects every kind about equally often.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FaultKind {
    /// SIGKILL a partition's leader, restart it after the hold.
    KillLeader,
    /// SIGKILL a follower of a partition, restart it after the hold.
    KillFollower,
    /// SIGSTOP a partition's leader for the hold (1–20 s by default).
    PauseLeader,
    /// Cut a partition's leader off from every other process.
    IsolateLeader,
    /// Split the storage nodes into a minority (with a leader) and a majority.
    SplitMinority,
    /// SIGKILL a follower, delete its data, start it again (a new node).
    WipeRestart,
    /// Decommission a node hosting replicas (they move away), then wipe it
    /// and start it again as a new, empty node.
    RemoveAddNode,
    /// Negative control only: freeze a leader's followers, let it
    /// acknowledge alone (nodes run with ack-before-replication), then kill
    /// and wipe it.
    LoseUnreplicatedLeader,
}

impl FaultKind {
    pub const ALL: [FaultKind; 7] = [
        FaultKind::KillLeader,
        FaultKind::KillFollower,
        FaultKind::PauseLeader,
        FaultKind::IsolateLeader,
        FaultKind::SplitMinority,
        FaultKind::WipeRestart,
        FaultKind::RemoveAddNode,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FaultKind::KillLeader => "kill-leader",
            FaultKind::KillFollower => "kill-follower",
            FaultKind::PauseLeader => "pause-leader",
            FaultKind::IsolateLeader => "isolate-leader",
            FaultKind::SplitMinority => "split-minority",
            FaultKind::WipeRestart => "wipe-restart",
            FaultKind::RemoveAddNode => "remove-add-node",
            FaultKind::LoseUnreplicatedLeader => "lose-unreplicated-leader",
        }
    }

    /// Whether the fault cuts the network (needs network namespaces).
    pub fn is_network(self) -> bool {
        matches!(self, FaultKind::IsolateLeader | FaultKind::SplitMinority)
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for FaultKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .chain([FaultKind::LoseUnreplicatedLeader])
            .find(|k| k.name() == s)
            .ok_or_else(|| format!("unknown fault {s:?}; known: {}", Self::ALL.map(|k| k.name()).join(", ")))
    }
}

/// One planned fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Planned {
    pub kind: FaultKind,
    /// How long the fault lasts before it is healed.
    pub hold: Duration,
    /// A seed for choosing its target.
    pub target_seed: u64,
}

/// Hold ranges, in milliseconds.
#[derive(Debug, Clone, Copy)]
pub struct Holds {
    pub fault_ms: (u64, u64),
    pub pause_ms: (u64, u64),
}

impl Default for Holds {
    fn default() -> Self {
        Self { fault_ms: (1_000, 4_000), pause_ms: (1_000, 20_000) }
    }
}

/// An endless, seeded sequence of faults.
pub struct Schedule {
    rng: StdRng,
    kinds: Vec<FaultKind>,
    round: Vec<FaultKind>,
    holds: Holds,
}

impl Schedule {
    pub fn new(seed: u64, kinds: &[FaultKind], holds: Holds) -> Self {
        Self { rng: StdRng::seed_from_u64(seed), kinds: kinds.to_vec(), round: Vec::new(), holds }
    }
}

impl Iterator for Schedule {
    type Item = Planned;

    fn next(&mut self) -> Option<Planned> {
        if self.kinds.is_empty() {
            return None;
        }
        if self.round.is_empty() {
            self.round = self.kinds.clone();
            self.round.shuffle(&mut self.rng);
        }
        let kind = self.round.pop().expect("refilled above");
        let (lo, hi) = if kind == FaultKind::PauseLeader { self.holds.pause_ms } else { self.holds.fault_ms };
        let hold = Duration::from_millis(if hi > lo { self.rng.gen_range(lo..=hi) } else { lo });
        Some(Planned { kind, hold, target_seed: self.rng.gen() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_faults() {
        let a: Vec<Planned> = Schedule::new(7, &FaultKind::ALL, Holds::default()).take(50).collect();
        let b: Vec<Planned> = Schedule::new(7, &FaultKind::ALL, Holds::default()).take(50).collect();
        let c: Vec<Planned> = Schedule::new(8, &FaultKind::ALL, Holds::default()).take(50).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn every_kind_comes_once_per_round_with_holds_in_range() {
        let holds = Holds { fault_ms: (100, 200), pause_ms: (1_000, 20_000) };
        let planned: Vec<Planned> = Schedule::new(1, &FaultKind::ALL, holds).take(70).collect();
        for round in planned.chunks(7) {
            let mut kinds: Vec<FaultKind> = round.iter().map(|p| p.kind).collect();
            kinds.sort();
            assert_eq!(kinds, FaultKind::ALL.to_vec());
        }
        for p in &planned {
            let ms = p.hold.as_millis() as u64;
            match p.kind {
                FaultKind::PauseLeader => assert!((1_000..=20_000).contains(&ms)),
                _ => assert!((100..=200).contains(&ms)),
            }
        }
    }

    #[test]
    fn names_round_trip() {
        for k in FaultKind::ALL {
            assert_eq!(k.name().parse::<FaultKind>(), Ok(k));
        }
        assert!("nope".parse::<FaultKind>().is_err());
    }
}
