//! Compiler tests: errors name their field, and compiled programs do what
//! the profile says when a real kernel runs them (in a forked child).

use super::*;
use husk_spec::Seccomp;

fn profile(json: &str) -> Seccomp {
    serde_json::from_str(json).expect("test profile parses")
}

fn compile_err(json: &str) -> String {
    compile(&profile(json)).unwrap_err().to_string()
}

/// Forks, loads `json`'s filter in the child (with no_new_privs), runs `f`
/// and returns how the child ended: Ok(exit code) or Err(signal).
fn run_filtered(json: &str, f: fn() -> i32) -> Result<i32, i32> {
    let (p, _) = compile(&profile(json)).expect("compiles");
    // SAFETY: the child only makes raw syscalls (prctl, seccomp, the test's
    // calls) and _exit; it allocates nothing, so forking the multi-threaded
    // test harness is sound.
    match unsafe { libc::fork() } {
        0 => {
            // SAFETY: prctl and _exit have no memory-safety preconditions.
            unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
            let code = match load(&p) {
                Ok(listener) if listener.is_some() != p.notifies() => 98,
                Ok(_) => f(),
                Err(_) => 99,
            };
            // SAFETY: as above.
            unsafe { libc::_exit(code) }
        }
        pid if pid > 0 => {
            let mut status = 0;
            // SAFETY: waits for our own child; `status` is a valid out pointer.
            let r = unsafe { libc::waitpid(pid, &mut status, 0) };
            assert_eq!(r, pid);
            if libc::WIFEXITED(status) {
                Ok(libc::WEXITSTATUS(status))
            } else {
                Err(libc::WTERMSIG(status))
            }
        }
        _ => panic!("fork failed"),
    }
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// getpgid(arg) with the error folded into the exit code: 0 on success,
/// else the errno.
fn getpgid_code(arg: libc::pid_t) -> i32 {
    // SAFETY: getpgid has no memory-safety preconditions.
    if unsafe { libc::getpgid(arg) } >= 0 {
        0
    } else {
        errno()
    }
}

#[test]
fn unknown_names_are_errors_naming_the_field() {
    assert_eq!(
        compile_err(r#"{"defaultAction":"SCMP_ACT_NOPE"}"#),
        "linux.seccomp.defaultAction: unknown action \"SCMP_ACT_NOPE\""
    );
    assert_eq!(
        compile_err(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getpid"],"action":"SCMP_ACT_ERRNO"},{"names":["uname"],"action":"BAD"}]}"#
        ),
        "linux.seccomp.syscalls[1].action: unknown action \"BAD\""
    );
    assert_eq!(
        compile_err(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getpid"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":1,"op":"SCMP_CMP_LIKE"}]}]}"#
        ),
        "linux.seccomp.syscalls[0].args[0].op: unknown operator \"SCMP_CMP_LIKE\""
    );
    assert!(compile_err(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getpid"],"action":"SCMP_ACT_ERRNO","args":[{"index":6,"value":1,"op":"SCMP_CMP_EQ"}]}]}"#
    )
    .starts_with("linux.seccomp.syscalls[0].args[0].index: 6 is out of range"));
    assert_eq!(
        compile_err(r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_Z80"]}"#),
        "linux.seccomp.architectures[0]: unknown architecture \"SCMP_ARCH_Z80\""
    );
    assert_eq!(
        compile_err(r#"{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_FAST"]}"#),
        "linux.seccomp.flags[0]: unknown flag \"SECCOMP_FILTER_FLAG_FAST\""
    );
    assert!(compile_err(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getpid"],"action":"SCMP_ACT_ERRNO","errnoRet":70000}]}"#
    )
    .starts_with("linux.seccomp.syscalls[0].errnoRet: 70000"));
}

#[test]
fn notify_needs_a_listener_path_and_is_not_a_default() {
    assert_eq!(
        compile_err(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getpid"],"action":"SCMP_ACT_NOTIFY"}]}"#
        ),
        "linux.seccomp.listenerPath: must be set when a rule uses SCMP_ACT_NOTIFY"
    );
    assert!(
        compile_err(r#"{"defaultAction":"SCMP_ACT_NOTIFY","listenerPath":"/x"}"#)
            .contains("cannot be the default action")
    );
    assert!(compile_err(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/x","syscalls":[{"names":["sendmsg"],"action":"SCMP_ACT_NOTIFY"}]}"#
    )
    .contains("cannot be used for sendmsg"));
}

#[test]
fn flags_map_to_the_kernel_bits() {
    let (p, _) = compile(&profile(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_LOG","SECCOMP_FILTER_FLAG_SPEC_ALLOW"]}"#,
    ))
    .unwrap();
    assert_eq!(p.flags, 2 | 4);
    assert!(!p.notifies());
    let (p, _) = compile(&profile(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_TSYNC","SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],"listenerPath":"/x","syscalls":[{"names":["getpid"],"action":"SCMP_ACT_NOTIFY"}]}"#,
    ))
    .unwrap();
    // NEW_LISTENER added, and TSYNC_ESRCH, without which TSYNC and a
    // listener are refused.
    assert_eq!(p.flags, 1 | 32 | 8 | 16);
    assert!(p.notifies());
}

