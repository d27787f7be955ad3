//! 389 Directory Server: the sync user, its ACIs, and the Retro Changelog plugin.

use ferrosync::entry::Value;
use ferrosync::syntax::Dn;

use super::{user_entry, PrepareError, Run, Status};
use crate::{LdapClient, Modification, Scope};

const RETROCL: &str = "cn=Retro Changelog Plugin,cn=plugins,cn=config";
const CHANGELOG: &str = "cn=changelog";
/// The maximum age set when the plugin has none (Ping's corpus uses hours; two days leave room for an outage).
pub const DEFAULT_MAX_AGE: &str = "2d";
const TARGET_UNIQUE_ID: &str = "nsuniqueid:targetUniqueId";

/// The name of the sync user's ACIs, so a later run finds them.
fn aci_name(user: &str) -> String {
    format!("ferrosync sync user {user}")
}

/// The ACI that lets `user` do `rights` on every attribute (in 389 DS 2.x `targetattr="*"` covers operational
/// attributes such as nsUniqueId and modifiersName too) below the entry it is on.
pub(super) fn aci(user: &str, rights: &str) -> String {
    format!("(targetattr=\"*\")(version 3.0; acl \"{}\"; allow ({rights}) userdn=\"ldap:///{user}\";)", aci_name(user))
}

pub(super) async fn prepare(run: &mut Run<'_>) -> Result<(), PrepareError> {
    let opts = run.opts;
    let user = opts.sync_dn.as_str();
    let mut entry = user_entry(user)?;
    entry.add("userPassword", Value::Text(opts.sync_password.expose().to_string()));
    run.ensure_user(entry).await?;

    let rights = if opts.is_destination { "read,search,compare,add,delete,write,moddn" } else { "read,search,compare" };
    let what =
        if opts.is_destination { "read and write access below the base DN" } else { "read access to the base DN" };
    run.ensure_aci(&opts.base_dn, &aci_name(user), &aci(user, rights), what).await?;

    let mut changelog_live = false;
    if opts.is_source {
        changelog_live = retro_changelog(run).await?;
        clear_text_passwords(run).await?;
        if changelog_live {
            run.ensure_aci(
                CHANGELOG,
                &aci_name(user),
                &aci(user, "read,search,compare"),
                "read access to the change log",
            )
            .await?;
        }
    }

    let Some(sync) = run.sync_bind().await else { return Ok(()) };
    run.check_base_read(&sync, &["nsUniqueId"]).await;
    if opts.is_destination {
        super::check_write(run, &sync).await;
    }
    if changelog_live {
        check_changelog(run, &sync).await;
    }
    sync.close().await;
    Ok(())
}

