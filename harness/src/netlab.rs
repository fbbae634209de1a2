//! Network partitions between processes of one machine: a small private
//! network of Linux network namespaces ("hosts") whose links can be cut.
//!
//! ## Why namespaces, not port rules on loopback
//! On loopback every process shares one address, and a node talks to its
//! peers from ephemeral ports, so a rule cannot tell "node 0 → node 1" from
//! "client → node 1" without knowing every socket; rules keyed on ports also
//! miss connections opened before the rule. In a namespace a node has its own
//! interface and IPv4 address, so a cut is a rule on addresses: it catches
//! every connection in both directions, old and new, the way a real network
//! partition does, and the node runs unchanged (only `--listen` differs).
//!
//! ## Layout
//! ```text
//!   root namespace (tests, allocators, gateways)      10.A.B.254  link zyanS-root
//!        │ veth
//!   zyanS-sw namespace: bridge br0  ── nft table `bridge zya_netlab` (the cuts)
//!        │ veth            │ veth            │ veth
//!   zyanS-h0 10.A.B.1   zyanS-h1 10.A.B.2   zyanS-h2 10.A.B.3   (eth0 + lo each)
//! ```
//! The bridge sits in a namespace of its own ("switch"), not in the root
//! namespace: with `br_netfilter` loaded (`bridge-nf-call-iptables = 1`),
//! frames bridged in the root namespace go through the root's iptables
//! FORWARD chain, which Docker sets to DROP; the switch namespace has no
//! such rules, and the lab leaves the root's firewall untouched.
//!
//! ## What each cut does
//! All cuts are one nft set of `(source, destination)` address pairs in the
//! switch namespace; a frame whose pair is in the set is dropped as the bridge
//! forwards it. Nothing is rejected (no RST, no ICMP) and no link goes down:
//! senders see silence, established TCP connections stall and retransmit,
//! new connections hang in SYN-SENT, exactly as behind a broken switch. ARP is
//! not cut, so after [`NetLab::heal`] packets flow at the next retransmission.
//! - [`NetLab::isolate`]`(h)`: both directions between host `h` and every
//!   other host and the root namespace.
//! - [`NetLab::split`]`(side)`: both directions between each host in `side`
//!   and each host not in it; the root namespace still reaches both sides
//!   (it plays the clients).
//! - [`NetLab::heal`]: empties the set.
//!
//! Cuts add up: `isolate(0)` then `isolate(1)` leaves both cut off.
//!
//! ## Uniqueness and leftovers
//! A lab owns a slot `S` (0..8192): namespace and link names `zyanS-…`
//! (≤ 15 characters) and the subnet `10.(224 + S/256).(S%256).0/24`. It owns
//! the slot while it holds an exclusive `flock` on `/run/zya-netlab/S`, so
//! labs of any number of processes never share a slot, and the kernel drops
//! the lock when the owner dies. A new lab tears down the namespaces (and
//! kills the processes in them) of every slot whose lock it can take: those
//! are leftovers of a crashed run. Lock files are never deleted (deleting a
//! locked file would let two labs lock different files of one slot).
//!
//! Needs root, `ip` (iproute2) and `nft` (nftables). Every method runs a few
//! short commands synchronously (milliseconds each).

use std::collections::BTreeSet;
use std::fs::File;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;
use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::{bail, Context};
use nix::fcntl::{Flock, FlockArg};

/// Where the slot locks live: tmpfs, emptied at boot like the namespaces.
const LOCK_DIR: &str = "/run/zya-netlab";
/// Where `ip netns` keeps named namespaces.
const NETNS_DIR: &str = "/run/netns";
/// Prefix of every name a lab creates.
const PREFIX: &str = "zyan";
/// Slots map onto the /24s of 10.224.0.0/11.
const SLOTS: u16 = 32 * 256;
/// Hosts get .1 to .MAX_HOSTS; the root namespace .254.
pub const MAX_HOSTS: usize = 200;
const ROOT_OCTET: u8 = 254;
/// The nft table (bridge family) and set holding the cuts.
const TABLE: &str = "zya_netlab";
const SET: &str = "cut";

/// One end of a cut: a host of the lab or the root namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum End {
    Root,
    Host(usize),
}

