//! The PingOne change detector: PingOne's audit activities read as a change log.
//!
//! The start point token is `pingone:<recordedAt>` or `pingone:<recordedAt>|<id>,<id>...`: the `recordedAt`
//! of the last activity processed (ISO 8601, milliseconds) and the ids of the activities processed at that
//! very instant. A poll asks for `recordedat ge T and recordedat lt now-offset` and skips those ids, so
//! nothing at the boundary is lost or repeated. The window ends `realtime-sync-polling-offset` (5 s) before
//! now, as PingOne records activities with a delay.
//!
//! Activities on `USER` resources whose result is `SUCCESS` count; those made by an `actor-id-to-ignore`
//! (client or user id) or on users outside `population-to-synchronize` are skipped. The activities of one
//! user in a poll collapse into one change at the position of its last activity: a delete when that is
//! `USER.DELETED`, else an add (when `USER.CREATED` is among them) or a modify; the engine reads the user
//! again in every case, and a user that is gone (404) is handled by the delete activity that follows.
//! PingOne keeps activities 14 days: an older start point is an [`EndpointError::Config`] asking for a resync.
//! So that an idle pipe's start point does not age out, a poll that read its whole window and found nothing
//! to synchronize lets [`ChangeDetector::caught_up`] move the start point to the end of that window.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use async_trait::async_trait;
use ferrosync::config::Config;
use ferrosync::endpoint::{
    Change, ChangeDetector, ChangeKind, EndpointError, EndpointResult, StartPoint, StartPointRequest,
};
use ferrosync::secret::SecretBox;
use ferrosync::store::ServerRoot;
use serde_json::Value as Json;

use crate::client::{encode, Client, Settings};
use crate::source::Populations;
use crate::{time, user_dn};
use ferrosync::settings::PingOneSourceSettings;

/// How long PingOne keeps audit activities.
pub const RETENTION: Duration = Duration::from_secs(14 * 86_400);
/// The most activities read in one poll, so a large backlog is read in parts.
const MAX_ACTIVITIES_PER_POLL: usize = 10_000;
/// How far an idle start point must be behind before it is moved (one store write at most this often).
const IDLE_ADVANCE_MS: i64 = 1_000;

/// A parsed start point.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    pub time_ms: i64,
    pub seen: Vec<String>,
}

impl Checkpoint {
    pub fn parse(s: &str) -> Option<Checkpoint> {
        let rest = s.strip_prefix("pingone:")?;
        let (t, ids) = rest.split_once('|').unwrap_or((rest, ""));
        let time_ms = time::parse_iso(t)?;
        let seen = ids.split(',').filter(|x| !x.is_empty()).map(str::to_string).collect();
        Some(Checkpoint { time_ms, seen })
    }

    pub fn token(&self) -> StartPoint {
        let mut s = format!("pingone:{}", time::format_iso(self.time_ms));
        if !self.seen.is_empty() {
            s.push('|');
            s.push_str(&self.seen.join(","));
        }
        StartPoint(s)
    }
}

/// Reads PingOne's audit activities.
pub struct PingOneDetector {
    client: Client,
    populations: Populations,
    ignore: Vec<String>,
    offset: Duration,
    /// The last poll that read its whole window and found nothing: its start point and the window's end.
    idle: std::sync::Mutex<Option<(String, i64)>>,
}

/// One activity that counts.
struct Event {
    id: String,
    at_ms: i64,
    at: String,
    action: String,
    user: String,
    actor: Option<String>,
}

impl PingOneDetector {
    pub fn new(client: Client, populations: Vec<String>, ignore: Vec<String>, offset: Duration) -> PingOneDetector {
        PingOneDetector {
            client,
            populations: Populations::new(populations),
            ignore,
            offset,
            idle: std::sync::Mutex::new(None),
        }
    }

