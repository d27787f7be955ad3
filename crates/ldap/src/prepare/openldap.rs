//! OpenLDAP with a slapd.conf configuration: the sync user is created below the base DN when the
//! administrator may; access and the accesslog overlay are checked as the sync user, and the exact slapd.conf
//! lines are printed where they fall short (this tool never writes cn=config).

use std::time::Duration;

use ferrosync::entry::{Entry, Value};
use ferrosync::syntax::Dn;

use super::{user_entry, PrepareError, Run, Status};
use crate::{rc, LdapClient, Modification, Scope};

/// The `access to` and `limits` lines that give `user` `level` access (read or write) to a database.
pub(super) fn access_lines(user: &str, level: &str) -> Vec<String> {
    vec![
        format!("access to * by dn.exact=\"{user}\" {level} by * break"),
        format!("limits dn.exact=\"{user}\" size=unlimited time=unlimited"),
    ]
}

pub(super) async fn prepare(run: &mut Run<'_>) -> Result<(), PrepareError> {
    let opts = run.opts;
    let user = opts.sync_dn.clone();
    ensure_user(run).await?;
    let Some(sync) = run.sync_bind().await else { return Ok(()) };

    let base_ok = run.check_base_read(&sync, &["entryUUID"]).await;
    let level = if opts.is_destination { "write" } else { "read" };
    let mut base_needs = !base_ok;
    if opts.is_destination {
        let before = run.report.steps.len();
        super::check_write(run, &sync).await;
        base_needs |= run.report.steps[before..].iter().any(|s| s.status == Status::Failed);
    }
    if base_needs {
        let mut lines = vec![format!(
            "# in the \"database\" section whose suffix holds \"{}\", before its first \"access to\" line:",
            opts.base_dn
        )];
        lines.extend(access_lines(&user, level));
        run.report.step(Status::ToDo, "add the sync user's access to the base DN's database in slapd.conf");
        run.report.instruct("Add to slapd.conf, then restart slapd and run this tool again:", lines);
    }
    if opts.is_source {
        accesslog(run, &sync).await?;
    }
    sync.close().await;
    Ok(())
}