/// Names and addresses of one slot (pure; no IO).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Slot(u16);

impl Slot {
    fn subnet(self) -> [u8; 3] {
        [10, 224 + (self.0 / 256) as u8, (self.0 % 256) as u8]
    }

    fn addr(self, end: End) -> Ipv4Addr {
        let [a, b, c] = self.subnet();
        let d = match end {
            End::Root => ROOT_OCTET,
            End::Host(k) => u8::try_from(k + 1).expect("hosts are at most MAX_HOSTS"),
        };
        Ipv4Addr::new(a, b, c, d)
    }

    /// Prefix shared by every namespace of the slot (the dash keeps slot 1
    /// apart from slot 12).
    fn ns_prefix(self) -> String {
        format!("{PREFIX}{}-", self.0)
    }

    fn switch_ns(self) -> String {
        format!("{}sw", self.ns_prefix())
    }

    fn host_ns(self, k: usize) -> String {
        format!("{}h{k}", self.ns_prefix())
    }

    /// The root namespace's end of the veth into the switch.
    fn root_link(self) -> String {
        format!("{}root", self.ns_prefix())
    }
}

/// A private network of `hosts` namespaces behind one bridge, with cuts.
/// Dropping it deletes everything it created (best effort, never panics).
pub struct NetLab {
    slot: Slot,
    hosts: usize,
    /// The pairs currently in the nft set, as ordered `(from, to)`.
    cuts: Mutex<BTreeSet<(End, End)>>,
    /// Exclusive lock on the slot's file, held for the lab's lifetime; its
    /// release (also by the kernel when the process dies) frees the slot.
    _lock: Flock<File>,
}

impl std::fmt::Debug for NetLab {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetLab").field("slot", &self.slot.0).field("hosts", &self.hosts).finish()
    }
}

impl NetLab {
    /// Creates a lab of `hosts` hosts on a free slot, after clearing the
    /// leftovers of crashed runs.
    pub fn create(hosts: usize) -> anyhow::Result<Arc<NetLab>> {
        if hosts == 0 || hosts > MAX_HOSTS {
            bail!("a lab has 1 to {MAX_HOSTS} hosts, not {hosts}");
        }
        if !nix::unistd::geteuid().is_root() {
            bail!("network labs need root (ip netns, nft)");
        }
        std::fs::create_dir_all(LOCK_DIR).with_context(|| format!("create {LOCK_DIR}"))?;
        clear_leftovers();
        for slot in (0..SLOTS).map(Slot) {
            let Some(lock) = try_lock(slot)? else { continue };
            // Ours now: whatever still carries the slot's names is a leftover.
            teardown(slot);
            if subnet_in_use(slot)? {
                continue;
            }
            let lab = NetLab { slot, hosts, cuts: Mutex::new(BTreeSet::new()), _lock: lock };
            // On error the lab is dropped here, which tears down what was built.
            lab.build().with_context(|| format!("build network lab in slot {}", slot.0))?;
            return Ok(Arc::new(lab));
        }
        bail!("no free network lab slot among {SLOTS} (10.224.0.0/11)")
    }

    fn build(&self) -> anyhow::Result<()> {
        let (s, sw) = (self.slot, self.slot.switch_ns());
        ip(&["netns", "add", &sw])?;
        ip(&["-n", &sw, "link", "add", "br0", "type", "bridge"])?;
        ip(&["-n", &sw, "link", "set", "br0", "up"])?;
        nft(
            &sw,
            &format!(
                "add table bridge {TABLE}; \
                 add set bridge {TABLE} {SET} {{ type ipv4_addr . ipv4_addr; }}; \
                 add chain bridge {TABLE} forward {{ type filter hook forward priority 0; policy accept; }}; \
                 add rule bridge {TABLE} forward ip saddr . ip daddr @{SET} drop"
            ),
        )?;
        let root = s.root_link();
        ip(&["link", "add", &root, "type", "veth", "peer", "name", "root", "netns", &sw])?;
        ip(&["-n", &sw, "link", "set", "root", "master", "br0", "up"])?;
        ip(&["addr", "add", &format!("{}/24", s.addr(End::Root)), "dev", &root])?;
        ip(&["link", "set", &root, "up"])?;
        for k in 0..self.hosts {
            let (ns, port) = (s.host_ns(k), format!("h{k}"));
            ip(&["netns", "add", &ns])?;
            ip(&["-n", &sw, "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns", &ns])?;
            ip(&["-n", &sw, "link", "set", &port, "master", "br0", "up"])?;
            ip(&["-n", &ns, "addr", "add", &format!("{}/24", s.addr(End::Host(k))), "dev", "eth0"])?;
            ip(&["-n", &ns, "link", "set", "eth0", "up"])?;
            ip(&["-n", &ns, "link", "set", "lo", "up"])?;
        }
        Ok(())
    }

