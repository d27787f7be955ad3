//! Active Directory password policy state (PingDataSync's "Mapping AD password policy state attributes"), both
//! ends.
//!
//! **At an `active-directory` source**, every entry read gets three intermediate attributes, computed in memory
//! (neither server has them) for attribute mappings to read:
//!
//! | Intermediate attribute | From | Value |
//! |---|---|---|
//! | `pwdAccountLockedTimeFromAD` | `lockoutTime` (FILETIME) | the GeneralizedTime of the lockout; absent when 0 (not locked) |
//! | `ds-pwp-account-disabled-from-ad` | `userAccountControl` bit 2 (ACCOUNTDISABLE), or AD LDS's `msDS-UserAccountDisabled` | `true` / `false` |
//! | `pwdChangedTimeFromAD` | `pwdLastSet` (FILETIME) | the GeneralizedTime of the last password change; absent when 0 (must change at next logon) |
//!
//! AD keeps `lockoutTime` after its lockout duration has passed (it is reset at the next successful logon or by
//! an administrator), so a lockout that AD no longer enforces still shows until then, as in PingDataSync. DirSync
//! reports a change of `lockoutTime`, `userAccountControl` or `pwdLastSet` as a change of the intermediate
//! attributes made from them ([`changed_intermediates`]), so real-time sync compares the mapped ones.
//!
//! **At an LDAP destination**, the mapped PingDirectory attributes `pwdAccountLockedTime`,
//! `ds-pwp-account-disabled` and `pwdChangedTime` go through the server's own mechanism ([`StateDialect`],
//! chosen by the destination type, and for `generic-ldap` from the server's root DSE):
//!
//! | Server | lock (`pwdAccountLockedTime`) | disable (`ds-pwp-account-disabled: true`) | password change time (`pwdChangedTime`) |
//! |---|---|---|---|
//! | 389 DS | `nsAccountLock: true` (a bind fails with rc 53) | `nsAccountLock: true` | `pwdUpdateTime` (389 takes it from Directory Manager; information only) |
//! | OpenLDAP (ppolicy) | `pwdAccountLockedTime: <time>` | `pwdAccountLockedTime: 000001010000Z` (locked until an administrator unlocks) | `pwdChangedTime`, with the Relax control |
//! | PingDirectory, others | as mapped | as mapped | as mapped |
//!
//! 389 DS and OpenLDAP have one lock each, so a lock and a disable become one state: the account is locked while
//! either holds (on OpenLDAP a disable wins: the permanent lock). The engine compares the mapped attributes with
//! that state ([`DestinationState::prepare_diff`]): nothing is written when it already matches, and every mapped
//! state attribute is written when it does not, so the destination computes the state from all of them.

use ferrosync::endpoint::Modification as CoreMod;
use ferrosync::entry::{Entry, Value};
use ferrosync::mapping::PipeMapping;
use ldap3::controls::RawControl;
use tokio::sync::OnceCell;

use crate::prepare::ServerKind;
use crate::{LdapClient, LdapError, Modification};

/// The intermediate attribute of a lockout (from `lockoutTime`).
pub const LOCKED_TIME_ATTR: &str = "pwdAccountLockedTimeFromAD";
/// The intermediate attribute of a disabled account (from `userAccountControl`).
pub const DISABLED_ATTR: &str = "ds-pwp-account-disabled-from-ad";
/// The intermediate attribute of the last password change (from `pwdLastSet`).
pub const CHANGED_TIME_ATTR: &str = "pwdChangedTimeFromAD";

/// The destination attributes the intermediate ones are mapped to (PingDirectory's names).
pub const DEST_LOCKED: &str = "pwdAccountLockedTime";
pub const DEST_DISABLED: &str = "ds-pwp-account-disabled";
pub const DEST_CHANGED: &str = "pwdChangedTime";

/// OpenLDAP's `pwdAccountLockedTime` of an account locked until an administrator unlocks it.
pub const LOCKED_FOREVER: &str = "000001010000Z";
/// The Relax Rules control (draft-zeilenga-ldap-relax), which lets slapd's manager write `NO-USER-MODIFICATION`
/// attributes such as `pwdChangedTime`.
pub const RELAX_OID: &str = "1.3.6.1.4.1.4203.666.5.12";

