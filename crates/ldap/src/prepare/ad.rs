//! Active Directory and Samba AD: the sync user (with its password set through `unicodePwd`) and the rights
//! DirSync and `CN=Deleted Objects` need, granted by adding ACEs to `nTSecurityDescriptor` with the SD_FLAGS
//! control; the `samba-tool dsacl` / `dsacls` commands are printed when the server refuses the edit.

use std::collections::HashSet;

use ferrosync::entry::{Entry, Value};
use ldap3::controls::RawControl;
use ldap3::Mod;

use super::sd::{self, Ace, SecurityDescriptor, SidText};
use super::{ber, PrepareError, Run, Status};
use crate::{entry_from_result_entry, rc, LdapClient, LdapError, Scope, Security};

/// "Replicating Directory Changes" (DS-Replication-Get-Changes), the control access right DirSync needs.
pub const REPLICATING_DIRECTORY_CHANGES: &str = "1131f6aa-9c07-11d1-f79f-00c04fc2dcd2";
/// "Reset Password" (User-Force-Change-Password), for a destination that sets `unicodePwd`.
pub const RESET_PASSWORD: &str = "00299570-246d-11d0-a768-00aa006e0529";
/// The DirSync control (LDAP_SERVER_DIRSYNC_OID).
pub const DIRSYNC_OID: &str = "1.2.840.113556.1.4.841";
/// The show-deleted control (LDAP_SERVER_SHOW_DELETED_OID).
pub const SHOW_DELETED_OID: &str = "1.2.840.113556.1.4.417";

/// ADS_RIGHT_DS_CONTROL_ACCESS (CR).
const CONTROL_ACCESS: u32 = 0x100;
/// ADS_RIGHT_ACTRL_DS_LIST (LC) | ADS_RIGHT_DS_READ_PROP (RP).
const LIST_READ: u32 = 0x04 | 0x10;
/// What a destination's sync user gets below the base DN: create and delete children (CC, DC), list (LC),
/// validated writes (SW), read and write properties (RP, WP), delete tree (DT), list object (LO), delete (SD)
/// and read control (RC). Not every extended right (CR): that would include the replication rights; Reset
/// Password is granted on its own.
const DESTINATION_RIGHTS: u32 = 0xff | 0x10000 | 0x20000;
/// CONTAINER_INHERIT_ACE.
const CONTAINER_INHERIT: u8 = 0x02;
/// UF_NORMAL_ACCOUNT | UF_DONT_EXPIRE_PASSWD.
const USER_ACCOUNT_CONTROL: &str = "66048";

fn sd_control() -> RawControl {
    RawControl {
        ctype: sd::SD_FLAGS_OID.to_string(),
        crit: true,
        val: Some(sd::sd_flags_value(sd::DACL_SECURITY_INFORMATION)),
    }
}

fn show_deleted() -> RawControl {
    RawControl { ctype: SHOW_DELETED_OID.to_string(), crit: true, val: None }
}

/// A first DirSync request (no cookie).
fn dirsync_control() -> RawControl {
    let val = ber::sequence(&[ber::integer(0), ber::integer(1_048_576), ber::octet_string(&[])]);
    RawControl { ctype: DIRSYNC_OID.to_string(), crit: true, val: Some(val) }
}