#[test]
fn unknown_syscalls_are_skipped_and_reported() {
    let (p, skipped) = compile(&profile(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["no_such_call","getpid"],"action":"SCMP_ACT_ERRNO"}]}"#,
    ))
    .unwrap();
    assert_eq!(skipped.unknown_syscalls, vec!["no_such_call".to_string()]);
    assert!(p.instructions() > 0);
}

#[test]
fn a_rule_with_the_default_action_is_a_no_op() {
    let with = r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["getpid"],"action":"SCMP_ACT_ERRNO"},{"names":["read"],"action":"SCMP_ACT_ALLOW"}]}"#;
    let without = r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"}]}"#;
    assert_eq!(
        compile(&profile(with)).unwrap().0,
        compile(&profile(without)).unwrap().0
    );
}

#[test]
fn errno_action_returns_the_configured_errno() {
    let json = r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getpgid"],"action":"SCMP_ACT_ERRNO","errnoRet":42}]}"#;
    assert_eq!(run_filtered(json, || getpgid_code(0)), Ok(42));
    // Without errnoRet: EPERM, as runc.
    let json = r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getpgid"],"action":"SCMP_ACT_ERRNO"}]}"#;
    assert_eq!(run_filtered(json, || getpgid_code(0)), Ok(libc::EPERM));
    // defaultErrnoRet for the default action; allowed calls still work.
    let json = r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":38,"syscalls":[{"names":["getpgid","exit_group","exit","prctl","seccomp"],"action":"SCMP_ACT_ALLOW"}]}"#;
    assert_eq!(run_filtered(json, || getpgid_code(0)), Ok(0));
    assert_eq!(
        run_filtered(json, || {
            // SAFETY: getppid has no preconditions; denied here.
            let r = unsafe { libc::syscall(libc::SYS_getppid) };
            if r < 0 {
                errno()
            } else {
                0
            }
        }),
        Ok(38)
    );
}

#[test]
fn argument_filters_match_only_their_values() {
    let json = r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getpgid"],"action":"SCMP_ACT_ERRNO","errnoRet":77,"args":[{"index":0,"value":999999,"op":"SCMP_CMP_EQ"}]}]}"#;
    assert_eq!(run_filtered(json, || getpgid_code(999999)), Ok(77));
    assert_eq!(run_filtered(json, || getpgid_code(0)), Ok(0));
    // MASKED_EQ: value is the mask, valueTwo what the masked argument equals.
    let json = r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getpgid"],"action":"SCMP_ACT_ERRNO","errnoRet":78,"args":[{"index":0,"value":65280,"valueTwo":4608,"op":"SCMP_CMP_MASKED_EQ"}]}]}"#;
    assert_eq!(run_filtered(json, || getpgid_code(0x1234)), Ok(78));
    assert_eq!(run_filtered(json, || getpgid_code(0)), Ok(0));
    // GT and LE.
    let json = r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getpgid"],"action":"SCMP_ACT_ERRNO","errnoRet":79,"args":[{"index":0,"value":500000,"op":"SCMP_CMP_GT"}]}]}"#;
    assert_eq!(run_filtered(json, || getpgid_code(600000)), Ok(79));
    assert_eq!(run_filtered(json, || getpgid_code(0)), Ok(0));
}