/// Creates the sync user below a suffix the administrator can write; its password is set with the Password
/// Modify extended operation, so slapd stores it hashed.
async fn ensure_user(run: &mut Run<'_>) -> Result<(), PrepareError> {
    let user = run.opts.sync_dn.clone();
    if run.user_exists().await? {
        return Ok(());
    }
    let entry = user_entry(&user)?;
    match run.admin.add(&entry).await {
        Ok(()) => {}
        Err(e)
            if matches!(
                e.rc(),
                Some(rc::INSUFFICIENT_ACCESS_RIGHTS | rc::NO_SUCH_OBJECT | rc::UNWILLING_TO_PERFORM)
            ) =>
        {
            run.report.step(Status::ToDo, format!("the sync user \"{user}\" could not be created: {e}"));
            let mut lines = vec!["# with ldapadd, as an administrator of that database:".to_string()];
            lines.extend(ldif(&entry));
            lines.push(format!("# then: ldappasswd -x -D ADMIN-DN -W -S \"{user}\""));
            run.report.instruct("Create the sync user:", lines);
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    }
    let password = run.opts.sync_password.expose().to_string();
    let set = run
        .admin
        .with_connection("password modify", &user, |mut ldap| {
            let (user, password) = (user.clone(), password.clone());
            async move {
                ldap.extended(ldap3::exop::PasswordModify {
                    user_id: Some(&user),
                    old_pass: None,
                    new_pass: Some(&password),
                })
                .await?
                .success()?;
                Ok(())
            }
        })
        .await;
    if set.is_err() {
        // no password modify extended operation: store it as given
        run.admin.modify(&user, &[Modification::Replace("userPassword".into(), vec![Value::Text(password)])]).await?;
    }
    run.report.step(Status::Changed, format!("created the sync user \"{user}\""));
    Ok(())
}

fn ldif(entry: &Entry) -> Vec<String> {
    let mut lines = vec![format!("dn: {}", entry.dn)];
    for a in entry.attributes() {
        for v in &a.values {
            lines.push(format!("{}: {}", a.name, v.as_text()));
        }
    }
    lines
}

/// Finds the accesslog database among the naming contexts: one whose top entry is an `auditContainer` to the
/// administrator or to the sync user (its access lines may admit only the sync user), else one named
/// `cn=accesslog`.
async fn find_log(run: &Run<'_>, sync: &LdapClient) -> Result<Option<String>, PrepareError> {
    let base = Dn::parse(&run.opts.base_dn).unwrap_or_default();
    let contexts: Vec<String> = run
        .dse
        .texts("namingContexts")
        .into_iter()
        .filter(|ctx| !Dn::parse(ctx).is_ok_and(|c| base.is_within(&c)))
        .collect();
    for ctx in &contexts {
        for client in [run.admin, sync] {
            if let Ok(Some(top)) = client.get(ctx, &["objectClass"]).await {
                if top.texts("objectClass").iter().any(|o| o.eq_ignore_ascii_case("auditContainer")) {
                    return Ok(Some(ctx.clone()));
                }
            }
        }
    }
    Ok(contexts.into_iter().find(|c| c.eq_ignore_ascii_case("cn=accesslog")))
}

async fn accesslog(run: &mut Run<'_>, sync: &LdapClient) -> Result<(), PrepareError> {
    let user = run.opts.sync_dn.clone();
    let Some(log) = find_log(run, sync).await? else {
        run.report.step(Status::ToDo, "no accesslog database found: turn the accesslog overlay on");
        let mut lines = vec![
            "# at the top, with the other moduleload lines:".to_string(),
            "moduleload accesslog".to_string(),
            "# a new database, before the one of the base DN:".to_string(),
            "database mdb".to_string(),
            "suffix \"cn=accesslog\"".to_string(),
            "directory /var/lib/ldap/accesslog".to_string(),
            "index objectClass,reqStart,reqDN eq".to_string(),
        ];
        lines.extend(access_lines(&user, "read"));
        lines.extend([
            format!("# in the database section of \"{}\", after its access lines:", run.opts.base_dn),
            "overlay accesslog".to_string(),
            "logdb \"cn=accesslog\"".to_string(),
            "logops writes".to_string(),
            "logsuccess TRUE".to_string(),
            format!(
                "logpurge {} 01+00:00",
                super::max_age_openldap(run.opts.changelog_max_age.unwrap_or(Duration::from_secs(7 * 86_400)))
            ),
        ]);
        run.report
            .instruct("Add to slapd.conf (create the directory, owned by slapd's user), then restart slapd:", lines);
        return Ok(());
    };
    run.report.step(Status::Ok, format!("the accesslog database \"{log}\" exists"));
    let readable = matches!(sync.get(&log, &["1.1"]).await, Ok(Some(_)));
    if !readable {
        run.report.step(Status::ToDo, format!("the sync user cannot read \"{log}\": add its access in slapd.conf"));
        let mut lines =
            vec![format!("# in the \"database\" section with suffix \"{log}\", before its first \"access to\" line:")];
        lines.extend(access_lines(&user, "read"));
        run.report.instruct("Add to slapd.conf, then restart slapd and run this tool again:", lines);
        return Ok(());
    }
    // does the log hold changes below the base DN (is the overlay on the base DN's database)?
    let filter = log_filter(&run.opts.base_dn);
    let found = sync
        .with_connection("search", &log, |mut ldap| {
            let (filter, log) = (filter.clone(), log.clone());
            async move {
                let res = ldap
                    .with_search_options(ldap3::SearchOptions::new().sizelimit(1))
                    .search(&log, Scope::OneLevel, &filter, vec!["1.1"])
                    .await?;
                if res.1.rc != rc::SUCCESS && res.1.rc != rc::SIZE_LIMIT_EXCEEDED {
                    return res.success().map(|_| false);
                }
                Ok(!res.0.is_empty())
            }
        })
        .await;
    match found {
        Ok(true) => run.report.step(Status::Ok, format!("the sync user can read \"{log}\", which logs changes below the base DN")),
        Ok(false) => run.report.step(
            Status::Ok,
            format!(
                "the sync user can read \"{log}\"; it has no changes below the base DN yet (if writes there never show up, put \"overlay accesslog\" / \"logdb \\\"{log}\\\"\" in the base DN's database section)"
            ),
        ),
        Err(e) => run.report.step(Status::Failed, format!("the sync user cannot search \"{log}\": {e}")),
    }
    // syncprov on the log lets the server push a wake-up for each logged write (see ferrosync_ldap::doorbell).
    let writes = "(&(objectClass=auditWriteObject)(reqResult=0))";
    match crate::doorbell::available(sync, &log, writes).await {
        Ok(true) => run.report.step(
            Status::Ok,
            format!("\"{log}\" has syncprov: slapd tells the sync source of each logged write at once"),
        ),
        Ok(false) | Err(_) => run.report.step(
            Status::Ok,
            format!(
                "\"{log}\" has no syncprov the sync user may use, so the sync source reads it every polling interval; \
                 for changes read at once, put \"overlay syncprov\" in the \"{log}\" database section (as \
                 delta-syncrepl needs)"
            ),
        ),
    }
    Ok(())
}

/// OpenLDAP's dnSubtreeMatch, by OID: ldap3 0.12 reads `reqDN:dnSubtreeMatch:=` as `reqDN:dn` and fails.
const DN_SUBTREE_MATCH: &str = "1.3.6.1.4.1.4203.666.4.9";

/// Log entries of writes at or below `base`.
fn log_filter(base: &str) -> String {
    let value = ferrosync::syntax::ldap_filter_escape(base);
    format!("(&(objectClass=auditWriteObject)(reqDN:{DN_SUBTREE_MATCH}:={value}))")
}

#[cfg(test)]
mod tests {
    #[test]
    fn log_filter_parses() {
        let f = super::log_filter("dc=example,dc=com");
        assert_eq!(f, "(&(objectClass=auditWriteObject)(reqDN:1.3.6.1.4.1.4203.666.4.9:=dc=example,dc=com))");
        assert!(ldap3::parse_filter(&f).is_ok());
        assert!(ldap3::parse_filter(super::log_filter("o=a(b)*")).is_ok());
    }
}