/// `unicodePwd`'s value: the password in double quotes, UTF-16LE.
pub fn unicode_pwd(password: &str) -> Vec<u8> {
    format!("\"{password}\"").encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// The ACE in SDDL, for `samba-tool dsacl set --sddl=...`.
fn sddl(ace: &Ace, guid: Option<&str>) -> String {
    let mut rights = String::new();
    for (bit, code) in [
        (0x1, "CC"),
        (0x2, "DC"),
        (0x4, "LC"),
        (0x8, "SW"),
        (0x10, "RP"),
        (0x20, "WP"),
        (0x40, "DT"),
        (0x80, "LO"),
        (0x100, "CR"),
        (0x10000, "SD"),
        (0x20000, "RC"),
    ] {
        if ace.mask & bit != 0 {
            rights.push_str(code);
        }
    }
    let kind = if ace.object_type.is_some() { "OA" } else { "A" };
    let flags = if ace.flags & CONTAINER_INHERIT != 0 { "CI" } else { "" };
    format!("({kind};{flags};{rights};{};;{})", guid.unwrap_or(""), SidText(&ace.sid))
}

/// The `samba-tool` command that adds the ACE `sddl` to the object `dn`.
fn samba_tool(host: &str, netbios: &str, dn: &str, sddl: &str) -> String {
    format!("samba-tool dsacl set -H ldap://{host} -U '{netbios}\\Administrator' --objectdn=\"{dn}\" --sddl=\"{sddl}\"")
}

/// The sAMAccountName of a new user: its RDN value without spaces, at most 20 characters.
fn sam_account_name(dn: &str) -> String {
    let first = dn.split(',').next().unwrap_or(dn);
    let value = first.split_once('=').map(|(_, v)| v).unwrap_or(first);
    value.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')).take(20).collect()
}

pub(super) async fn prepare(run: &mut Run<'_>) -> Result<(), PrepareError> {
    let opts = run.opts;
    let root = run.dse.first_text("defaultNamingContext").unwrap_or_else(|| opts.base_dn.clone());
    let user = opts.sync_dn.clone();
    ensure_user(run).await?;
    let Some(found) = run.admin.get(&user, &["objectSid", "sAMAccountName"]).await? else {
        run.report.step(Status::Failed, format!("the sync user \"{user}\" cannot be read back"));
        return Ok(());
    };
    let sid = found.values("objectSid").first().map(Value::to_bytes).unwrap_or_default();
    let sam = found.first_text("sAMAccountName").unwrap_or_else(|| sam_account_name(&user));
    if sid.len() < 8 {
        run.report.step(Status::Failed, format!("the sync user \"{user}\" has no objectSid"));
        return Ok(());
    }
    let netbios = root
        .split(',')
        .next()
        .and_then(|rdn| rdn.split_once('='))
        .map(|(_, v)| v.to_ascii_uppercase())
        .unwrap_or_default();
    let who = format!("{netbios}\\{sam}");
    let host = run.sync_server.host.clone();

    if opts.is_source {
        let guid = sd::guid_bytes(REPLICATING_DIRECTORY_CHANGES)?;
        let ace = Ace { flags: 0, mask: CONTROL_ACCESS, object_type: Some(guid), sid: sid.clone() };
        let commands = vec![
            samba_tool(&host, &netbios, &root, &sddl(&ace, Some(REPLICATING_DIRECTORY_CHANGES))),
            format!("dsacls \"{root}\" /G \"{who}:CA;Replicating Directory Changes\""),
        ];
        ensure_ace(
            run,
            &root,
            &ace,
            &[],
            "\"Replicating Directory Changes\" on the domain root (for DirSync)",
            commands,
        )
        .await?;
        let deleted = format!("CN=Deleted Objects,{root}");
        let what = "list and read on CN=Deleted Objects";
        // Samba lets every user read it and shows no nTSecurityDescriptor there: grant only what is missing
        if can_read_deleted(run, &deleted).await {
            run.report.step(Status::Unchanged, format!("{what}: the sync user has it already"));
        } else {
            let ace = Ace { flags: 0, mask: LIST_READ, object_type: None, sid: sid.clone() };
            let commands =
                vec![format!("dsacls \"{deleted}\" /takeownership"), format!("dsacls \"{deleted}\" /G \"{who}:LCRP\"")];
            ensure_ace(run, &deleted, &ace, &[show_deleted()], what, commands).await?;
        }
    }
    if opts.is_destination {
        let base = opts.base_dn.clone();
        let ace = Ace { flags: CONTAINER_INHERIT, mask: DESTINATION_RIGHTS, object_type: None, sid: sid.clone() };
        let commands = vec![
            samba_tool(&host, &netbios, &base, &sddl(&ace, None)),
            format!("dsacls \"{base}\" /I:T /G \"{who}:CCDCLCWSRPWPDTLOSDRC\""),
        ];
        ensure_ace(run, &base, &ace, &[], "create, delete, read and write below the base DN", commands).await?;
        let guid = sd::guid_bytes(RESET_PASSWORD)?;
        let ace = Ace { flags: CONTAINER_INHERIT, mask: CONTROL_ACCESS, object_type: Some(guid), sid: sid.clone() };
        let commands = vec![
            samba_tool(&host, &netbios, &base, &sddl(&ace, Some(RESET_PASSWORD))),
            format!("dsacls \"{base}\" /I:T /G \"{who}:CA;Reset Password\""),
        ];
        ensure_ace(run, &base, &ace, &[], "\"Reset Password\" below the base DN (for unicodePwd)", commands).await?;
    }

    let Some(sync) = run.sync_bind().await else { return Ok(()) };
    run.check_base_read(&sync, &["objectGUID"]).await;
    if opts.is_destination {
        super::check_write(run, &sync).await;
    }
    if opts.is_source {
        match dirsync(&sync, &root).await {
            Ok(n) => run.report.step(Status::Ok, format!("a DirSync search as the sync user works ({n} entries)")),
            Err(e) => run.report.step(Status::Failed, format!("a DirSync search as the sync user fails: {e}")),
        }
        let deleted = format!("CN=Deleted Objects,{root}");
        match read_deleted(&sync, &deleted).await {
            Ok(true) => run.report.step(Status::Ok, "the sync user can read CN=Deleted Objects"),
            Ok(false) => run.report.step(Status::Failed, "the sync user cannot see CN=Deleted Objects"),
            Err(e) => run.report.step(Status::Failed, format!("the sync user cannot read CN=Deleted Objects: {e}")),
        }
    }
    sync.close().await;
    Ok(())
}

async fn ensure_user(run: &mut Run<'_>) -> Result<(), PrepareError> {
    let user = run.opts.sync_dn.clone();
    if run.user_exists().await? {
        return Ok(());
    }
    let name = user.split(',').next().and_then(|r| r.split_once('=')).map(|(_, v)| v.to_string()).unwrap_or_default();
    let mut entry = Entry::new(user.clone());
    for oc in ["top", "person", "organizationalPerson", "user"] {
        entry.add("objectClass", Value::Text(oc.into()));
    }
    entry.add("cn", Value::Text(name));
    entry.add("sAMAccountName", Value::Text(sam_account_name(&user)));
    entry.add("userAccountControl", Value::Text(USER_ACCOUNT_CONTROL.into()));
    entry.add("unicodePwd", Value::Binary(unicode_pwd(run.opts.sync_password.expose())));
    match run.admin.add(&entry).await {
        Ok(()) => {
            run.report.step(Status::Changed, format!("created the sync user \"{user}\" (password set, enabled)"));
            Ok(())
        }
        Err(e) if e.rc() == Some(rc::UNWILLING_TO_PERFORM) && run.sync_server.security == Security::None => {
            Err(PrepareError::from(LdapError::Request {
                operation: "add".into(),
                dn: user,
                message: format!(
                    "{e}. Active Directory sets passwords only over an encrypted connection: use --useSSL or --useStartTLS"
                ),
            }))
        }
        Err(e) => Err(e.into()),
    }
}

/// Reads the DACL of `dn` as the administrator.
async fn read_dacl(run: &Run<'_>, dn: &str, extra: &[RawControl]) -> Result<Option<Vec<u8>>, LdapError> {
    let mut controls = vec![sd_control()];
    controls.extend_from_slice(extra);
    let res = run.admin.search_with_controls(dn, Scope::Base, "(objectClass=*)", &["nTSecurityDescriptor"], controls);
    let found = res.await?;
    Ok(found
        .items
        .into_iter()
        .filter_map(entry_from_result_entry)
        .find_map(|e| e.values("nTSecurityDescriptor").first().map(Value::to_bytes)))
}

/// Makes sure the DACL of `dn` allows `ace`; prints `commands` for the operator when the server refuses.
async fn ensure_ace(
    run: &mut Run<'_>,
    dn: &str,
    ace: &Ace,
    extra: &[RawControl],
    what: &str,
    commands: Vec<String>,
) -> Result<(), PrepareError> {
    let todo = |run: &mut Run<'_>, why: String| {
        run.report.step(Status::ToDo, format!("{what}: {why}"));
        run.report.instruct(format!("Grant {what} to the sync user, with one of:"), commands.clone());
    };
    let raw = match read_dacl(run, dn, extra).await {
        Ok(Some(raw)) => raw,
        Ok(None) => {
            todo(run, format!("cannot read the security descriptor of \"{dn}\""));
            return Ok(());
        }
        Err(e) => {
            todo(run, format!("cannot read the security descriptor of \"{dn}\": {e}"));
            return Ok(());
        }
    };
    let mut desc = SecurityDescriptor::parse(&raw)?;
    if desc.allows(&ace.sid, ace.mask, ace.object_type.as_ref()) {
        run.report.step(Status::Unchanged, format!("{what}: already granted"));
        return Ok(());
    }
    desc.add_ace(ace);
    let bytes = desc.to_bytes();
    let mut controls = vec![sd_control()];
    controls.extend_from_slice(extra);
    let written = run
        .admin
        .with_connection("modify", dn, |mut ldap| {
            let (controls, bytes) = (controls.clone(), bytes.clone());
            async move {
                let mods = vec![Mod::Replace(b"nTSecurityDescriptor".to_vec(), HashSet::from([bytes]))];
                ldap.with_controls(controls).modify(dn, mods).await?.success()?;
                Ok(())
            }
        })
        .await;
    match written {
        Ok(()) => run.report.step(Status::Changed, format!("{what}: granted (an ACE added to \"{dn}\")")),
        Err(e) => todo(run, format!("the server refused the change of \"{dn}\": {e}")),
    }
    Ok(())
}