/// `userAccountControl` bit: the account is disabled.
const ACCOUNTDISABLE: i64 = 0x0002;
/// Seconds from 1601-01-01 (the FILETIME epoch) to 1970-01-01.
const FILETIME_EPOCH_OFFSET: i64 = 11_644_473_600;

/// The GeneralizedTime (`YYYYMMDDHHMMSSZ`) of a FILETIME (100 ns intervals since 1601-01-01 UTC) in its decimal
/// form; `None` for 0, negative values and "never" (`0x7FFFFFFFFFFFFFFF`), and for anything that is no number.
pub fn filetime_to_generalized(text: &str) -> Option<String> {
    let ft: i64 = text.trim().parse().ok()?;
    if ft <= 0 || ft == i64::MAX {
        return None;
    }
    let secs = ft / 10_000_000 - FILETIME_EPOCH_OFFSET;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = ferrosync::util::civil_from_days(days);
    if !(1..=9999).contains(&y) {
        return None;
    }
    Some(format!("{y:04}{m:02}{d:02}{:02}{:02}{:02}Z", rem / 3600, (rem % 3600) / 60, rem % 60))
}

/// Adds the intermediate attributes to an entry read from Active Directory (only those whose AD attribute the
/// entry has: a group gets none).
pub fn add_intermediates(entry: &mut Entry) {
    let uac = entry.first_text("userAccountControl").and_then(|v| v.trim().parse::<i64>().ok());
    let lds = entry.first_text("msDS-UserAccountDisabled").or_else(|| entry.first_text("ms-DS-User-Account-Disabled"));
    let disabled = match (uac, lds) {
        (Some(uac), _) => Some(uac & ACCOUNTDISABLE != 0),
        (None, Some(v)) => Some(v.trim().eq_ignore_ascii_case("TRUE")),
        (None, None) => None,
    };
    if let Some(d) = disabled {
        entry.set(DISABLED_ATTR, vec![Value::Text(d.to_string())]);
    }
    if entry.has("lockoutTime") {
        let t = entry.first_text("lockoutTime").and_then(|v| filetime_to_generalized(&v));
        entry.set(LOCKED_TIME_ATTR, t.map(Value::Text).into_iter().collect());
    }
    if entry.has("pwdLastSet") {
        let t = entry.first_text("pwdLastSet").and_then(|v| filetime_to_generalized(&v));
        entry.set(CHANGED_TIME_ATTR, t.map(Value::Text).into_iter().collect());
    }
}

/// The intermediate attributes changed by a change of the AD attributes `changed`. A lockout and a disable
/// both name both lock attributes: LDAP destinations make one lock of the two.
pub fn changed_intermediates(changed: &[String]) -> Vec<&'static str> {
    let any = |names: &[&str]| changed.iter().any(|c| names.iter().any(|n| c.eq_ignore_ascii_case(n)));
    let mut out = Vec::new();
    if any(&["lockoutTime", "userAccountControl", "msDS-UserAccountDisabled", "ms-DS-User-Account-Disabled"]) {
        out.extend([LOCKED_TIME_ATTR, DISABLED_ATTR]);
    }
    if any(&["pwdLastSet"]) {
        out.push(CHANGED_TIME_ATTR);
    }
    out
}

/// How an LDAP destination holds the password policy state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateDialect {
    /// The mapped attributes are written as they are (PingDirectory, which has all three, and servers of other
    /// kinds).
    AsMapped,
    /// 389 Directory Server: `nsAccountLock` (account inactivation) and `pwdUpdateTime`.
    Ds389,
    /// OpenLDAP's ppolicy overlay: `pwdAccountLockedTime` and `pwdChangedTime`.
    OpenLdap,
}

impl StateDialect {
    /// The dialect of a server recognized from its root DSE.
    pub fn of_kind(kind: &ServerKind) -> StateDialect {
        match kind {
            ServerKind::Ds389 { .. } => StateDialect::Ds389,
            ServerKind::OpenLdap => StateDialect::OpenLdap,
            _ => StateDialect::AsMapped,
        }
    }