    /// The detector of the `ping-one-customer` sync source `source`.
    pub fn from_config(
        config: &Config,
        secrets: &SecretBox,
        root: &ServerRoot,
        _pipe: &str,
        source: &str,
    ) -> Result<PingOneDetector, EndpointError> {
        let s = PingOneSourceSettings::of(config, source).map_err(|e| EndpointError::Config(e.to_string()))?;
        let settings = Settings::from_settings(config, secrets, root, &s.common)?;
        let (pops, ignore, offset) = (s.populations, s.actor_ids_to_ignore, s.realtime_sync_polling_offset);
        Ok(PingOneDetector::new(Client::new(settings)?, pops, ignore, offset))
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    fn label(&self) -> &str {
        &self.client.settings().label
    }

    /// `said`: PingOne's own answer, when it refused the window.
    fn too_old(&self, time_ms: i64, said: Option<&str>) -> EndpointError {
        EndpointError::Config(format!(
            "the start point {} of the {} is older than the audit activities PingOne keeps ({}): changes since then may be lost; run resync to copy every user, then realtime-sync set-startpoint --end-of-changelog",
            time::format_iso(time_ms),
            self.label(),
            said.map(|s| format!("PingOne said: {s}")).unwrap_or_else(|| "14 days".into())
        ))
    }

    fn ignored(&self, actor: &Json) -> bool {
        ["/client/id", "/user/id"].iter().any(|p| {
            actor
                .pointer(p)
                .and_then(Json::as_str)
                .is_some_and(|id| self.ignore.iter().any(|i| i.eq_ignore_ascii_case(id)))
        })
    }

    /// The events after `cp` up to `upper_ms`, oldest first, and whether that is all of the window (a large
    /// backlog is read in parts).
    async fn events(&self, cp: &Checkpoint, upper_ms: i64) -> EndpointResult<(Vec<Event>, bool)> {
        let filter = format!(
            "recordedat ge \"{}\" and recordedat lt \"{}\"",
            time::format_iso(cp.time_ms),
            time::format_iso(upper_ms)
        );
        let url = self.client.env_url(&format!("activities?limit=1000&filter={}", encode(&filter)));
        let seen: HashSet<&str> = cp.seen.iter().map(String::as_str).collect();
        let mut raw = Vec::new();
        let mut next = Some(url);
        let mut complete = true;
        while let Some(u) = next.take() {
            let a = self.client.call("GET", u, None).await?;
            if !a.ok() {
                let d = a.describe();
                if a.status == 400 && d.to_ascii_lowercase().contains("retention") {
                    return Err(self.too_old(cp.time_ms, Some(&d)));
                }
                return Err(crate::client::status_error(self.label(), "list the audit activities", &a));
            }
            raw.extend(crate::client::page_items(self.label(), "activities", &a)?.iter().cloned());
            next = a.body.pointer("/_links/next/href").and_then(Json::as_str).map(str::to_string);
            if raw.len() >= MAX_ACTIVITIES_PER_POLL && next.is_some() {
                complete = false;
                break;
            }
        }
        let mut out = Vec::new();
        for act in raw {
            let Some(id) = act.get("id").and_then(Json::as_str) else { continue };
            let Some(at) = act.get("recordedAt").and_then(Json::as_str) else { continue };
            let Some(at_ms) = time::parse_iso(at) else { continue };
            if at_ms < cp.time_ms || (at_ms == cp.time_ms && seen.contains(id)) {
                continue;
            }
            let action = act.pointer("/action/type").and_then(Json::as_str).unwrap_or_default().to_string();
            let success =
                act.pointer("/result/status").and_then(Json::as_str).is_none_or(|s| s.eq_ignore_ascii_case("SUCCESS"));
            let actors = act.get("actors").cloned().unwrap_or(Json::Null);
            let actor = actors
                .pointer("/client/id")
                .or_else(|| actors.pointer("/user/id"))
                .and_then(Json::as_str)
                .map(str::to_string);
            let skip = !success || self.ignored(&actors);
            // Every user resource of the activity.
            let mut users = Vec::new();
            for r in act.get("resources").and_then(Json::as_array).into_iter().flatten() {
                if !r.get("type").and_then(Json::as_str).is_some_and(|t| t.eq_ignore_ascii_case("USER")) {
                    continue;
                }
                let Some(uid) = r.get("id").and_then(Json::as_str) else { continue };
                let pop = r.pointer("/population/id").and_then(Json::as_str);
                if skip || !self.populations.contains(&self.client, pop).await? {
                    continue;
                }
                users.push(uid.to_string());
            }
            // An activity that counts for nobody still moves the checkpoint when a later change is applied.
            if users.is_empty() {
                users.push(String::new());
            }
            for user in users {
                out.push(Event {
                    id: id.to_string(),
                    at_ms,
                    at: at.to_string(),
                    action: action.clone(),
                    user,
                    actor: actor.clone(),
                });
            }
        }
        out.sort_by(|a, b| a.at_ms.cmp(&b.at_ms).then_with(|| a.id.cmp(&b.id)));
        Ok((out, complete))
    }
}

#[async_trait]
impl ChangeDetector for PingOneDetector {
    async fn start_point(&self, request: &StartPointRequest) -> EndpointResult<StartPoint> {
        let now = time::now_ms();
        let retention_ms = i64::try_from(RETENTION.as_millis()).unwrap_or(i64::MAX);
        let t = match request {
            StartPointRequest::EndOfChangelog => now,
            StartPointRequest::BeginningOfChangelog => now - retention_ms + 60_000,
            StartPointRequest::Time(t) => {
                let ms = time::system_ms(*t);
                if ms < now - retention_ms {
                    return Err(EndpointError::Config(format!(
                        "{} is older than the PingOne activities kept (14 days) for the {}",
                        time::format_iso(ms),
                        self.label()
                    )));
                }
                ms
            }
            StartPointRequest::ChangeNumber(_) | StartPointRequest::ChangeSequenceNumber(_) => {
                return Err(EndpointError::Config(format!(
                    "the {} reads PingOne's audit activities, which have no change numbers: use --change-time, --end-of-changelog or --beginning-of-changelog",
                    self.label()
                )))
            }
        };
        // Check the credentials now rather than at the first poll.
        let _ = self.events(&Checkpoint { time_ms: now - 1, seen: Vec::new() }, now).await?;
        Ok(Checkpoint { time_ms: t, seen: Vec::new() }.token())
    }

