//! rtbench: the writer and the observer of `benchmarks/realtime.sh`.
//!
//! ```text
//! rtbench ldif N [BASE]        LDIF of N inetOrgPerson entries uid=user0..user{N-1},BASE (default ou=people,dc=example,dc=com)
//! rtbench run --src URL --src-dn DN --src-pw PW --dst URL --dst-dn DN --dst-pw PW
//!             [--base BASE] [--entries 1000] [--rate 100 (0: as fast as the source accepts)] [--duration 20]
//!             [--conns 4] [--drain 90] [--stall 30] [--warmup-timeout 90] [--lags FILE] [--series FILE]
//!             [--poisson (exponential intervals of mean 1/rate instead of a fixed interval)]
//! ```
//!
//! `run` opens an RFC 4533 refreshAndPersist search on the destination (the observer) and waits for the end of
//! its refresh; then it writes a warm-up value to `user0` at the source until the observer sees it (so the
//! synchronization path is live); then `--conns` connections write `description: <id> <unix-nanos>` to
//! `uid=user<id mod entries>` at the source, id k being due at `k / rate` seconds (or at once with rate 0), for
//! `--duration` seconds. The nanos are taken just before the modify is sent. The observer timestamps every entry
//! the destination pushes after the end of the refresh the moment it is read (values stamped before the writes
//! began, left by an earlier run on the same source, are ignored). Write `k` has *arrived* when the destination
//! shows, for its entry, a value with an id >= k (a synchronizer that reads the current source entry may skip
//! superseded values; the destination is then at least as new as write k). Lag = arrival - stamp.
//!
//! After the last write, `run` waits until every write has arrived, at most `--drain` seconds, and stops
//! earlier when nothing new arrives for `--stall` seconds. It prints `KEY='value'` lines (eval-able): see the end
//! of `run`. Lags are in milliseconds; a write that never arrived counts as an infinite lag (`inf`).

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ldap3::controls::{RefreshMode, SyncRequest};
use ldap3::{Ldap, LdapConnAsync, Mod, Scope, SearchEntry};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn now_ns() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as i64).unwrap_or(0)
}

#[derive(Clone, Debug)]
struct Opts {
    src: String,
    src_dn: String,
    src_pw: String,
    dst: String,
    dst_dn: String,
    dst_pw: String,
    base: String,
    entries: u64,
    rate: u64,
    duration: f64,
    conns: usize,
    drain: f64,
    stall: f64,
    warmup_timeout: f64,
    lags: Option<String>,
    series: Option<String>,
    poisson: bool,
}

fn parse_opts(args: &[String]) -> Result<Opts, BoxError> {
    let mut o = Opts {
        src: String::new(),
        src_dn: String::new(),
        src_pw: String::new(),
        dst: String::new(),
        dst_dn: String::new(),
        dst_pw: String::new(),
        base: "ou=people,dc=example,dc=com".into(),
        entries: 1000,
        rate: 100,
        duration: 20.0,
        conns: 4,
        drain: 90.0,
        stall: 30.0,
        warmup_timeout: 90.0,
        lags: None,
        series: None,
        poisson: false,
    };
    let mut it = args.iter();
    while let Some(k) = it.next() {
        if k == "--poisson" {
            o.poisson = true;
            continue;
        }
        let v = it.next().ok_or_else(|| format!("{k} needs a value"))?.clone();
        match k.as_str() {
            "--src" => o.src = v,
            "--src-dn" => o.src_dn = v,
            "--src-pw" => o.src_pw = v,
            "--dst" => o.dst = v,
            "--dst-dn" => o.dst_dn = v,
            "--dst-pw" => o.dst_pw = v,
            "--base" => o.base = v,
            "--entries" => o.entries = v.parse()?,
            "--rate" => o.rate = v.parse()?,
            "--duration" => o.duration = v.parse()?,
            "--conns" => o.conns = v.parse()?,
            "--drain" => o.drain = v.parse()?,
            "--stall" => o.stall = v.parse()?,
            "--warmup-timeout" => o.warmup_timeout = v.parse()?,
            "--lags" => o.lags = Some(v),
            "--series" => o.series = Some(v),
            _ => return Err(format!("unknown option {k}").into()),
        }
    }
    if o.src.is_empty() || o.dst.is_empty() {
        return Err("--src and --dst are required".into());
    }
    if o.entries == 0 || o.conns == 0 {
        return Err("--entries and --conns must be at least 1".into());
    }
    Ok(o)
}

