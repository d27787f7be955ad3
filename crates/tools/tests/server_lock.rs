//! One sync server per server root: start-server, stop-server and status against the server root's lock. These
//! need no directory server: the roots have no started pipe.

mod util;

use std::time::Duration;

use util::Root;

fn alive(pid: i32) -> bool {
    let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| s.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z')))
        .unwrap_or(true);
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok() && !zombie
}

/// The pids of the `start-server --foreground` processes serving `root`.
fn servers_of(root: &Root) -> Vec<i32> {
    let mut pids = Vec::new();
    let want = root.path().to_string_lossy().into_owned();
    let Ok(proc) = std::fs::read_dir("/proc") else { return pids };
    for e in proc.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else { continue };
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else { continue };
        let args: Vec<String> = cmdline.split(|b| *b == 0).map(|a| String::from_utf8_lossy(a).into_owned()).collect();
        if args.iter().any(|a| a == "--foreground") && args.contains(&want) && alive(pid) {
            pids.push(pid);
        }
    }
    pids
}

#[test]
fn two_start_servers_at_once_on_one_root_run_exactly_one_server() {
    let root = Root::new();
    // Create the store first, so both calls race on the lock and not on creating the database.
    root.dsconfig(&["list-sync-pipes", "--no-prompt"]).ok();
    let runs: Vec<util::Run> = std::thread::scope(|s| {
        let a = s.spawn(|| root.run("start-server", &[]));
        let b = s.spawn(|| root.run("start-server", &[]));
        vec![a.join().unwrap(), b.join().unwrap()]
    });
    let ok: Vec<&util::Run> = runs.iter().filter(|r| r.0.status.success()).collect();
    assert_eq!(
        ok.len(),
        1,
        "exactly one start-server succeeds:\n{}",
        runs.iter().map(|r| format!("{}: {}{}", r.code(), r.stdout(), r.stderr())).collect::<Vec<_>>().join("\n")
    );
    let loser = runs.iter().find(|r| !r.0.status.success()).unwrap();
    assert!(loser.stderr().contains("already running"), "{}", loser.stderr());
    // Let a losing --foreground process (if one got that far) end.
    std::thread::sleep(Duration::from_millis(700));
    let servers = servers_of(&root);
    assert_eq!(servers.len(), 1, "one server process: {servers:?}");
    let pid: i32 = std::fs::read_to_string(root.path().join("logs/server.pid")).unwrap().trim().parse().unwrap();
    assert_eq!(servers, vec![pid]);
    // A third, later, is refused too, and --foreground takes the lock as well.
    assert!(root.run("start-server", &[]).fails().contains("already running"));
    assert!(root.run("start-server", &["--foreground"]).fails().contains("already running"));
    assert_eq!(servers_of(&root), vec![pid]);
    let out = root.run("stop-server", &[]).ok();
    assert!(out.contains("The sync server stopped"), "{out}");
    assert!(servers_of(&root).is_empty());
    assert!(root.run("status", &[]).ok().contains("Status      : stopped\n"));
}

#[test]
fn a_stale_pid_file_naming_another_process_is_left_alone() {
    let root = Root::new();
    root.dsconfig(&["list-sync-pipes", "--no-prompt"]).ok();
    // A live process that is not a sync server, named by a pid file no server holds (as after a kill -9 of the
    // server and a pid reused since).
    let mut sleeper = std::process::Command::new("sleep").arg("60").spawn().unwrap();
    let pid = sleeper.id() as i32;
    std::fs::write(root.path().join("logs/server.pid"), format!("{pid}\n")).unwrap();
    let status = root.run("status", &[]).ok();
    assert!(status.contains(&format!("Status      : stopped (stale pid file: pid {pid}")), "{status}");
    let script = root.run("status", &["--script-friendly"]).ok();
    assert!(script.starts_with(&format!("server\tstopped\tstale-pid-file\t{pid}\n")), "{script}");
    let out = root.run("stop-server", &[]).ok();
    assert!(out.contains("The sync server is not running"), "{out}");
    std::thread::sleep(Duration::from_millis(200));
    assert!(sleeper.try_wait().unwrap().is_none(), "stop-server signalled the unrelated process {pid}");
    // A server starts over the stale file and is the one that stop-server then stops.
    let started = root.run("start-server", &[]).ok();
    assert!(started.contains("The sync server started"), "{started}");
    let server: i32 = std::fs::read_to_string(root.path().join("logs/server.pid")).unwrap().trim().parse().unwrap();
    assert_ne!(server, pid);
    assert!(root.run("status", &[]).ok().contains(&format!("Status      : running (pid {server})")));
    root.run("stop-server", &[]).ok();
    assert!(!alive(server));
    assert!(sleeper.try_wait().unwrap().is_none(), "the unrelated process still runs");
    sleeper.kill().unwrap();
    sleeper.wait().unwrap();
}