/// Whether `client` sees `deleted` (CN=Deleted Objects) with the show-deleted control.
async fn read_deleted(client: &LdapClient, deleted: &str) -> Result<bool, LdapError> {
    let r =
        client.search_with_controls(deleted, Scope::Base, "(objectClass=*)", &["1.1"], vec![show_deleted()]).await?;
    Ok(r.items.iter().any(|i| !i.is_ref() && !i.is_intermediate()))
}

/// Whether the sync user (bound on a connection of its own) reads `deleted` already.
async fn can_read_deleted(run: &Run<'_>, deleted: &str) -> bool {
    let Ok(client) = run.sync_client() else { return false };
    let seen = matches!(read_deleted(&client, deleted).await, Ok(true));
    client.close().await;
    seen
}

/// A first DirSync search from the domain root (only the domain object, to keep it small) as `client`.
async fn dirsync(client: &LdapClient, root: &str) -> Result<usize, LdapError> {
    let res = client
        .search_with_controls(root, Scope::Subtree, "(objectClass=domainDNS)", &["name"], vec![dirsync_control()])
        .await?;
    Ok(res.items.iter().filter(|i| !i.is_ref() && !i.is_intermediate()).count())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unicode_pwd_is_quoted_utf16le() {
        assert_eq!(unicode_pwd("ab"), vec![b'"', 0, b'a', 0, b'b', 0, b'"', 0]);
    }

    #[test]
    fn sam_names() {
        assert_eq!(sam_account_name("CN=Sync User,CN=Users,DC=x"), "SyncUser");
        assert_eq!(sam_account_name("CN=a very long name for a sync user,DC=x").len(), 20);
    }

    #[test]
    fn sddl_strings() {
        let sid = vec![1, 1, 0, 0, 0, 0, 0, 5, 18, 0, 0, 0];
        let ace = Ace {
            flags: 0,
            mask: CONTROL_ACCESS,
            object_type: Some(sd::guid_bytes(REPLICATING_DIRECTORY_CHANGES).expect("guid")),
            sid: sid.clone(),
        };
        assert_eq!(
            sddl(&ace, Some(REPLICATING_DIRECTORY_CHANGES)),
            format!("(OA;;CR;{REPLICATING_DIRECTORY_CHANGES};;S-1-5-18)")
        );
        let ace = Ace { flags: CONTAINER_INHERIT, mask: LIST_READ, object_type: None, sid };
        assert_eq!(sddl(&ace, None), "(A;CI;LCRP;;;S-1-5-18)");
    }
}