    /// The dialect a destination type fixes (`None`: read the root DSE, for `generic-ldap`).
    pub fn of_type(destination_type: &str) -> Option<StateDialect> {
        if destination_type.eq_ignore_ascii_case("generic-ldap") || destination_type.eq_ignore_ascii_case("ldap") {
            None
        } else {
            Some(StateDialect::AsMapped)
        }
    }

    /// The server's attribute holding the lock.
    fn lock_attr(self) -> &'static str {
        match self {
            StateDialect::Ds389 => "nsAccountLock",
            _ => DEST_LOCKED,
        }
    }

    /// The server's attribute holding the password change time.
    fn changed_attr(self) -> &'static str {
        match self {
            StateDialect::Ds389 => "pwdUpdateTime",
            _ => DEST_CHANGED,
        }
    }
}

/// Which of the state attributes the pipe's classes map.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MappedState {
    pub lock: bool,
    pub disabled: bool,
    pub changed: bool,
}

impl MappedState {
    pub fn of(mapping: &PipeMapping) -> MappedState {
        let maps = |attr: &str| mapping.classes().iter().any(|c| c.mapping_for(attr).is_some());
        MappedState { lock: maps(DEST_LOCKED), disabled: maps(DEST_DISABLED), changed: maps(DEST_CHANGED) }
    }

    fn any(self) -> bool {
        self.lock || self.disabled || self.changed
    }

    fn lock_pair(self) -> bool {
        self.lock || self.disabled
    }
}

/// The lock a mapped entry (or a modify) asks for: the lock time and the disable.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Lock {
    time: Option<String>,
    disabled: bool,
}

impl Lock {
    fn of_entry(e: &Entry) -> Lock {
        Lock {
            time: e.first_text(DEST_LOCKED).filter(|t| !t.trim().is_empty()),
            disabled: e.first_text(DEST_DISABLED).is_some_and(|v| v.trim().eq_ignore_ascii_case("true")),
        }
    }

    /// The server's lock value (`None`: not locked).
    fn native(&self, dialect: StateDialect) -> Option<String> {
        match dialect {
            StateDialect::Ds389 => (self.time.is_some() || self.disabled).then(|| "true".to_string()),
            StateDialect::OpenLdap if self.disabled => Some(LOCKED_FOREVER.to_string()),
            _ => self.time.clone(),
        }
    }
}

/// The lock value stored in `existing` (`None`: not locked).
fn stored_lock(dialect: StateDialect, existing: &Entry) -> Option<String> {
    let v = existing.first_text(dialect.lock_attr())?;
    match dialect {
        StateDialect::Ds389 => v.trim().eq_ignore_ascii_case("true").then_some(v),
        _ => Some(v),
    }
}

/// Two GeneralizedTimes name the same second (fractions and a trailing `Z` ignored).
fn same_time(a: &str, b: &str) -> bool {
    let key =
        |t: &str| -> String { t.trim().trim_end_matches(['Z', 'z']).split(['.', ',']).next().unwrap_or("").into() };
    key(a) == key(b)
}

/// The password policy state of one LDAP destination: the dialect (detected once), what the pipe maps.
pub struct DestinationState {
    mapped: MappedState,
    fixed: Option<StateDialect>,
    detected: OnceCell<StateDialect>,
}

impl DestinationState {
    pub fn new(mapped: MappedState, destination_type: &str) -> DestinationState {
        DestinationState { mapped, fixed: StateDialect::of_type(destination_type), detected: OnceCell::new() }
    }

    /// Whether a mapping names a state attribute and the server needs them translated (as far as known: before
    /// the root DSE is read, a `generic-ldap` destination may).
    pub fn translates(&self) -> bool {
        self.mapped.any() && self.known() != Some(StateDialect::AsMapped)
    }

    fn known(&self) -> Option<StateDialect> {
        self.fixed.or_else(|| self.detected.get().copied())
    }

    /// The dialect, reading the root DSE the first time (a server that cannot be read: as mapped, for now).
    pub async fn dialect(&self, client: &LdapClient) -> StateDialect {
        if !self.mapped.any() {
            return StateDialect::AsMapped;
        }
        if let Some(d) = self.fixed {
            return d;
        }
        if let Some(d) = self.detected.get() {
            return *d;
        }
        match client.root_dse(&["*", "+"]).await {
            Ok(dse) => {
                *self.detected.get_or_init(|| async { StateDialect::of_kind(&crate::prepare::detect(&dse)) }).await
            }
            Err(_) => StateDialect::AsMapped,
        }
    }