/// The length of a 389 DS `nsslapd-changelogmaxage` value (`2d`, `8h`, `30`: seconds when there is no unit).
fn age_of_389(text: &str) -> Option<u64> {
    let text = text.trim();
    let (digits, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let n: u64 = digits.parse().ok()?;
    let size = match unit.to_ascii_lowercase().as_str() {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return None,
    };
    n.checked_mul(size)
}

/// Turns the Retro Changelog plugin on with what ferrosync needs. Returns whether `cn=changelog` is live now.
async fn retro_changelog(run: &mut Run<'_>) -> Result<bool, PrepareError> {
    let attrs = ["nsslapd-pluginEnabled", "nsslapd-attribute", "nsslapd-changelogmaxage", "nsslapd-include-suffix"];
    let Some(plugin) = run.admin.get(RETROCL, &attrs).await? else {
        run.report.step(Status::ToDo, format!("the Retro Changelog plugin's entry \"{RETROCL}\" is missing"));
        return Ok(false);
    };
    let enabled = plugin.first_text("nsslapd-pluginEnabled").is_some_and(|v| v.eq_ignore_ascii_case("on"));
    let mut mods = Vec::new();
    let mut did = Vec::new();
    if !enabled {
        mods.push(Modification::Replace("nsslapd-pluginEnabled".into(), vec![Value::Text("on".into())]));
        did.push("enabled it".to_string());
    }
    if !plugin.texts("nsslapd-attribute").iter().any(|v| v.eq_ignore_ascii_case(TARGET_UNIQUE_ID)) {
        mods.push(Modification::Add("nsslapd-attribute".into(), vec![Value::Text(TARGET_UNIQUE_ID.into())]));
        did.push(format!("nsslapd-attribute: {TARGET_UNIQUE_ID}"));
    }
    match run.opts.changelog_max_age.map(super::max_age_389) {
        // the operator's age, unless the server already has it (in whatever unit)
        Some(age) => {
            let current = plugin.first_text("nsslapd-changelogmaxage");
            if current.as_deref().and_then(age_of_389) != age_of_389(&age) {
                mods.push(Modification::Replace("nsslapd-changelogmaxage".into(), vec![Value::Text(age.clone())]));
                did.push(format!("nsslapd-changelogmaxage: {age}"));
            }
        }
        None if !plugin.has("nsslapd-changelogmaxage") => {
            mods.push(Modification::Add("nsslapd-changelogmaxage".into(), vec![Value::Text(DEFAULT_MAX_AGE.into())]));
            did.push(format!("nsslapd-changelogmaxage: {DEFAULT_MAX_AGE}"));
        }
        None => {}
    }
    let included = plugin.texts("nsslapd-include-suffix");
    let base = Dn::parse(&run.opts.base_dn).unwrap_or_default();
    let covered = included.iter().any(|s| Dn::parse(s).is_ok_and(|s| base.is_within(&s)));
    // a plugin that was off logs nothing yet, so limiting it to the base DN takes nothing away from anyone; one
    // that was on with no include list logs every suffix, the base DN's too
    if (!enabled && included.is_empty()) || (!included.is_empty() && !covered) {
        mods.push(Modification::Add("nsslapd-include-suffix".into(), vec![Value::Text(run.opts.base_dn.clone())]));
        did.push(format!("nsslapd-include-suffix: {}", run.opts.base_dn));
    }
    if mods.is_empty() {
        run.report.step(
            Status::Unchanged,
            format!("the Retro Changelog plugin is on, with {TARGET_UNIQUE_ID} and a maximum age, for the base DN"),
        );
    } else {
        run.admin.modify(RETROCL, &mods).await?;
        run.report.step(Status::Changed, format!("Retro Changelog plugin: {}", did.join("; ")));
    }
    let dse = run.admin.root_dse(&["changelog"]).await?;
    let live = dse.has("changelog") && run.admin.get(CHANGELOG, &["1.1"]).await?.is_some();
    // with nsslapd-dynamic-plugins on, 389 DS restarts a plugin whose configuration changes
    let dynamic = run
        .admin
        .get("cn=config", &["nsslapd-dynamic-plugins"])
        .await?
        .and_then(|c| c.first_text("nsslapd-dynamic-plugins"))
        .is_some_and(|v| v.eq_ignore_ascii_case("on"));
    if !live || (!mods.is_empty() && !dynamic) {
        let why = if live {
            "its new settings apply from the next start"
        } else {
            "389 DS starts a plugin only when it starts (unless nsslapd-dynamic-plugins is on)"
        };
        run.report.step(
            Status::ToDo,
            format!(
                "restart the server so that the Retro Changelog plugin runs ({why}), then run this tool again{}",
                if live { "" } else { " to grant the sync user read access to cn=changelog" }
            ),
        );
        run.report.instruct(
            "Restart 389 Directory Server, then run prepare-endpoint-server again with the same options:",
            vec!["dsctl INSTANCE restart        (or: systemctl restart dirsrv@INSTANCE)".to_string()],
        );
    }
    Ok(live)
}

/// Whether the retro changelog records the clear text of password changes (`unhashed#user#password`), which
/// is how a password changed at 389 DS reaches Active Directory; turned on with `--recordClearTextPasswords`.
async fn clear_text_passwords(run: &mut Run<'_>) -> Result<(), PrepareError> {
    const SWITCH: &str = "nsslapd-unhashed-pw-switch";
    let value =
        run.admin.get("cn=config", &[SWITCH]).await?.and_then(|c| c.first_text(SWITCH)).unwrap_or_else(|| "on".into());
    if value.eq_ignore_ascii_case("on") {
        run.report.step(
            Status::Ok,
            format!("the change log records the clear text of password changes ({SWITCH}: on), for AD destinations"),
        );
    } else if run.opts.record_clear_text_passwords {
        run.admin.modify("cn=config", &[Modification::Replace(SWITCH.into(), vec![Value::Text("on".into())])]).await?;
        run.report.step(
            Status::Changed,
            format!("{SWITCH}: on (was {value}): password changes reach Active Directory destinations"),
        );
    } else {
        run.report.step(
            Status::Ok,
            format!(
                "the change log does not record the clear text of password changes ({SWITCH}: {value}): passwords \
                 cannot reach Active Directory destinations; --recordClearTextPasswords turns it on"
            ),
        );
    }
    Ok(())
}

/// Reads `cn=changelog` and its last entry as the sync user.
/// As Ping's tool does: the sync user must read `firstChangeNumber` and `lastChangeNumber` in the root DSE,
/// where a sync source finds where the change log begins and ends; a warning when it cannot.
async fn root_dse_numbers(run: &mut Run<'_>, sync: &LdapClient) {
    const NUMBERS: [&str; 2] = ["firstChangeNumber", "lastChangeNumber"];
    let admin_sees = match run.admin.root_dse(&NUMBERS).await {
        Ok(dse) => NUMBERS.iter().filter(|a| dse.has(a)).count(),
        Err(_) => 0,
    };
    match sync.root_dse(&NUMBERS).await {
        Ok(dse) if NUMBERS.iter().all(|a| dse.has(a)) => run.report.step(
            Status::Ok,
            format!(
                "the sync user reads firstChangeNumber ({}) and lastChangeNumber ({}) in the root DSE",
                dse.first_text("firstChangeNumber").unwrap_or_default(),
                dse.first_text("lastChangeNumber").unwrap_or_default()
            ),
        ),
        Ok(dse) => {
            let missing: Vec<&str> = NUMBERS.iter().copied().filter(|a| !dse.has(a)).collect();
            let why = if admin_sees == NUMBERS.len() {
                "the administrator sees them: give the sync user read access to the root DSE's change numbers"
            } else {
                "the server does not show them yet (the Retro Changelog plugin may need a restart of 389 DS)"
            };
            run.report.step(
                Status::Warning,
                format!("the sync user cannot read {} in the root DSE: {why}", missing.join(" and ")),
            )
        }
        Err(e) => run.report.step(Status::Warning, format!("the sync user cannot read the root DSE: {e}")),
    }
}

async fn check_changelog(run: &mut Run<'_>, sync: &LdapClient) {
    let visible = match sync.get(CHANGELOG, &["1.1"]).await {
        Ok(found) => found.is_some(),
        Err(e) => {
            run.report.step(Status::Failed, format!("the sync user cannot read {CHANGELOG}: {e}"));
            return;
        }
    };
    if !visible {
        run.report.step(Status::Failed, format!("the sync user cannot see {CHANGELOG}"));
        return;
    }
    root_dse_numbers(run, sync).await;
    let last = match run.admin.root_dse(&["lastchangenumber"]).await {
        Ok(dse) => dse.first_text("lastchangenumber").and_then(|v| v.parse::<u64>().ok()).unwrap_or(0),
        Err(_) => 0,
    };
    if last == 0 {
        run.report.step(Status::Ok, format!("the sync user can read {CHANGELOG} (no changes logged yet)"));
        return;
    }
    let filter = format!("(changeNumber>={last})");
    match sync.search(CHANGELOG, Scope::OneLevel, &filter, &["changeNumber", "targetUniqueId"]).await {
        Ok(entries) if !entries.is_empty() => {
            run.report.step(Status::Ok, format!("the sync user can read {CHANGELOG} (last change number {last})"))
        }
        Ok(_) => run.report.step(Status::Failed, format!("the sync user cannot see the entries of {CHANGELOG}")),
        Err(e) => run.report.step(Status::Failed, format!("the sync user cannot search {CHANGELOG}: {e}")),
    }
}