    pub fn hosts(&self) -> usize {
        self.hosts
    }

    /// Address of host `host` (panics on a host the lab does not have).
    pub fn ip(&self, host: usize) -> Ipv4Addr {
        assert!(host < self.hosts, "host {host} of a lab of {}", self.hosts);
        self.slot.addr(End::Host(host))
    }

    /// The root namespace's address on the lab network: where processes of
    /// the root namespace listen to be reachable from the hosts.
    pub fn root_ip(&self) -> Ipv4Addr {
        self.slot.addr(End::Root)
    }

    /// The namespace's name, as `ip netns` knows it.
    pub fn netns(&self, host: usize) -> String {
        assert!(host < self.hosts, "host {host} of a lab of {}", self.hosts);
        self.slot.host_ns(host)
    }

    /// The namespace's file (compare with `/proc/PID/ns/net` to see where a
    /// process runs).
    pub fn netns_path(&self, host: usize) -> PathBuf {
        Path::new(NETNS_DIR).join(self.netns(host))
    }

    /// A command running `program` inside host `host`. `ip netns exec`
    /// enters the namespace and then execs `program` in the same process,
    /// so the child's pid is the program's: signals (SIGKILL, SIGSTOP)
    /// reach it directly.
    pub fn command(&self, host: usize, program: impl AsRef<std::ffi::OsStr>) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new("ip");
        cmd.args(["netns", "exec", &self.netns(host)]).arg(program);
        cmd
    }

    /// Cuts host `host` off from every other host and from the root namespace.
    pub fn isolate(&self, host: usize) -> anyhow::Result<()> {
        let (a, b) = isolate_sides(host, self.hosts);
        self.cut(&a, &b)
    }

    /// Cuts the hosts in `side` off from the other hosts; the root namespace
    /// keeps reaching both sides.
    pub fn split(&self, side: &[usize]) -> anyhow::Result<()> {
        let (a, b) = split_sides(side, self.hosts);
        self.cut(&a, &b)
    }

    /// Removes every cut.
    pub fn heal(&self) -> anyhow::Result<()> {
        let mut cuts = self.lock_cuts();
        nft(&self.slot.switch_ns(), &format!("flush set bridge {TABLE} {SET}")).context("heal network lab")?;
        cuts.clear();
        Ok(())
    }

    /// Whether the root namespace (tests, clients) can currently reach host
    /// `host`.
    pub fn reaches_root(&self, host: usize) -> bool {
        !self.lock_cuts().contains(&(End::Root, End::Host(host)))
    }

    /// Whether hosts `a` and `b` can currently reach each other.
    pub fn connected(&self, a: usize, b: usize) -> bool {
        !self.lock_cuts().contains(&(End::Host(a), End::Host(b)))
    }

    fn cut(&self, a: &[End], b: &[End]) -> anyhow::Result<()> {
        for end in a.iter().chain(b) {
            if let End::Host(k) = end {
                if *k >= self.hosts {
                    bail!("host {k} of a lab of {}", self.hosts);
                }
            }
        }
        let mut cuts = self.lock_cuts();
        let new: Vec<(End, End)> = cut_pairs(a, b).into_iter().filter(|p| !cuts.contains(p)).collect();
        if new.is_empty() {
            return Ok(());
        }
        let s = self.slot;
        let elements: Vec<String> =
            new.iter().map(|&(from, to)| format!("{} . {}", s.addr(from), s.addr(to))).collect();
        nft(&s.switch_ns(), &format!("add element bridge {TABLE} {SET} {{ {} }}", elements.join(", ")))
            .context("cut network lab")?;
        cuts.extend(new);
        Ok(())
    }

    fn lock_cuts(&self) -> MutexGuard<'_, BTreeSet<(End, End)>> {
        // A panic while holding the lock leaves a consistent set (it is
        // only changed after nft succeeded).
        self.cuts.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for NetLab {
    fn drop(&mut self) {
        teardown(self.slot);
    }
}