    /// The attributes to read for a diff: `attrs` plus the server's state attributes.
    pub fn fetch_attributes(&self, dialect: StateDialect, attrs: &[String]) -> Vec<String> {
        let mut out: Vec<String> = if attrs.is_empty() { vec!["*".into()] } else { attrs.to_vec() };
        if dialect == StateDialect::AsMapped {
            return out;
        }
        let mut extra = Vec::new();
        if self.mapped.lock_pair() {
            extra.push(dialect.lock_attr());
        }
        if self.mapped.changed {
            extra.push(dialect.changed_attr());
        }
        for a in extra {
            if !out.iter().any(|o| o.eq_ignore_ascii_case(a)) {
                out.push(a.to_string());
            }
        }
        out
    }

    /// See [`ferrosync::endpoint::Destination::prepare_diff`]: `existing` shows the mapped state attributes as
    /// `mapped` has them where the server's state matches, and differing where it does not.
    pub fn prepare_diff(&self, mapped: &Entry, existing: &mut Entry) {
        let Some(dialect) = self.known().filter(|d| *d != StateDialect::AsMapped && self.mapped.any()) else {
            return;
        };
        if self.mapped.lock_pair() {
            let stored = stored_lock(dialect, existing);
            let wanted = Lock::of_entry(mapped).native(dialect);
            let matches = match (&stored, &wanted) {
                (None, None) => true,
                (Some(s), Some(w)) => dialect == StateDialect::Ds389 || same_time(s, w),
                _ => false,
            };
            existing.remove(dialect.lock_attr());
            existing.remove(DEST_LOCKED);
            existing.remove(DEST_DISABLED);
            for (attr, on) in [(DEST_LOCKED, self.mapped.lock), (DEST_DISABLED, self.mapped.disabled)] {
                if !on {
                    continue;
                }
                let values = if matches {
                    mapped.values(attr).to_vec()
                } else if attr == DEST_LOCKED {
                    if mapped.has(attr) {
                        Vec::new()
                    } else {
                        vec![Value::from(LOCKED_FOREVER)]
                    }
                } else {
                    let disabled = mapped.first_text(attr).is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
                    vec![Value::from(if disabled { "false" } else { "true" })]
                };
                existing.set(attr, values);
            }
        }
        if self.mapped.changed {
            let stored = existing.first_text(dialect.changed_attr());
            let wanted = mapped.first_text(DEST_CHANGED);
            existing.remove(dialect.changed_attr());
            let view = match (&stored, &wanted) {
                (Some(s), Some(w)) if same_time(s, w) => wanted.clone(),
                _ => stored,
            };
            existing.set(DEST_CHANGED, view.map(Value::Text).into_iter().collect());
        }
    }

    /// `entry` with the state attributes in the server's form, and whether writing it needs the Relax control.
    pub fn native_entry(&self, dialect: StateDialect, entry: &Entry) -> (Entry, bool) {
        if dialect == StateDialect::AsMapped || !self.mapped.any() {
            return (entry.clone(), false);
        }
        let mut e = entry.clone();
        let lock = Lock::of_entry(&e);
        let changed = e.first_text(DEST_CHANGED);
        e.remove(DEST_LOCKED);
        e.remove(DEST_DISABLED);
        e.remove(DEST_CHANGED);
        if let Some(v) = lock.native(dialect) {
            e.set(dialect.lock_attr(), vec![Value::Text(v)]);
        }
        let mut relax = false;
        if let Some(t) = changed {
            relax = dialect == StateDialect::OpenLdap;
            e.set(dialect.changed_attr(), vec![Value::Text(t)]);
        }
        (e, relax)
    }

