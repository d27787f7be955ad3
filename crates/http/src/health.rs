//! The availability-state servlet extensions (`Available State`, `Available or Degraded State`): the HTTP status
//! by the server's state, and Ping's small JSON body (`{"degraded-alert-types":[...],"state":"DEGRADED"}`).

use ferrosync::engine::monitor::{Availability, MonitorView};
use ferrosync::settings::AvailabilitySettings;

/// The status and body (empty without `include-response-body`) for `view`.
pub fn answer(settings: &AvailabilitySettings, view: &MonitorView) -> (u16, String) {
    let health = view.health();
    let status = settings.override_code.unwrap_or(match health.state {
        Availability::Available => settings.available,
        Availability::Degraded => settings.degraded,
        Availability::Unavailable => settings.unavailable,
    });
    if !settings.include_body {
        return (status, String::new());
    }
    let mut body = serde_json::Map::new();
    body.insert("state".into(), health.state.name().into());
    if !health.unavailable_alert_types.is_empty() {
        body.insert("unavailable-alert-types".into(), health.unavailable_alert_types.clone().into());
    }
    if !health.degraded_alert_types.is_empty() {
        body.insert("degraded-alert-types".into(), health.degraded_alert_types.clone().into());
    }
    for (k, v) in &settings.additional {
        body.entry(k.clone()).or_insert_with(|| v.clone());
    }
    (status, serde_json::Value::Object(body).to_string())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use ferrosync::engine::monitor::Monitor;
    use ferrosync::engine::realtime::{PipeStats, StatsSnapshot};

    use super::*;

    fn settings(degraded: u16) -> AvailabilitySettings {
        AvailabilitySettings {
            available: 200,
            degraded,
            unavailable: 503,
            override_code: None,
            include_body: true,
            additional: serde_json::from_str(r#"{"site":"east"}"#).unwrap(),
        }
    }

    #[test]
    fn the_status_follows_the_state_and_the_body_says_why() {
        let m = Monitor::new();
        m.expect(&["p".to_string()]);
        let s = Arc::new(PipeStats::default());
        m.started("p", s.clone());
        assert_eq!(answer(&settings(503), &m.view()), (200, r#"{"site":"east","state":"AVAILABLE"}"#.to_string()));
        *s.latest.lock().unwrap() =
            Some(StatsSnapshot { waiting_for_endpoint: Some("down".into()), ..Default::default() });
        let degraded =
            r#"{"degraded-alert-types":["sync-pipe-waiting-for-endpoint"],"site":"east","state":"DEGRADED"}"#;
        assert_eq!(answer(&settings(503), &m.view()), (503, degraded.to_string()));
        assert_eq!(answer(&settings(200), &m.view()).0, 200);
        m.failed("p", "the pipe stopped");
        assert_eq!(answer(&settings(200), &m.view()).0, 503);
        let quiet = AvailabilitySettings { include_body: false, override_code: Some(200), ..settings(200) };
        assert_eq!(answer(&quiet, &m.view()), (200, String::new()));
    }
}