#[test]
fn conditions_on_one_argument_are_ored_on_different_ones_anded() {
    // Two values of arg 0: either matches.
    let json = r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getpgid"],"action":"SCMP_ACT_ERRNO","errnoRet":80,"args":[{"index":0,"value":900001,"op":"SCMP_CMP_EQ"},{"index":0,"value":900002,"op":"SCMP_CMP_EQ"}]}]}"#;
    assert_eq!(run_filtered(json, || getpgid_code(900001)), Ok(80));
    assert_eq!(run_filtered(json, || getpgid_code(900002)), Ok(80));
    assert_eq!(run_filtered(json, || getpgid_code(0)), Ok(0));
    // Args 0 and 1 of getpriority(which, who): both must match.
    let json = r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getpriority"],"action":"SCMP_ACT_ERRNO","errnoRet":81,"args":[{"index":0,"value":1,"op":"SCMP_CMP_EQ"},{"index":1,"value":0,"op":"SCMP_CMP_EQ"}]}]}"#;
    fn prio(which: i32) -> i32 {
        // SAFETY: raw getpriority; no memory is passed.
        let r = unsafe { libc::syscall(libc::SYS_getpriority, which, 0) };
        if r < 0 {
            errno()
        } else {
            0
        }
    }
    assert_eq!(run_filtered(json, || prio(1)), Ok(81));
    assert_eq!(run_filtered(json, || prio(0)), Ok(0));
}

#[test]
fn kill_and_trap_actions_end_the_process_with_sigsys() {
    for act in ["SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL", "SCMP_ACT_TRAP"] {
        let json = format!(
            r#"{{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{{"names":["getpgid"],"action":"{act}"}}]}}"#
        );
        assert_eq!(
            run_filtered(&json, || getpgid_code(0)),
            Err(libc::SIGSYS),
            "{act}"
        );
    }
}

#[test]
fn log_allows_and_trace_without_tracer_is_enosys() {
    let json = r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getpgid"],"action":"SCMP_ACT_LOG"}]}"#;
    assert_eq!(run_filtered(json, || getpgid_code(0)), Ok(0));
    let json = r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getpgid"],"action":"SCMP_ACT_TRACE","errnoRet":5}]}"#;
    assert_eq!(run_filtered(json, || getpgid_code(0)), Ok(libc::ENOSYS));
}

#[test]
fn notify_hands_back_a_listener() {
    let json = r#"{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/unused","syscalls":[{"names":["getpgid"],"action":"SCMP_ACT_NOTIFY"}]}"#;
    // The child checks that load returned a listener fd, without calling
    // the notified syscall (nobody would answer).
    fn child() -> i32 {
        0
    }
    let (p, _) = compile(&profile(json)).unwrap();
    assert!(p.notifies());
    assert_eq!(run_filtered(json, child), Ok(0));
}

#[test]
fn process_state_is_runcs_document() {
    let doc = process_state("1.2.1", 42, Some("meta \"x\""), r#"{"id":"c"}"#);
    assert_eq!(
        doc,
        r#"{"ociVersion":"1.2.1","fds":["seccompFd"],"pid":42,"metadata":"meta \"x\"","state":{"id":"c"}}"#
    );
    let v: serde_json::Value = serde_json::from_str(&doc).unwrap();
    assert_eq!(v["state"]["id"], "c");
    assert!(!process_state("1.2.1", 1, None, "{}").contains("metadata"));
}

#[test]
fn every_listed_architecture_resolves() {
    for (i, a) in KNOWN_ARCHES.iter().enumerate() {
        let json = format!(r#"{{"defaultAction":"SCMP_ACT_ALLOW","architectures":["{a}"]}}"#);
        compile(&profile(&json)).unwrap_or_else(|e| panic!("{i} {a}: {e}"));
    }
}

#[test]
fn this_kernel_supports_the_basic_flags() {
    let f = supported_flags();
    for want in ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG"] {
        assert!(f.contains(&want), "{want} missing from {f:?}");
    }
}
