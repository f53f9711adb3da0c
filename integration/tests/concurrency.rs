//! Concurrent runtime invocations: engines create, start and delete many
//! containers at once, and may race on one id.

use husk_integration::*;
use std::sync::Barrier;

/// Ten `create`s of one id at the same moment: exactly one wins, the others
/// fail naming the id, and the winner is a normal created container.
#[test]
fn concurrent_create_of_one_id() {
    const N: usize = 10;
    let b = Bundle::new("race-one-id", &["sleep", "30"]);
    b.save(); // once: every create reads the same config.json
    let barrier = Barrier::new(N);
    let outs: Vec<Output> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..N)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    b.runtime()
                        .exec(&["create", "--bundle", b.path_str(), b.id()])
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("create thread panicked"))
            .collect()
    });
    let winners = outs.iter().filter(|o| o.success()).count();
    let all = outs
        .iter()
        .map(Output::describe)
        .collect::<Vec<_>>()
        .join("\n---\n");
    assert_eq!(
        winners, 1,
        "exactly one of {N} concurrent creates of one id should succeed:\n{all}"
    );
    for out in outs.iter().filter(|o| !o.success()) {
        out.failed_with_one_line().stderr_mentions_any(&[b.id()]);
    }
    let st = b.state();
    assert_eq!(st["status"], "created", "the winner's state: {st}");
    let pid = st["pid"].as_i64().unwrap_or(0);
    assert!(
        pid > 0 && std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "the winner's init is not alive: {st}"
    );
    b.delete_force().ok();
    b.runtime().assert_gone(b.id());
    assert_no_leftovers(&b, b.id());
}

/// Eight containers, each from its own bundle directory (one shared
/// rootfs), created, started, waited for and deleted in parallel threads.
#[test]
fn concurrent_lifecycles_of_distinct_ids() {
    const N: usize = 8;
    let b = Bundle::new("parallel", &["true"]);
    let ids: Vec<String> = (0..N).map(|i| format!("{}-{i}", b.id())).collect();
    let dirs: Vec<_> = ids.iter().map(|id| b.separate_bundle(id)).collect();
    let barrier = Barrier::new(N);
    std::thread::scope(|s| {
        let handles: Vec<_> = ids
            .iter()
            .zip(&dirs)
            .map(|(id, dir)| {
                let barrier = &barrier;
                let b = &b;
                s.spawn(move || {
                    let rt = b.runtime();
                    barrier.wait();
                    rt.exec(&["create", "--bundle", dir.to_str().unwrap(), id])
                        .ok();
                    rt.exec(&["start", id]).ok();
                    rt.wait_for_status(id, "stopped");
                    rt.exec(&["delete", id]).ok();
                    rt.assert_gone(id);
                })
            })
            .collect();
        let failed: Vec<String> = handles
            .into_iter()
            .zip(&ids)
            .filter_map(|(h, id)| h.join().err().map(|_| id.clone()))
            .collect();
        assert!(
            failed.is_empty(),
            "the lifecycle failed for {failed:?} (see the panics above)"
        );
    });
    for id in &ids {
        assert_no_leftovers(&b, id);
    }
}