    /// Splits a modify into the modifications written as they are and those of the state, in the server's form
    /// (with whether they need the Relax control).
    pub fn native_mods(&self, dialect: StateDialect, mods: &[CoreMod]) -> (Vec<CoreMod>, Vec<Modification>, bool) {
        if dialect == StateDialect::AsMapped || !self.mapped.any() {
            return (mods.to_vec(), Vec::new(), false);
        }
        let mut rest = Vec::new();
        let mut lock = Lock::default();
        let (mut lock_touched, mut changed) = (false, None);
        let first = |v: &[Value]| v.first().map(|v| v.as_text().into_owned()).filter(|t| !t.trim().is_empty());
        for m in mods {
            let (attr, values, delete) = match m {
                CoreMod::Add(a, v) | CoreMod::Replace(a, v) => (a, v.as_slice(), false),
                CoreMod::Delete(a, v) => (a, v.as_slice(), true),
            };
            let base = attr.split(';').next().unwrap_or(attr);
            if base.eq_ignore_ascii_case(DEST_LOCKED) {
                lock_touched = true;
                lock.time = if delete { None } else { first(values) };
            } else if base.eq_ignore_ascii_case(DEST_DISABLED) {
                lock_touched = true;
                lock.disabled = !delete && first(values).is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
            } else if base.eq_ignore_ascii_case(DEST_CHANGED) {
                changed = Some(if delete { None } else { first(values) });
            } else {
                rest.push(m.clone());
            }
        }
        let mut state = Vec::new();
        if lock_touched {
            let v = lock.native(dialect).map(Value::Text).into_iter().collect();
            state.push(Modification::Replace(dialect.lock_attr().to_string(), v));
        }
        let mut relax = false;
        if let Some(t) = changed {
            relax = dialect == StateDialect::OpenLdap;
            state.push(Modification::Replace(
                dialect.changed_attr().to_string(),
                t.map(Value::Text).into_iter().collect(),
            ));
        }
        (rest, state, relax)
    }
}

/// The Relax control, when `relax`.
pub fn relax_controls(relax: bool) -> Vec<RawControl> {
    if relax {
        vec![RawControl { ctype: RELAX_OID.to_string(), crit: true, val: None }]
    } else {
        Vec::new()
    }
}