fn ldif(n: u64, base: &str) {
    use std::io::Write;
    let out = std::io::stdout();
    let mut out = std::io::BufWriter::new(out.lock());
    for i in 0..n {
        let _ = write!(
            out,
            "dn: uid=user{i},{base}\nobjectClass: top\nobjectClass: person\nobjectClass: organizationalPerson\n\
             objectClass: inetOrgPerson\nuid: user{i}\ncn: User {i}\nsn: Number{i}\ngivenName: User\n\
             mail: user{i}@example.com\ntelephoneNumber: +1 555 {i:07}\nemployeeNumber: {i}\ntitle: Engineer\n\
             description: benchmark entry {i}\n\n"
        );
    }
}

async fn connect(url: &str, dn: &str, pw: &str) -> Result<Ldap, BoxError> {
    let (conn, mut ldap) = LdapConnAsync::new(url).await?;
    ldap3::drive!(conn);
    ldap.simple_bind(dn, pw).await?.success()?;
    Ok(ldap)
}

/// What the observer saw.
struct Seen {
    /// Per entry, the highest write id seen at the destination (-1: none yet).
    max_seen: Vec<AtomicI64>,
    /// (arrival ns, entry, id) of every measured value seen, in arrival order.
    events: Mutex<Vec<(i64, u32, u64)>>,
    /// Update messages after the refresh (warm-up values included).
    updates: AtomicU64,
    /// The newest warm-up number seen.
    warm: AtomicU64,
    refreshed: AtomicBool,
    /// Values stamped before this (the start of the writes) are left over from earlier runs on the same source.
    since_ns: AtomicI64,
    failed: Mutex<Option<String>>,
}

fn entry_index(dn: &str) -> Option<u32> {
    let lower = dn.to_ascii_lowercase();
    let rest = lower.strip_prefix("uid=user")?;
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}

async fn observe(o: Opts, seen: Arc<Seen>) -> Result<(), BoxError> {
    let mut ldap = connect(&o.dst, &o.dst_dn, &o.dst_pw).await?;
    let req = SyncRequest { mode: RefreshMode::RefreshAndPersist, cookie: None, reload_hint: false };
    let mut stream = ldap
        .with_controls(req)
        .streaming_search(&o.base, Scope::Subtree, "(objectClass=inetOrgPerson)", vec!["description"])
        .await?;
    while let Some(re) = stream.next().await? {
        let t = now_ns();
        if re.is_intermediate() {
            // The first Sync Info message of a refreshAndPersist search ends its refresh stage.
            seen.refreshed.store(true, Ordering::SeqCst);
            continue;
        }
        if re.is_ref() {
            continue;
        }
        let refreshed = seen.refreshed.load(Ordering::SeqCst);
        let e = SearchEntry::construct(re);
        if refreshed {
            seen.updates.fetch_add(1, Ordering::Relaxed);
        }
        let Some(idx) = entry_index(&e.dn) else { continue };
        let Some(v) = e.attrs.get("description").and_then(|v| v.first()) else { continue };
        if !refreshed {
            continue;
        }
        let mut parts = v.split(' ');
        let token = parts.next().unwrap_or("");
        if let Some(w) = token.strip_prefix('w') {
            if let Ok(w) = w.parse::<u64>() {
                seen.warm.fetch_max(w, Ordering::SeqCst);
            }
            continue;
        }
        let Ok(id) = token.parse::<u64>() else { continue };
        let Some(stamp) = parts.next().and_then(|s| s.parse::<i64>().ok()) else { continue };
        if stamp < seen.since_ns.load(Ordering::SeqCst) {
            continue;
        }
        if (idx as usize) < seen.max_seen.len() {
            seen.max_seen[idx as usize].fetch_max(id as i64, Ordering::SeqCst);
            seen.events.lock().unwrap_or_else(|p| p.into_inner()).push((t, idx, id));
        }
    }
    let r = stream.finish().await;
    Err(format!("the destination ended the refreshAndPersist search: rc={} {}", r.rc, r.text).into())
}

async fn modify(ldap: &mut Ldap, dn: &str, value: &str) -> Result<(), BoxError> {
    ldap.modify(dn, vec![Mod::Replace("description", HashSet::from([value]))]).await?.success()?;
    Ok(())
}