/// `(host)` against everything else, root included.
fn isolate_sides(host: usize, hosts: usize) -> (Vec<End>, Vec<End>) {
    let others = std::iter::once(End::Root).chain((0..hosts).filter(|&k| k != host).map(End::Host)).collect();
    (vec![End::Host(host)], others)
}

/// The hosts in `side` against the other hosts (root on neither side).
fn split_sides(side: &[usize], hosts: usize) -> (Vec<End>, Vec<End>) {
    let a = side.iter().copied().map(End::Host).collect();
    let b = (0..hosts).filter(|k| !side.contains(k)).map(End::Host).collect();
    (a, b)
}

/// Every ordered pair across the two sides, both directions.
fn cut_pairs(a: &[End], b: &[End]) -> BTreeSet<(End, End)> {
    a.iter().flat_map(|&x| b.iter().filter(move |&&y| y != x).flat_map(move |&y| [(x, y), (y, x)])).collect()
}

/// Locks the slot's file without waiting; `None` if another lab holds it.
fn try_lock(slot: Slot) -> anyhow::Result<Option<Flock<File>>> {
    let path = Path::new(LOCK_DIR).join(slot.0.to_string());
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("open {}", path.display()))?;
    match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => Ok(Some(lock)),
        Err((_, nix::errno::Errno::EWOULDBLOCK)) => Ok(None),
        Err((_, e)) => Err(e).with_context(|| format!("lock {}", path.display())),
    }
}

/// Tears down every slot that has namespaces but no living owner.
fn clear_leftovers() {
    let Ok(entries) = std::fs::read_dir(NETNS_DIR) else { return };
    let slots: BTreeSet<u16> = entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|name| name.strip_prefix(PREFIX)?.split_once('-')?.0.parse().ok())
        .filter(|&s| s < SLOTS)
        .collect();
    for slot in slots.into_iter().map(Slot) {
        if let Ok(Some(_lock)) = try_lock(slot) {
            eprintln!("netlab: removing leftovers of network lab slot {}", slot.0);
            teardown(slot);
        }
    }
}

/// Deletes the slot's root link and namespaces and kills the processes
/// still inside them. Best effort: errors are ignored (most mean "already
/// gone").
fn teardown(slot: Slot) {
    // Deleting one end of a veth deletes both, at once (a namespace's
    // devices go away asynchronously after `netns del`, which would keep
    // the root link's name and route busy for a moment).
    if Path::new("/sys/class/net").join(slot.root_link()).exists() {
        let _ = ip(&["link", "del", &slot.root_link()]);
    }
    let Ok(entries) = std::fs::read_dir(NETNS_DIR) else { return };
    let prefix = slot.ns_prefix();
    for name in entries.filter_map(|e| e.ok()?.file_name().into_string().ok()).filter(|n| n.starts_with(&prefix)) {
        if let Ok(pids) = ip(&["netns", "pids", &name]) {
            for pid in pids.split_whitespace().filter_map(|p| p.parse::<i32>().ok()) {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
            }
        }
        if let Err(e) = ip(&["netns", "del", &name]) {
            eprintln!("netlab: could not delete namespace {name}: {e:#}");
        }
    }
}

/// Whether a route of the root namespace at least as specific as a /24
/// overlaps the slot's subnet (some other network uses those addresses).
fn subnet_in_use(slot: Slot) -> anyhow::Result<bool> {
    let routes = ip(&["-4", "route", "show", "table", "all"])?;
    Ok(routes.lines().any(|line| route_clashes(line, slot.subnet())))
}

/// Route types `ip route` may print before the destination.
const ROUTE_TYPES: &[&str] =
    &["unicast", "local", "broadcast", "multicast", "anycast", "blackhole", "unreachable", "prohibit", "throw", "nat"];

