//! The `Prometheus Monitoring` servlet extension: the sync server's metrics in the OpenMetrics text format,
//! encoded by `prometheus-client` from a [`MonitorView`] taken at each scrape.
//!
//! Per pipe (label `pipe`): `ferrosync_sync_pipe_changes_detected_total`,
//! `ferrosync_sync_pipe_changes_completed_total` (label `outcome`, Ping's words), `..._ops_in_flight`,
//! `..._ops_queued`, `..._source_unretrieved_changes`, `..._failed_op_attempts_total`, `..._polls_total`,
//! `..._change_lag_seconds` (a histogram: from a change's detection to its application),
//! `..._start_point_age_seconds`, `..._waiting_for_endpoint`, `..._deletes_held`, `..._mass_delete_held` (the
//! mass-delete guard), `..._running`, `..._busy_seconds_total` and
//! `..._worker_threads` (so `rate(busy)/threads` is the share of busy workers); per handler `..._up`; and the
//! usual `process_*` figures of the server process.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};

use ferrosync::engine::monitor::{Monitor, MonitorView, PipeView};
use ferrosync::engine::realtime::{LAG_BUCKETS, OUTCOMES};

/// The content type of [`render`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The metrics, now.
pub fn render(monitor: &Monitor) -> Result<String, std::fmt::Error> {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(ServerCollector { monitor: monitor.clone() }));
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, &registry)?;
    Ok(out)
}

struct ServerCollector {
    monitor: Monitor,
}

impl std::fmt::Debug for ServerCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerCollector")
    }
}

type Labels = Vec<(&'static str, String)>;

/// One metric family: its descriptor, then one metric per label set.
fn family<M: EncodeMetric>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    rows: Vec<(Labels, M)>,
) -> Result<(), std::fmt::Error> {
    let Some(first) = rows.first() else { return Ok(()) };
    let mut metric = encoder.encode_descriptor(name, help, unit, first.1.metric_type())?;
    for (labels, m) in &rows {
        m.encode(metric.encode_family(labels)?)?;
    }
    Ok(())
}

fn pipe(p: &PipeView) -> Labels {
    vec![("pipe", p.name.clone())]
}

fn per_pipe<M: EncodeMetric>(view: &MonitorView, f: impl Fn(&PipeView) -> M) -> Vec<(Labels, M)> {
    view.pipes.iter().map(|p| (pipe(p), f(p))).collect()
}

fn gauge(v: f64) -> ConstGauge<f64> {
    ConstGauge::new(v)
}

fn flag(b: bool) -> ConstGauge<i64> {
    ConstGauge::new(i64::from(b))
}

/// The lag histogram of a pipe, encoded from its counts.
struct Lag(ferrosync::engine::realtime::LagCounts);