/// Whether slapd refused a write because an attribute is `NO-USER-MODIFICATION` (then the Relax control helps).
pub fn needs_relax(e: &LdapError) -> bool {
    e.rc() == Some(19) && e.to_string().to_ascii_lowercase().contains("no user modification")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filetimes_become_generalized_times() {
        // 2026-12-04 18:30:00 UTC
        let secs: i64 = 1_796_409_000 + FILETIME_EPOCH_OFFSET;
        assert_eq!(
            filetime_to_generalized(&(secs * 10_000_000 + 1234).to_string()).as_deref(),
            Some("20261204183000Z")
        );
        assert_eq!(filetime_to_generalized("0"), None);
        assert_eq!(filetime_to_generalized("9223372036854775807"), None);
        assert_eq!(filetime_to_generalized("-1"), None);
        assert_eq!(filetime_to_generalized("x"), None);
    }

    #[test]
    fn intermediates_of_an_ad_user() {
        let mut e = Entry::new("CN=a");
        e.set("userAccountControl", vec![Value::from("514")]);
        e.set("lockoutTime", vec![Value::from("0")]);
        e.set("pwdLastSet", vec![Value::from("134093826000000000")]);
        add_intermediates(&mut e);
        assert_eq!(e.texts(DISABLED_ATTR), ["true"]);
        assert!(!e.has(LOCKED_TIME_ATTR));
        assert_eq!(e.texts(CHANGED_TIME_ATTR), ["20251205043000Z"]);
        let mut lds = Entry::new("CN=b");
        lds.set("msDS-UserAccountDisabled", vec![Value::from("FALSE")]);
        add_intermediates(&mut lds);
        assert_eq!(lds.texts(DISABLED_ATTR), ["false"]);
        let mut group = Entry::new("CN=g");
        add_intermediates(&mut group);
        assert_eq!(group.attribute_names().count(), 0);
        assert_eq!(changed_intermediates(&["lockoutTime".into()]), [LOCKED_TIME_ATTR, DISABLED_ATTR]);
        assert_eq!(changed_intermediates(&["pwdLastSet".into(), "description".into()]), [CHANGED_TIME_ATTR]);
        assert!(changed_intermediates(&["description".into()]).is_empty());
    }

    fn state(dialect: StateDialect) -> DestinationState {
        let s = DestinationState::new(MappedState { lock: true, disabled: true, changed: true }, "generic-ldap");
        s.detected.set(dialect).unwrap();
        s
    }

    fn mapped(lock: Option<&str>, disabled: bool) -> Entry {
        let mut e = Entry::new("uid=a");
        e.set(DEST_LOCKED, lock.map(Value::from).into_iter().collect());
        e.set(DEST_DISABLED, vec![Value::from(disabled.to_string().as_str())]);
        e
    }

    #[test]
    fn a_matching_389_lock_shows_as_mapped_and_a_differing_one_differs_in_both() {
        let s = state(StateDialect::Ds389);
        let m = mapped(Some("20261204183000Z"), false);
        let mut locked = Entry::new("uid=a");
        locked.set("nsAccountLock", vec![Value::from("TRUE")]);
        let mut view = locked.clone();
        s.prepare_diff(&m, &mut view);
        assert_eq!(view.texts(DEST_LOCKED), ["20261204183000Z"]);
        assert_eq!(view.texts(DEST_DISABLED), ["false"]);
        assert!(!view.has("nsAccountLock"));
        // Unlocked in AD: both attributes differ, so the modify carries both.
        let mut view = locked.clone();
        s.prepare_diff(&mapped(None, false), &mut view);
        assert_eq!(view.texts(DEST_LOCKED), [LOCKED_FOREVER]);
        assert_eq!(view.texts(DEST_DISABLED), ["true"]);
        let mods =
            [CoreMod::Delete(DEST_LOCKED.into(), vec![]), CoreMod::Replace(DEST_DISABLED.into(), vec!["false".into()])];
        let (rest, native, relax) = s.native_mods(StateDialect::Ds389, &mods);
        assert!(rest.is_empty() && !relax);
        assert_eq!(native, [Modification::Replace("nsAccountLock".into(), vec![])]);
        let (e, _) = s.native_entry(StateDialect::Ds389, &mapped(None, true));
        assert_eq!(e.texts("nsAccountLock"), ["true"]);
        assert!(!e.has(DEST_DISABLED));
    }

    #[test]
    fn openldap_disable_is_the_permanent_lock_and_times_need_relax() {
        let s = state(StateDialect::OpenLdap);
        let (e, relax) = s.native_entry(StateDialect::OpenLdap, &mapped(Some("20261204183000Z"), true));
        assert_eq!(e.texts(DEST_LOCKED), [LOCKED_FOREVER]);
        assert!(!relax);
        let mut stored = Entry::new("uid=a");
        stored.set(DEST_LOCKED, vec![Value::from(LOCKED_FOREVER)]);
        stored.set(DEST_CHANGED, vec![Value::from("20261204183000Z")]);
        let mut m = mapped(None, true);
        m.set(DEST_CHANGED, vec![Value::from("20261204183000.5Z")]);
        let mut view = stored.clone();
        s.prepare_diff(&m, &mut view);
        assert_eq!(view.texts(DEST_DISABLED), ["true"]);
        assert!(!view.has(DEST_LOCKED));
        assert_eq!(view.texts(DEST_CHANGED), ["20261204183000.5Z"]);
        let mods = [
            CoreMod::Replace(DEST_CHANGED.into(), vec!["20261205000000Z".into()]),
            CoreMod::Add("cn".into(), vec!["x".into()]),
        ];
        let (rest, native, relax) = s.native_mods(StateDialect::OpenLdap, &mods);
        assert_eq!(rest.len(), 1);
        assert!(relax);
        assert_eq!(native, [Modification::Replace(DEST_CHANGED.into(), vec!["20261205000000Z".into()])]);
    }

    #[test]
    fn destination_types_fix_or_detect_the_dialect() {
        assert_eq!(StateDialect::of_type("generic-ldap"), None);
        assert_eq!(StateDialect::of_type("ping-identity"), Some(StateDialect::AsMapped));
        assert_eq!(StateDialect::of_kind(&ServerKind::OpenLdap), StateDialect::OpenLdap);
        assert_eq!(StateDialect::of_kind(&ServerKind::Ds389 { version: String::new() }), StateDialect::Ds389);
    }
}