/// When each write is due, in seconds from the start: every 1/rate s, or (`--poisson`) at exponentially
/// distributed intervals of mean 1/rate s (a Poisson process, so that low rates include idle gaps of every
/// length). Empty for rate 0 (as fast as possible).
fn schedule(o: &Opts) -> Vec<f64> {
    if o.rate == 0 {
        return Vec::new();
    }
    let rate = o.rate as f64;
    if !o.poisson {
        let total = (rate * o.duration).round() as u64;
        return (0..total).map(|k| k as f64 / rate).collect();
    }
    // xorshift64*, fixed seed: the same schedule every run
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut uniform = move || {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        ((x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    let mut t = 0.0;
    let mut out = Vec::new();
    loop {
        t += -uniform().ln() / rate;
        if t >= o.duration {
            return out;
        }
        out.push(t);
    }
}

/// One writer connection: returns (id, stamp ns) of each successful write, and the number of failures.
async fn writer(
    o: Opts,
    next: Arc<AtomicU64>,
    due: Arc<Vec<f64>>,
    t0: Instant,
) -> Result<(Vec<(u64, i64)>, u64), BoxError> {
    let mut ldap = connect(&o.src, &o.src_dn, &o.src_pw).await?;
    let deadline = t0 + Duration::from_secs_f64(o.duration);
    let mut done = Vec::new();
    let mut failed = 0;
    loop {
        let k = next.fetch_add(1, Ordering::SeqCst);
        if o.rate > 0 {
            let Some(&at) = due.get(k as usize) else { break };
            tokio::time::sleep_until((t0 + Duration::from_secs_f64(at)).into()).await;
        } else if Instant::now() >= deadline {
            break;
        }
        let dn = format!("uid=user{},{}", k % o.entries, o.base);
        let stamp = now_ns();
        match modify(&mut ldap, &dn, &format!("{k} {stamp}")).await {
            Ok(()) => done.push((k, stamp)),
            Err(e) => {
                failed += 1;
                if failed <= 3 {
                    eprintln!("rtbench: write {k} failed: {e}");
                }
            }
        }
    }
    let _ = ldap.unbind().await;
    Ok((done, failed))
}

fn pct(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn fmt_ms(v: f64) -> String {
    if v.is_nan() {
        "-".into()
    } else if v.is_infinite() {
        "inf".into()
    } else {
        format!("{v:.1}")
    }
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    v
}

async fn run(o: Opts) -> Result<(), BoxError> {
    let n = o.entries as usize;
    let seen = Arc::new(Seen {
        max_seen: (0..n).map(|_| AtomicI64::new(-1)).collect(),
        events: Mutex::new(Vec::with_capacity(1 << 20)),
        updates: AtomicU64::new(0),
        warm: AtomicU64::new(0),
        refreshed: AtomicBool::new(false),
        since_ns: AtomicI64::new(i64::MAX),
        failed: Mutex::new(None),
    });
    {
        let (o, seen) = (o.clone(), seen.clone());
        tokio::spawn(async move {
            if let Err(e) = observe(o, seen.clone()).await {
                *seen.failed.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.to_string());
            }
        });
    }
    let observer_failed = |seen: &Seen| seen.failed.lock().unwrap_or_else(|p| p.into_inner()).clone();
    // 1. the observer's refresh
    let start = Instant::now();
    while !seen.refreshed.load(Ordering::SeqCst) {
        if let Some(e) = observer_failed(&seen) {
            return Err(format!("observer: {e}").into());
        }
        if start.elapsed() > Duration::from_secs(60) {
            return Err("the observer's refresh did not end within 60 s".into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // 2. warm-up: the synchronization path is live
    let mut src = connect(&o.src, &o.src_dn, &o.src_pw).await?;
    let dn0 = format!("uid=user0,{}", o.base);
    let start = Instant::now();
    let mut w = 0u64;
    let mut last_write = Instant::now() - Duration::from_secs(10);
    loop {
        if w > 0 && seen.warm.load(Ordering::SeqCst) >= 1 {
            break;
        }
        if let Some(e) = observer_failed(&seen) {
            return Err(format!("observer: {e}").into());
        }
        if start.elapsed() > Duration::from_secs_f64(o.warmup_timeout) {
            return Err(format!("warm-up: no change reached the destination within {} s", o.warmup_timeout).into());
        }
        if last_write.elapsed() >= Duration::from_secs(2) {
            w += 1;
            modify(&mut src, &dn0, &format!("w{w} {}", now_ns())).await?;
            last_write = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let warmup_s = start.elapsed().as_secs_f64();
    let _ = src.unbind().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let updates0 = seen.updates.load(Ordering::SeqCst);

    // 3. the writes
    let next = Arc::new(AtomicU64::new(0));
    let due = Arc::new(schedule(&o));
    let t0 = Instant::now();
    let t0_ns = now_ns();
    seen.since_ns.store(t0_ns, Ordering::SeqCst);
    let mut tasks = Vec::new();
    for _ in 0..o.conns {
        tasks.push(tokio::spawn(writer(o.clone(), next.clone(), due.clone(), t0)));
    }
    let mut writes: Vec<(u64, i64)> = Vec::new();
    let mut failed = 0;
    for t in tasks {
        let (w, f) = t.await??;
        writes.extend(w);
        failed += f;
    }
    let write_end_ns = now_ns();
    let write_secs = t0.elapsed().as_secs_f64();
    writes.sort_unstable();

    // 4. drain
    let mut last_of = vec![-1i64; n];
    for &(k, _) in &writes {
        let e = (k % o.entries) as usize;
        last_of[e] = last_of[e].max(k as i64);
    }
    let drain_start = Instant::now();
    let mut last_progress = Instant::now();
    let mut last_count = usize::MAX;
    let complete = loop {
        let behind = (0..n).filter(|&e| seen.max_seen[e].load(Ordering::SeqCst) < last_of[e]).count();
        if behind == 0 {
            break true;
        }
        if behind != last_count {
            last_count = behind;
            last_progress = Instant::now();
        }
        if drain_start.elapsed() > Duration::from_secs_f64(o.drain)
            || last_progress.elapsed() > Duration::from_secs_f64(o.stall)
            || observer_failed(&seen).is_some()
        {
            break false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let updates = seen.updates.load(Ordering::SeqCst) - updates0;
    let events = std::mem::take(&mut *seen.events.lock().unwrap_or_else(|p| p.into_inner()));

    // 5. arrival of each write: the first time its entry showed an id >= its own
    let mut per_entry: Vec<Vec<(i64, u64)>> = vec![Vec::new(); n];
    for &(t, e, id) in &events {
        per_entry[e as usize].push((t, id));
    }
    let mut writes_of: Vec<Vec<(u64, i64)>> = vec![Vec::new(); n];
    for &(k, s) in &writes {
        writes_of[(k % o.entries) as usize].push((k, s));
    }
    // (id, stamp, arrival or None)
    let mut rows: Vec<(u64, i64, Option<i64>)> = Vec::with_capacity(writes.len());
    for e in 0..n {
        let ev = &per_entry[e];
        let mut j = 0;
        let mut running_max: i64 = -1;
        for &(k, s) in &writes_of[e] {
            while running_max < k as i64 && j < ev.len() {
                running_max = running_max.max(ev[j].1 as i64);
                j += 1;
            }
            let arrival = if running_max >= k as i64 { Some(ev[j - 1].0) } else { None };
            rows.push((k, s, arrival));
        }
    }
    rows.sort_unstable_by_key(|r| r.0);
    if let Some(path) = &o.lags {
        use std::io::Write;
        let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
        writeln!(f, "id\tstamp_ns\tarrival_ns\tlag_ms")?;
        for &(k, s, a) in &rows {
            match a {
                Some(a) => writeln!(f, "{k}\t{s}\t{a}\t{:.3}", (a - s) as f64 / 1e6)?,
                None => writeln!(f, "{k}\t{s}\t-\tinf")?,
            }
        }
    }
    let lag = |r: &(u64, i64, Option<i64>)| r.2.map(|a| (a - r.1) as f64 / 1e6).unwrap_or(f64::INFINITY);
    let all = sorted(rows.iter().map(lag).collect());
    let win = 5e9 as i64;
    let first = sorted(rows.iter().filter(|r| r.1 < t0_ns + win).map(lag).collect());
    let last = sorted(rows.iter().filter(|r| r.1 >= write_end_ns - win).map(lag).collect());
    let arrived: Vec<&(u64, i64, Option<i64>)> = rows.iter().filter(|r| r.2.is_some()).collect();
    let last_arrival = arrived.iter().filter_map(|r| r.2).max().unwrap_or(t0_ns);
    let first_arrival = arrived.iter().filter_map(|r| r.2).min().unwrap_or(t0_ns);
    // Applied/s: from the first arrival to the last (the rate itself when the lag is steady).
    let span = ((last_arrival - first_arrival) as f64 / 1e9).max(1e-3);
    // Lag trend: least-squares slope of lag (ms) against the stamp (s), over arrived writes.
    let slope = {
        let xs: Vec<f64> = arrived.iter().map(|r| (r.1 - t0_ns) as f64 / 1e9).collect();
        let ys: Vec<f64> = arrived.iter().map(|r| lag(r)).collect();
        let m = xs.len() as f64;
        if m < 2.0 {
            f64::NAN
        } else {
            let (mx, my) = (xs.iter().sum::<f64>() / m, ys.iter().sum::<f64>() / m);
            let sxy: f64 = xs.iter().zip(&ys).map(|(x, y)| (x - mx) * (y - my)).sum();
            let sxx: f64 = xs.iter().map(|x| (x - mx) * (x - mx)).sum();
            if sxx > 0.0 {
                sxy / sxx
            } else {
                f64::NAN
            }
        }
    };
    if let Some(path) = &o.series {
        use std::io::Write;
        let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
        writeln!(f, "second\twrites\tp50_ms\tp99_ms\tmax_ms")?;
        let secs = (write_secs.ceil() as usize).max(1);
        let mut buckets: Vec<Vec<f64>> = vec![Vec::new(); secs];
        for r in &rows {
            let b = (((r.1 - t0_ns).max(0) as f64 / 1e9) as usize).min(secs - 1);
            buckets[b].push(lag(r));
        }
        for (i, b) in buckets.into_iter().enumerate() {
            let b = sorted(b);
            writeln!(
                f,
                "{i}\t{}\t{}\t{}\t{}",
                b.len(),
                fmt_ms(pct(&b, 0.5)),
                fmt_ms(pct(&b, 0.99)),
                fmt_ms(b.last().copied().unwrap_or(f64::NAN))
            )?;
        }
    }
    let drain = if complete { (last_arrival - write_end_ns).max(0) as f64 / 1e9 } else { f64::INFINITY };
    let kv = |k: &str, v: String| println!("{k}='{v}'");
    kv("WARMUP_S", format!("{warmup_s:.2}"));
    kv("WRITES", writes.len().to_string());
    kv("WRITE_FAILURES", failed.to_string());
    kv("WRITE_SECS", format!("{write_secs:.2}"));
    kv("WRITE_RATE", format!("{:.0}", writes.len() as f64 / write_secs));
    kv("ARRIVED", arrived.len().to_string());
    kv("COMPLETE", if complete { "yes".into() } else { "no".into() });
    kv("DST_UPDATES", updates.to_string());
    kv("DST_RATE", format!("{:.0}", arrived.len() as f64 / span));
    kv("DRAIN_S", if drain.is_infinite() { "inf".into() } else { format!("{drain:.2}") });
    kv("P50_MS", fmt_ms(pct(&all, 0.50)));
    kv("P95_MS", fmt_ms(pct(&all, 0.95)));
    kv("P99_MS", fmt_ms(pct(&all, 0.99)));
    kv("MAX_MS", fmt_ms(all.last().copied().unwrap_or(f64::NAN)));
    kv("FIRST5_P50_MS", fmt_ms(pct(&first, 0.50)));
    kv("FIRST5_P99_MS", fmt_ms(pct(&first, 0.99)));
    kv("LAST5_P50_MS", fmt_ms(pct(&last, 0.50)));
    kv("LAST5_P99_MS", fmt_ms(pct(&last, 0.99)));
    kv("SLOPE_MS_PER_S", if slope.is_nan() { "-".into() } else { format!("{slope:.1}") });
    if let Some(e) = observer_failed(&seen) {
        kv("OBSERVER_ERROR", e.replace('\'', " "));
    }
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let r = match args.first().map(String::as_str) {
        Some("ldif") => {
            let n = args.get(1).and_then(|v| v.parse().ok()).unwrap_or(1000);
            let base = args.get(2).cloned().unwrap_or_else(|| "ou=people,dc=example,dc=com".into());
            ldif(n, &base);
            Ok(())
        }
        Some("run") => match parse_opts(&args[1..]) {
            Ok(o) => run(o).await,
            Err(e) => Err(e),
        },
        _ => Err("usage: rtbench ldif N [BASE] | rtbench run --src URL ... (see the source)".into()),
    };
    if let Err(e) = r {
        eprintln!("rtbench: {e}");
        std::process::exit(1);
    }
}