/// Whether one line of `ip -4 route show` names a destination of prefix
/// length ≥ 24 inside `subnet`/24. Broader routes (a VPN's 10.0.0.0/8) are
/// shadowed, not clashed with: the lab's /24 is more specific.
fn route_clashes(line: &str, subnet: [u8; 3]) -> bool {
    let mut words = line.split_whitespace();
    let Some(mut dest) = words.next() else { return false };
    if ROUTE_TYPES.contains(&dest) {
        let Some(d) = words.next() else { return false };
        dest = d;
    }
    let (addr, len) = match dest.split_once('/') {
        Some((a, l)) => (a, l.parse::<u8>().unwrap_or(0)),
        None => (dest, 32),
    };
    let Ok(addr) = addr.parse::<Ipv4Addr>() else { return false };
    len >= 24 && addr.octets()[..3] == subnet
}

/// Runs `ip ARGS`, returning its stdout.
fn ip(args: &[&str]) -> anyhow::Result<String> {
    run(StdCommand::new("ip").args(args))
}

/// Runs one nft script in namespace `ns`.
fn nft(ns: &str, script: &str) -> anyhow::Result<String> {
    run(StdCommand::new("ip").args(["netns", "exec", ns, "nft", script]))
}

fn run(cmd: &mut StdCommand) -> anyhow::Result<String> {
    let shown = format!("{cmd:?}");
    let out = cmd.output().with_context(|| format!("run {shown} (are iproute2 and nftables installed?)"))?;
    if !out.status.success() {
        bail!("{shown} failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_names_fit_interface_names_and_addresses_stay_in_the_range() {
        let last = Slot(SLOTS - 1);
        assert_eq!(last.subnet(), [10, 255, 255]);
        assert_eq!(Slot(0).subnet(), [10, 224, 0]);
        assert_eq!(Slot(257).addr(End::Host(0)), Ipv4Addr::new(10, 225, 1, 1));
        assert_eq!(Slot(257).addr(End::Root), Ipv4Addr::new(10, 225, 1, 254));
        for name in [last.root_link(), last.switch_ns(), last.host_ns(MAX_HOSTS - 1)] {
            assert!(name.len() <= 15, "{name} is longer than IFNAMSIZ - 1");
        }
        assert!(!Slot(12).host_ns(0).starts_with(&Slot(1).ns_prefix()), "slot 1 must not match slot 12's names");
    }

    #[test]
    fn isolate_cuts_the_host_from_everyone_both_ways() {
        let (a, b) = isolate_sides(1, 3);
        let pairs = cut_pairs(&a, &b);
        let h = End::Host;
        let expected: BTreeSet<_> =
            [(h(1), End::Root), (End::Root, h(1)), (h(1), h(0)), (h(0), h(1)), (h(1), h(2)), (h(2), h(1))]
                .into_iter()
                .collect();
        assert_eq!(pairs, expected);
    }

    #[test]
    fn split_keeps_root_connected_and_each_side_whole() {
        let (a, b) = split_sides(&[0, 3], 5);
        let pairs = cut_pairs(&a, &b);
        assert_eq!(pairs.len(), 2 * 2 * 3);
        assert!(pairs.iter().all(|&(x, y)| x != End::Root && y != End::Root));
        assert!(!pairs.contains(&(End::Host(0), End::Host(3))), "same side stays connected");
        assert!(!pairs.contains(&(End::Host(1), End::Host(2))), "same side stays connected");
        assert!(pairs.contains(&(End::Host(2), End::Host(3))));
    }

    #[test]
    fn routes_clash_only_when_as_specific_as_the_lab_subnet() {
        let s = [10, 224, 5];
        assert!(route_clashes("10.224.5.0/24 dev zyan5-root proto kernel scope link src 10.224.5.254", s));
        assert!(route_clashes("local 10.224.5.7 dev tun0 table local proto kernel scope host", s));
        assert!(route_clashes("10.224.5.128/25 via 192.0.2.1 dev eth0", s));
        assert!(!route_clashes("10.0.0.0/8 via 192.0.2.1 dev tun0", s));
        assert!(!route_clashes("default via 192.0.2.1 dev eth0", s));
        assert!(!route_clashes("10.224.6.0/24 dev x", s));
        assert!(!route_clashes("", s));
    }
}
