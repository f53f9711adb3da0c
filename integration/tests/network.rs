//! The network namespace: `lo` comes up in a namespace the runtime makes
//! (as runc and crun do), and a namespace joined by path is left as it is.

use husk_integration::*;
use std::process::Command;

/// `lo`'s flags as the container sees them in /sys/class/net/lo/flags,
/// and a ping-less check that 127.0.0.1 answers: nc listens, then connects.
#[test]
fn loopback_is_up_in_a_new_network_namespace() {
    let script = "cat /sys/class/net/lo/flags; \
        (nc -l -p 7777 -e echo served &) ; sleep 0.2; \
        nc 127.0.0.1 7777 </dev/null || echo unreachable";
    let b = Bundle::new("lo-up", &["sh", "-c", script]);
    let out = b.run(&[]);
    out.ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines.first(),
        Some(&"0x9"),
        "lo is down: {}",
        out.describe()
    );
    assert!(
        out.stdout.contains("served"),
        "127.0.0.1 unreachable: {}",
        out.describe()
    );
    assert_no_leftovers(&b, b.id());
}

/// A network namespace joined by path belongs to someone else: its `lo`
/// stays down.
#[test]
fn a_joined_network_namespace_is_not_touched() {
    let mut holder = Command::new("unshare")
        .args(["--net", "sleep", "60"])
        .spawn()
        .expect("unshare (util-linux)");
    let pid = holder.id();
    let ns = format!("/proc/{pid}/ns/net");
    // The child has unshared once its namespace differs from ours.
    poll(|| {
        (ns_link(pid as i32, "net") != ns_link(std::process::id() as i32, "net")).then_some(())
    })
    .expect("unshare --net never made its namespace");
    let mut b = Bundle::new("lo-joined", &["cat", "/sys/class/net/lo/flags"]);
    b.set_namespace("network", Some(&ns));
    b.save();
    let out = b.run(&[]);
    let _ = holder.kill();
    let _ = holder.wait();
    out.ok();
    assert_eq!(out.stdout.trim(), "0x8", "{}", out.describe());
    assert_no_leftovers(&b, b.id());
}
