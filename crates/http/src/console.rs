//! The `Status Console` servlet extension (ferrosync's own, `/status`): a read-only page rendered on the server
//! from a [`MonitorView`]: the server's health, and per pipe its state, its lag over the last hour as a small
//! inline SVG plot, its counters, its start point and its last failures from the failed-operations log with
//! their repair hints. Plain HTML; three lines of script reload it.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use ferrosync::engine::monitor::{Availability, MonitorView, PipeView, Sample};

/// How many of a pipe's last failures are shown, and how much of the end of the failed-operations log is read.
const FAILURES: usize = 5;
const TAIL_BYTES: u64 = 256 * 1024;

/// Escapes text for HTML.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The page.
pub fn page(view: &MonitorView, refresh: Duration, failed_ops: &[PathBuf]) -> String {
    let health = view.health();
    let records = failed_records(failed_ops);
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>ferrosync sync server</title>\n\
         <style>body{{font-family:sans-serif;margin:1.5em;color:#222}}table{{border-collapse:collapse}}\
         td,th{{padding:2px 10px;text-align:left;border-bottom:1px solid #ddd}}.AVAILABLE{{color:#176f2c}}\
         .DEGRADED{{color:#a15c00}}.UNAVAILABLE{{color:#b00020}}pre{{background:#f6f6f6;padding:6px;white-space:pre-wrap}}\
         section{{margin-bottom:2em}}</style></head><body>\n\
         <h1>ferrosync sync server</h1>\n<p>Server: <b class=\"{s}\" id=\"server-state\">{s}</b> (pid {pid}); \
         this page reloads every {r} s.</p>\n",
        s = health.state.name(),
        pid = view.pid,
        r = refresh.as_secs().max(1)
    );
    for hd in &view.handlers {
        let state = match (&hd.url, &hd.error) {
            (Some(u), _) => format!("listening on {u}"),
            (None, Some(e)) => format!("not listening: {e}"),
            (None, None) => "not listening".into(),
        };
        let _ = writeln!(h, "<p>{}: {}</p>", esc(&hd.name), esc(&state));
    }
    if view.pipes.is_empty() {
        h.push_str("<p>No sync pipe runs.</p>\n");
    }
    for p in &view.pipes {
        pipe(&mut h, p, &records);
    }
    let _ = write!(
        h,
        "<script>\nsetTimeout(function () {{ location.reload(); }}, {});\n</script>\n</body></html>\n",
        refresh.as_millis().max(1000)
    );
    h
}

fn pipe(h: &mut String, p: &PipeView, records: &[(String, String)]) {
    let a = p.availability();
    let state = if !p.expected {
        "not started".to_string()
    } else {
        match (a, &p.failure, &p.snapshot.waiting_for_endpoint) {
            (Availability::Unavailable, Some(f), _) => format!("not running: {f}"),
            (Availability::Unavailable, None, _) => "not running".into(),
            (Availability::Degraded, _, Some(w)) => format!("waiting for an endpoint: {w}"),
            _ => "running".into(),
        }
    };
    let s = &p.snapshot;
    let c = &p.counters;
    let _ = write!(
        h,
        "<section id=\"pipe-{id}\"><h2>Sync pipe {name}</h2>\n<p>State: <b class=\"{cls}\">{state}</b></p>\n",
        id = esc(&p.name.to_lowercase()),
        name = esc(&p.name),
        cls = a.name(),
        state = esc(&state)
    );
    let lag_now = s.lag_ms as f64 / 1000.0;
    let _ = writeln!(h, "<p>Lag over the last hour (now {lag_now:.1} s):</p>\n{}", plot(&p.history));
    let rows: [(&str, String); 13] = [
        ("Changes detected", c.detected.to_string()),
        ("Completed", c.completed.to_string()),
        ("Created / modified / deleted", format!("{} / {} / {}", c.outcomes[0], c.outcomes[1], c.outcomes[2])),
        ("No change needed", c.outcomes[3].to_string()),
        ("Out of scope", c.outcomes[4].to_string()),
        ("Failed at resource", c.outcomes[9].to_string()),
        ("Failed during mapping", c.outcomes[8].to_string()),
        ("Failed op attempts", c.failed_attempts.to_string()),
        ("In flight / queued", format!("{} / {}", s.in_flight, s.queued)),
        ("Source unretrieved changes", s.unretrieved_changes.to_string()),
        ("Percent busy", format!("{}", p.percent_busy)),
        ("Start point", if s.start_point.is_empty() { "-".into() } else { s.start_point.clone() }),
        ("Last error", s.last_error.clone().or_else(|| p.failure.clone()).unwrap_or_else(|| "-".into())),
    ];
    h.push_str("<table>\n");
    for (k, v) in rows {
        let _ = writeln!(h, "<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(&v));
    }
    h.push_str("</table>\n");
    let mine: Vec<&String> =
        records.iter().filter(|(pipe, _)| pipe.eq_ignore_ascii_case(&p.name)).map(|(_, r)| r).collect();
    if mine.is_empty() {
        h.push_str("<p>No failed changes.</p>\n");
    } else {
        let _ = writeln!(h, "<h3>Last failures ({} of the failed-operations log)</h3>", mine.len().min(FAILURES));
        for r in mine.iter().rev().take(FAILURES) {
            let _ = writeln!(h, "<pre>{}</pre>", esc(r));
        }
    }
    h.push_str("</section>\n");
}

/// The lag history as a polyline, 0 at the bottom, the highest lag (1 s at least) at the top.
fn plot(history: &[Sample]) -> String {
    const W: f64 = 360.0;
    const H: f64 = 80.0;
    let now = history.last().map_or(0, |s| s.at_ms);
    let from = now.saturating_sub(3_600_000);
    let points: Vec<&Sample> = history.iter().filter(|s| s.at_ms >= from).collect();
    let top = points.iter().map(|s| s.lag_ms).max().unwrap_or(0).max(1000) as f64;
    let xy: Vec<String> = points
        .iter()
        .map(|s| {
            let x = (s.at_ms - from) as f64 / 3_600_000.0 * W;
            let y = H - s.lag_ms as f64 / top * H;
            format!("{x:.1},{y:.1}")
        })
        .collect();
    format!(
        "<svg width=\"{W}\" height=\"{h}\" viewBox=\"0 0 {W} {h}\" role=\"img\" aria-label=\"lag over the last hour\">\
         <rect width=\"{W}\" height=\"{H}\" fill=\"#f6f6f6\"/>\
         <polyline fill=\"none\" stroke=\"#2a5db0\" stroke-width=\"1.5\" points=\"{}\"/>\
         <text x=\"2\" y=\"12\" font-size=\"10\">{:.1} s</text><text x=\"2\" y=\"{}\" font-size=\"10\">-1 h</text>\
         <text x=\"{}\" y=\"{}\" font-size=\"10\">now</text></svg>",
        xy.join(" "),
        top / 1000.0,
        H + 14.0,
        W - 20.0,
        H + 14.0,
        h = H + 18.0
    )
}

/// The records of the failed-operations logs (the end of each file), as (pipe, record), oldest first.
fn failed_records(files: &[PathBuf]) -> Vec<(String, String)> {
    use std::io::{Read, Seek, SeekFrom};
    let mut out = Vec::new();
    for f in files {
        let Ok(mut file) = std::fs::File::open(f) else { continue };
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        if file.seek(SeekFrom::Start(len.saturating_sub(TAIL_BYTES))).is_err() {
            continue;
        }
        let mut bytes = Vec::new();
        if file.read_to_end(&mut bytes).is_err() {
            continue;
        }
        let text = String::from_utf8_lossy(&bytes);
        // A record is a line that does not start with a space, and the indented lines after it.
        let mut current: Option<String> = None;
        for line in text.lines() {
            if line.starts_with(' ') {
                if let Some(r) = current.as_mut() {
                    r.push('\n');
                    r.push_str(line);
                }
                continue;
            }
            out.extend(current.take().and_then(|r| pipe_of(&r).map(|p| (p, r))));
            current = Some(line.to_string());
        }
        out.extend(current.take().and_then(|r| pipe_of(&r).map(|p| (p, r))));
    }
    out
}

fn pipe_of(record: &str) -> Option<String> {
    let rest = record.split_once("pipe=\"")?.1;
    Some(rest.split_once('"')?.0.to_string())
}

#[cfg(test)]
mod tests {
    use ferrosync::engine::monitor::Monitor;

    use super::*;

    #[test]
    fn the_page_shows_each_pipe_its_failures_and_escapes_what_it_shows() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("sync-failed-ops");
        std::fs::write(
            &log,
            "[x] pipe=\"p\" changeNumber=7 operation=ADD sourceDN=\"uid=a<b>,dc=x\"\n  result: failed-at-resource\n  \
             repair: once the cause is fixed, run: resync --pipe-name \"p\" --sourceInputFile FILE\n\
             [y] pipe=\"other\" changeNumber=8 operation=ADD sourceDN=\"uid=z\"\n  result: no\n",
        )
        .unwrap();
        let m = Monitor::new();
        m.expect(&["p".to_string()]);
        m.failed("p", "cannot start: no such server");
        let html = page(&m.view(), Duration::from_secs(5), &[log]);
        assert!(html.contains("<b class=\"UNAVAILABLE\" id=\"server-state\">UNAVAILABLE</b>"), "{html}");
        assert!(html.contains("not running: cannot start: no such server"), "{html}");
        assert!(html.contains("uid=a&lt;b&gt;,dc=x"), "{html}");
        assert!(html.contains("repair: once the cause is fixed, run: resync --pipe-name &quot;p&quot;"), "{html}");
        assert!(!html.contains("uid=z"), "another pipe's failure: {html}");
        assert!(html.contains("<polyline"), "{html}");
        assert!(html.contains("setTimeout(function () { location.reload(); }, 5000);"), "{html}");
    }
}