    async fn poll(&self, after: &StartPoint, max: usize, _wait: Duration) -> EndpointResult<Vec<Change>> {
        let cp = Checkpoint::parse(after.as_str()).ok_or_else(|| {
            EndpointError::Config(format!(
                "'{}' is not a PingOne start point of the {}: run realtime-sync set-startpoint",
                after.as_str(),
                self.label()
            ))
        })?;
        let now = time::now_ms();
        let retention_ms = i64::try_from(RETENTION.as_millis()).unwrap_or(i64::MAX);
        if cp.time_ms < now - retention_ms {
            return Err(self.too_old(cp.time_ms, None));
        }
        let upper = now - i64::try_from(self.offset.as_millis()).unwrap_or(0);
        if upper <= cp.time_ms {
            return Ok(Vec::new());
        }
        let (events, complete) = self.events(&cp, upper).await?;
        // Each user's change sits at its last activity.
        let mut last: HashMap<&str, usize> = HashMap::new();
        for (i, e) in events.iter().enumerate() {
            if !e.user.is_empty() {
                last.insert(e.user.as_str(), i);
            }
        }
        let mut changes = Vec::new();
        let mut cursor = cp.clone();
        let mut created: HashSet<&str> = HashSet::new();
        for (i, e) in events.iter().enumerate() {
            if cursor.time_ms != e.at_ms {
                cursor = Checkpoint { time_ms: e.at_ms, seen: Vec::new() };
            }
            if !cursor.seen.contains(&e.id) {
                cursor.seen.push(e.id.clone());
            }
            if e.user.is_empty() {
                continue;
            }
            if e.action.eq_ignore_ascii_case("USER.CREATED") {
                created.insert(e.user.as_str());
            }
            if last.get(e.user.as_str()) != Some(&i) {
                continue;
            }
            let kind = if e.action.eq_ignore_ascii_case("USER.DELETED") {
                ChangeKind::Delete
            } else if created.contains(e.user.as_str()) {
                ChangeKind::Add
            } else {
                ChangeKind::Modify
            };
            let mut c = Change::new(cursor.token(), e.id.clone(), kind, user_dn(&e.user));
            c.unique_id = Some(e.user.clone());
            c.modifier = e.actor.clone();
            c.time = Some(e.at.clone());
            changes.push(c);
            if changes.len() >= max.max(1) {
                break;
            }
        }
        let idle = (changes.is_empty() && complete).then(|| (after.as_str().to_string(), upper));
        *self.idle.lock().unwrap_or_else(|p| p.into_inner()) = idle;
        Ok(changes)
    }

    async fn idle_start_point(&self, after: &StartPoint) -> Option<StartPoint> {
        let (token, upper) = self.idle.lock().unwrap_or_else(|p| p.into_inner()).clone()?;
        let cp = Checkpoint::parse(after.as_str())?;
        (token == after.as_str() && upper - cp.time_ms >= IDLE_ADVANCE_MS)
            .then(|| Checkpoint { time_ms: upper, seen: Vec::new() }.token())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_round_trip() {
        let cp = Checkpoint { time_ms: 1_795_000_000_123, seen: vec!["a".into(), "b".into()] };
        assert_eq!(Checkpoint::parse(cp.token().as_str()), Some(cp));
        assert_eq!(Checkpoint::parse("changenumber:4"), None);
    }
}