impl EncodeMetric for Lag {
    fn encode(&self, mut encoder: prometheus_client::encoding::MetricEncoder) -> Result<(), std::fmt::Error> {
        let mut buckets: Vec<(f64, u64)> = LAG_BUCKETS.iter().copied().zip(self.0.buckets).collect();
        let counted: u64 = self.0.buckets.iter().sum();
        buckets.push((f64::INFINITY, self.0.count.saturating_sub(counted)));
        encoder.encode_histogram::<prometheus_client::encoding::NoLabelSet>(
            self.0.sum_us as f64 / 1e6,
            self.0.count,
            &buckets,
            None,
        )
    }
    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

impl Collector for ServerCollector {
    fn encode(&self, mut e: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let v = self.monitor.view();
        let secs = Unit::Seconds;
        family(
            &mut e,
            "ferrosync_sync_pipe_changes_detected",
            "Changes read from the pipe's source.",
            None,
            per_pipe(&v, |p| ConstCounter::new(p.counters.detected)),
        )?;
        let completed: Vec<(Labels, ConstCounter)> = v
            .pipes
            .iter()
            .flat_map(|p| {
                OUTCOMES.iter().zip(p.counters.outcomes).map(|(o, n)| {
                    let mut labels = pipe(p);
                    labels.push(("outcome", o.to_string()));
                    (labels, ConstCounter::new(n))
                })
            })
            .collect();
        family(&mut e, "ferrosync_sync_pipe_changes_completed", "Changes completed, by outcome.", None, completed)?;
        family(
            &mut e,
            "ferrosync_sync_pipe_ops_in_flight",
            "Changes being applied now.",
            None,
            per_pipe(&v, |p| gauge(p.snapshot.in_flight as f64)),
        )?;
        family(
            &mut e,
            "ferrosync_sync_pipe_ops_queued",
            "Changes read and not yet applied and saved.",
            None,
            per_pipe(&v, |p| gauge(p.snapshot.queued as f64)),
        )?;
        family(
            &mut e,
            "ferrosync_sync_pipe_source_unretrieved_changes",
            "Changes at the source not read yet.",
            None,
            per_pipe(&v, |p| gauge(p.snapshot.unretrieved_changes as f64)),
        )?;
        family(
            &mut e,
            "ferrosync_sync_pipe_failed_op_attempts",
            "Attempts to apply a change that failed and were retried.",
            None,
            per_pipe(&v, |p| ConstCounter::new(p.counters.failed_attempts)),
        )?;
        family(
            &mut e,
            "ferrosync_sync_pipe_polls",
            "Polls of the source for changes.",
            None,
            per_pipe(&v, |p| ConstCounter::new(p.counters.polls)),
        )?;
        family(
            &mut e,
            "ferrosync_sync_pipe_change_lag",
            "From a change's detection to its application, of each applied change.",
            Some(&secs),
            per_pipe(&v, |p| Lag(p.counters.lag)),
        )?;
        family(
            &mut e,
            "ferrosync_sync_pipe_start_point_age",
            "How long ago the start point was saved while changes wait; 0 when the saved one is current.",
            Some(&secs),
            per_pipe(&v, |p| gauge(p.start_point_age_s)),
        )?;
        family(
            &mut e,
            "ferrosync_sync_pipe_waiting_for_endpoint",
            "1 while changes wait for an endpoint that is down or failing.",
            None,
            per_pipe(&v, |p| flag(p.snapshot.waiting_for_endpoint.is_some())),
        )?;
        family(
            &mut e,
            "ferrosync_sync_pipe_deletes_held",
            "Deletes the mass-delete guard holds now (see status; release them with realtime-sync release-deletes).",
            None,
            per_pipe(&v, |p| gauge(p.snapshot.deletes_held as f64)),
        )?;
        family(
            &mut e,
            "ferrosync_sync_pipe_mass_delete_held",
            "1 while the pipe's mass-delete guard holds its deletes.",
            None,
            per_pipe(&v, |p| flag(p.snapshot.mass_delete_alert.is_some())),
        )?;
        family(
            &mut e,
            "ferrosync_sync_pipe_running",
            "1 while the pipe runs; 0 when it should run and cannot (see status), or is stopped.",
            None,
            per_pipe(&v, |p| flag(p.running)),
        )?;
        family(
            &mut e,
            "ferrosync_sync_pipe_busy",
            "Time the pipe's workers spent applying changes, added up.",
            Some(&secs),
            per_pipe(&v, |p| ConstCounter::new(p.counters.busy_us as f64 / 1e6)),
        )?;
        family(
            &mut e,
            "ferrosync_sync_pipe_worker_threads",
            "The pipe's num-worker-threads.",
            None,
            per_pipe(&v, |p| gauge(p.threads as f64)),
        )?;
        let handlers = v.handlers.iter().map(|h| (vec![("handler", h.name.clone())], flag(h.url.is_some()))).collect();
        family(&mut e, "ferrosync_connection_handler_up", "1 while the connection handler listens.", None, handlers)?;
        process(&mut e)
    }
}

/// The usual process figures, from /proc/self.
fn process(e: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return Ok(()) };
    // The fields after the command name (which may hold spaces), from the state (field 3) on.
    let fields: Vec<&str> =
        stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // Linux reports times in clock ticks of 100 Hz and the resident size in pages of 4 KiB on the machines we run.
    let ticks = 100.0;
    let page = 4096.0;
    let boot = std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("btime ").and_then(|v| v.trim().parse::<f64>().ok())))
        .unwrap_or(0.0);
    let fds = std::fs::read_dir("/proc/self/fd").map(|d| d.count() as f64).unwrap_or(0.0);
    let none = || Vec::<(&'static str, String)>::new();
    let secs = Unit::Seconds;
    let bytes = Unit::Bytes;
    family(
        e,
        "process_cpu",
        "User and system CPU time.",
        Some(&secs),
        vec![(none(), ConstCounter::new((field(14) + field(15)) / ticks))],
    )?;
    family(e, "process_resident_memory", "Resident memory.", Some(&bytes), vec![(none(), gauge(field(24) * page))])?;
    family(e, "process_virtual_memory", "Virtual memory.", Some(&bytes), vec![(none(), gauge(field(23)))])?;
    family(
        e,
        "process_start_time",
        "Start time since the epoch.",
        Some(&secs),
        vec![(none(), gauge(boot + field(22) / ticks))],
    )?;
    family(e, "process_open_fds", "Open file descriptors.", None, vec![(none(), gauge(fds))])?;
    family(e, "process_threads", "Threads.", None, vec![(none(), gauge(field(20)))])
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;
    use std::sync::Arc;

    use ferrosync::engine::realtime::PipeStats;

    use super::*;

    #[test]
    fn pipes_counters_are_openmetrics_with_a_pipe_label() {
        let m = Monitor::new();
        m.expect(&["p".to_string()]);
        let s = Arc::new(PipeStats::default());
        s.detected.store(7, Ordering::Relaxed);
        s.created.store(5, Ordering::Relaxed);
        s.lag.observe(std::time::Duration::from_millis(3));
        s.lag.observe(std::time::Duration::from_secs(100));
        m.started("p", s);
        let text = render(&m).unwrap();
        assert!(text.contains("# TYPE ferrosync_sync_pipe_changes_detected counter\n"), "{text}");
        assert!(text.contains("ferrosync_sync_pipe_changes_detected_total{pipe=\"p\"} 7\n"), "{text}");
        assert!(
            text.contains("ferrosync_sync_pipe_changes_completed_total{pipe=\"p\",outcome=\"created\"} 5\n"),
            "{text}"
        );
        assert!(text.contains("ferrosync_sync_pipe_change_lag_seconds_bucket{le=\"0.005\",pipe=\"p\"} 1\n"), "{text}");
        assert!(text.contains("ferrosync_sync_pipe_change_lag_seconds_bucket{le=\"+Inf\",pipe=\"p\"} 2\n"), "{text}");
        assert!(text.contains("ferrosync_sync_pipe_change_lag_seconds_count{pipe=\"p\"} 2\n"), "{text}");
        assert!(text.contains("ferrosync_sync_pipe_running{pipe=\"p\"} 1\n"), "{text}");
        assert!(text.contains("process_resident_memory_bytes "), "{text}");
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
