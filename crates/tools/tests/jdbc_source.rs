//! The `jdbc` sync source end to end: an HR table of the real PostgreSQL of tests/run.sh
//! (`FERROSYNC_TEST_POSTGRES_*`; missing, the tests fail), with a child table of phone numbers and an array
//! column of mail addresses, to the real OpenLDAP. prepare-endpoint-server creates the change log and its
//! triggers (and a second run changes nothing); resync creates the entries; real-time inserts, updates,
//! deletes and a key change arrive; changes made while the sync server is stopped arrive after its restart;
//! a mapping to a missing column and a child table whose parent key has another type fail naming them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod util;

use std::time::Duration;

use ferrosync::entry::Entry;
use ferrosync_testkit::postgres;
use tokio_postgres::Client;
use util::scenario::Scenario;
use util::{eventually, ServerGuard};

const WAIT: Duration = Duration::from_secs(30);

fn env(name: &str) -> String {
    let var = format!("FERROSYNC_TEST_POSTGRES_{name}");
    std::env::var(&var).unwrap_or_else(|_| panic!("{var} is not set: run the tests with tests/run.sh"))
}

/// A fresh schema with the tables `employees` and `phones` (a child table keyed by the employee's login,
/// following key changes), and a client on it.
async fn hr_tables(label: &str, phone_key_type: &str) -> (Client, String) {
    let url = postgres::fresh_url(label);
    let schema = url.schema.clone();
    let client =
        tokio::task::spawn_blocking(move || ferrosync::store::connect_client(&url, None).unwrap()).await.unwrap();
    let fk = if phone_key_type == "text" {
        format!("REFERENCES \"{schema}\".employees(login) ON UPDATE CASCADE ON DELETE CASCADE")
    } else {
        String::new()
    };
    client
        .batch_execute(&format!(
            "CREATE SCHEMA \"{schema}\";
             CREATE TABLE \"{schema}\".employees (
                 login       text PRIMARY KEY,
                 first_name  text NOT NULL,
                 last_name   text NOT NULL,
                 full_name   text GENERATED ALWAYS AS (first_name || ' ' || last_name) STORED,
                 mails       text[],
                 department  text,
                 emp_no      integer,
                 salary      integer
             );
             CREATE TABLE \"{schema}\".phones (
                 employee_login {phone_key_type} NOT NULL {fk},
                 number         text NOT NULL
             );"
        ))
        .await
        .unwrap();
    (client, schema)
}

/// The external server, the source `hr` on the tables of `schema` with `maps` as its column maps (besides
/// the child table of phones), and pipe `ph` from it to the scenario's OpenLDAP destination `dst`.
fn batch(schema: &str, maps: &[&str]) -> String {
    let maps: String = maps.iter().map(|m| format!(" --set column-map:{m}")).collect();
    format!(
        "dsconfig create-passphrase-provider --provider-name pgpw --type file-based --set password-file:{pw}\n\
         dsconfig create-external-server --server-name pg --type jdbc --set jdbc-driver-type:postgres \
         --set server-host-name:localhost --set server-port:{port} --set database-name:{db} --set user-name:{role} \
         --set passphrase-provider:pgpw --set jdbc-connection-properties:sslmode=verify-full \
         --set jdbc-connection-properties:sslrootcert={ca}\n\
         dsconfig create-sync-source --source-name hr --type jdbc --set server:pg --set table:{schema}.employees \
         --set key-column:login{maps} --set child-table-map:telephoneNumber:{schema}.phones:employee_login:number \
         --set base-dn:ou=people,BASE --set object-class:top --set object-class:person \
         --set object-class:organizationalPerson --set object-class:inetOrgPerson \
         --set change-log-table:{schema}.ubid_changelog\n\
         dsconfig create-sync-pipe --pipe-name ph --set sync-source:hr --set sync-destination:dst \
         --set num-worker-threads:4 --set \"change-detection-polling-interval:100 ms\"\n\
         dsconfig create-sync-class --pipe-name ph --class-name people --set include-base-dn:ou=people,BASE \
         --set destination-correlation-attributes:dn\n",
        pw = env("PASSWORD_FILE"),
        port = env("PORT"),
        db = env("DATABASE"),
        role = env("ROLE"),
        ca = env("CA_FILE"),
    )
}

const MAPS: &[&str] = &[
    "uid:login",
    "givenName:first_name",
    "sn:last_name",
    "cn:full_name",
    "mail:mails",
    "departmentNumber:department",
    "employeeNumber:emp_no",
];

fn sorted(e: &Entry, attr: &str) -> Vec<String> {
    let mut v = e.texts(attr);
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread")]
async fn an_hr_table_reaches_openldap_by_resync_and_in_real_time_across_restarts() {
    let (db, schema) = hr_tables("jdbcsrc", "text").await;
    let s = Scenario::new("jdbcsrc").await;
    s.dsconfig(&batch(&schema, MAPS));
    let q = |sql: &str| sql.replace("S.", &format!("\"{schema}\"."));
    db.batch_execute(&q("INSERT INTO S.employees (login, first_name, last_name, mails, department, emp_no) VALUES
             ('jdoe', 'John', 'Doe', ARRAY['jdoe@example.com', 'john@example.com'], 'Sales', 1),
             ('asmith', 'Anna', 'Smith', NULL, 'IT', 2);
         INSERT INTO S.phones VALUES ('jdoe', '+1 555 0101'), ('jdoe', '+1 555 0102'), ('asmith', '+1 555 0200');"))
        .await
        .unwrap();

    // Before prepare-endpoint-server, the start point cannot be set: the error says what to run.
    let out = s.root.run("realtime-sync", &["set-startpoint", "--pipe-name", "ph", "--end-of-changelog"]);
    let err = out.fails();
    assert!(err.contains("prepare-endpoint-server --isSource --sync-source hr"), "{err}");

    // prepare-endpoint-server creates the change log table, the function and both triggers; a second run
    // changes nothing.
    let out = s.root.run("prepare-endpoint-server", &["--isSource", "--sync-source", "hr", "--no-prompt"]);
    let text = out.ok();
    assert!(text.contains(&format!("created the change log table {schema}.ubid_changelog")), "{text}");
    assert!(text.contains(&format!("created the trigger ubid_changelog on {schema}.employees")), "{text}");
    assert!(text.contains(&format!("created the trigger ubid_changelog on {schema}.phones")), "{text}");
    assert!(text.contains(&format!("checked    changes of {schema}.phones are logged")), "{text}");
    let again = s.root.run("prepare-endpoint-server", &["--isSource", "--sync-source", "hr", "--no-prompt"]).ok();
    assert!(again.contains("Nothing changed: the database was already prepared"), "{again}");
    assert!(!again.contains("password"), "{again}");

    // The recommended order: start point at the end of the change log, resync, start the pipe.
    let out = s.root.run("realtime-sync", &["set-startpoint", "--pipe-name", "ph", "--end-of-changelog"]).ok();
    assert!(out.contains("The startpoint has been set for Sync Pipe 'ph'"), "{out}");
    let out = s.root.run("resync", &["--pipe-name", "ph"]);
    let text = format!("{}{}{}", out.stdout(), out.stderr(), s.log());
    out.ok();
    let jdoe = s.dn("uid=jdoe,ou=people");
    let asmith = s.dn("uid=asmith,ou=people");
    let e = s.dst_get(&jdoe).await.unwrap_or_else(|| panic!("no {jdoe} at OpenLDAP:\n{text}"));
    assert_eq!(e.texts("cn"), ["John Doe"], "a generated column");
    assert_eq!(sorted(&e, "mail"), ["jdoe@example.com", "john@example.com"], "an array column");
    assert_eq!(sorted(&e, "telephoneNumber"), ["+1 555 0101", "+1 555 0102"], "a child table");
    assert_eq!(
        (e.texts("departmentNumber"), e.texts("employeeNumber")),
        (vec!["Sales".to_string()], vec!["1".to_string()])
    );
    let a = s.dst_get(&asmith).await.unwrap();
    assert!(a.texts("mail").is_empty() && a.texts("telephoneNumber") == ["+1 555 0200"], "{a:?}");

    // Real time.
    s.root.run("realtime-sync", &["start", "--pipe-name", "ph"]).ok();
    let server = ServerGuard::start(&s.root);
    let bnew = s.dn("uid=bnew,ou=people");
    db.batch_execute(&q(
        "INSERT INTO S.employees (login, first_name, last_name, department) VALUES ('bnew', 'Bea', 'New', 'HR');
         INSERT INTO S.phones VALUES ('bnew', '+1 555 0300');",
    ))
    .await
    .unwrap();
    eventually("the insert reaches OpenLDAP", WAIT, || async {
        s.dst_get(&bnew)
            .await
            .is_some_and(|e| e.texts("cn") == ["Bea New"] && e.texts("telephoneNumber") == ["+1 555 0300"])
    })
    .await;
    db.batch_execute(&q(
        "UPDATE S.employees SET department = 'Marketing', mails = ARRAY['jdoe@example.com'] WHERE login = 'jdoe';
         UPDATE S.employees SET salary = 99 WHERE login = 'asmith';
         DELETE FROM S.phones WHERE number = '+1 555 0102';
         INSERT INTO S.phones VALUES ('asmith', '+1 555 0201');",
    ))
    .await
    .unwrap();
    eventually("the updates reach OpenLDAP", WAIT, || async {
        let j = s.dst_get(&jdoe).await;
        let a = s.dst_get(&asmith).await;
        j.is_some_and(|e| {
            e.texts("departmentNumber") == ["Marketing"]
                && e.texts("mail") == ["jdoe@example.com"]
                && e.texts("telephoneNumber") == ["+1 555 0101"]
        }) && a.is_some_and(|e| sorted(&e, "telephoneNumber") == ["+1 555 0200", "+1 555 0201"])
    })
    .await;
    db.batch_execute(&q("DELETE FROM S.employees WHERE login = 'asmith'")).await.unwrap();
    eventually("the delete reaches OpenLDAP", WAIT, || async { s.dst_get(&asmith).await.is_none() }).await;

    // A key change renames the entry (its phones follow by ON UPDATE CASCADE).
    let jdoe2 = s.dn("uid=jdoe2,ou=people");
    db.batch_execute(&q("UPDATE S.employees SET login = 'jdoe2', last_name = 'Doe-Roe' WHERE login = 'jdoe'"))
        .await
        .unwrap();
    eventually("the key change reaches OpenLDAP", WAIT, || async {
        s.dst_get(&jdoe).await.is_none()
            && s.dst_get(&jdoe2).await.is_some_and(|e| {
                e.texts("uid") == ["jdoe2"]
                    && e.texts("cn") == ["John Doe-Roe"]
                    && e.texts("telephoneNumber") == ["+1 555 0101"]
            })
    })
    .await;

    // Commit order: a change numbered after one whose transaction is still open waits for it, so that the
    // earlier number is not passed over; both arrive once it commits.
    let slow_client = {
        let url = postgres::fresh_url("jdbcsrc2");
        tokio::task::spawn_blocking(move || ferrosync::store::connect_client(&url, None).unwrap()).await.unwrap()
    };
    slow_client
        .batch_execute(&q(
            "BEGIN; INSERT INTO S.employees (login, first_name, last_name) VALUES ('slow', 'Sam', 'Slow')",
        ))
        .await
        .unwrap();
    db.batch_execute(&q("INSERT INTO S.employees (login, first_name, last_name) VALUES ('fast', 'Fay', 'Fast')"))
        .await
        .unwrap();
    let (slow, fast) = (s.dn("uid=slow,ou=people"), s.dn("uid=fast,ou=people"));
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(s.dst_get(&fast).await.is_none(), "the later change waits while the earlier one's transaction is open");
    slow_client.batch_execute("COMMIT").await.unwrap();
    eventually("both changes arrive after the commit", WAIT, || async {
        s.dst_get(&slow).await.is_some() && s.dst_get(&fast).await.is_some()
    })
    .await;

    // Stopped, the server loses nothing: the changes made meanwhile arrive after the restart.
    drop(server);
    let cnew = s.dn("uid=cnew,ou=people");
    db.batch_execute(&q("INSERT INTO S.employees (login, first_name, last_name) VALUES ('cnew', 'Carl', 'New');
         UPDATE S.employees SET first_name = 'Beatrice' WHERE login = 'bnew';
         DELETE FROM S.employees WHERE login = 'jdoe2';"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(s.dst_get(&cnew).await.is_none(), "nothing is synchronized while the server is stopped");
    let server = ServerGuard::start(&s.root);
    eventually("the changes made while stopped arrive", WAIT, || async {
        s.dst_get(&cnew).await.is_some()
            && s.dst_get(&bnew).await.is_some_and(|e| e.texts("cn") == ["Beatrice New"])
            && s.dst_get(&jdoe2).await.is_none()
    })
    .await;
    drop(server);

    // --change-number: a number past the end is refused, naming the range.
    let out = s.root.run("realtime-sync", &["set-startpoint", "--pipe-name", "ph", "--change-number", "100000"]);
    let err = out.fails();
    assert!(err.contains("is after the newest change"), "{err}");
    // A resync after real time finds every entry in sync.
    let out = s.root.run("resync", &["--pipe-name", "ph"]).ok();
    assert!(out.contains("0 entries were created"), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_column_and_a_child_key_of_another_type_fail_naming_them() {
    let (_db, schema) = hr_tables("jdbcsrcbad", "integer").await;
    let s = Scenario::new("jdbcsrcbad").await;
    let mut maps = MAPS.to_vec();
    maps.push("description:no_such_column");
    s.dsconfig(&batch(&schema, &maps));
    let out = s.root.run("resync", &["--pipe-name", "ph"]);
    let all = format!("{}{}", out.stdout(), out.fails());
    assert!(
        all.contains("column-map 'description:no_such_column' names column 'no_such_column', which table")
            && all.contains(&format!("{schema}.employees does not have")),
        "{all}"
    );
    // With the column map fixed, the child table's parent key (an integer) cannot be compared with the key
    // column (text): refused before anything is read, naming both columns.
    s.root
        .dsconfig(&[
            "set-sync-source-prop",
            "--source-name",
            "hr",
            "--remove",
            "column-map:description:no_such_column",
            "--no-prompt",
        ])
        .ok();
    let out = s.root.run("resync", &["--pipe-name", "ph"]);
    let all = format!("{}{}", out.stdout(), out.fails());
    assert!(all.contains("login (text)") && all.contains("employee_login (telephoneNumber)"), "{all}");
    assert!(all.contains(&format!("{schema}.phones")), "{all}");
    // prepare-endpoint-server on a table that does not exist names it, and creates nothing.
    let out = s.root.run(
        "prepare-endpoint-server",
        &["--isSource", "--databaseURL", &postgres::url_text(), "--table", &format!("{schema}.nope"), "--no-prompt"],
    );
    let err = out.fails();
    assert!(err.contains(&format!("table {schema}.nope does not exist")), "{err}");
}

/// The change numbers in the change log table of `schema`.
async fn logged(db: &Client, schema: &str) -> Vec<i64> {
    let sql = format!("SELECT change_number FROM \"{schema}\".ubid_changelog ORDER BY 1");
    db.query(&sql, &[]).await.unwrap().iter().map(|r| r.get(0)).collect()
}

/// `change-log-maximum-age`: the rows the pipe has read go once they are older; and
/// `ignore-changes-by-user`: the changes of that database role are skipped (a reverse pipe's writes), the
/// others applied.
#[tokio::test(flavor = "multi_thread")]
async fn read_rows_leave_the_change_log_and_an_ignored_role_changes_nothing() {
    let (db, schema) = hr_tables("jdbcpurge", "text").await;
    let s = Scenario::new("jdbcpurge").await;
    s.dsconfig(&batch(&schema, MAPS));
    s.dsconfig("dsconfig set-sync-source-prop --source-name hr --set \"change-log-maximum-age:2 s\"\n");
    let q = |sql: &str| sql.replace("S.", &format!("\"{schema}\"."));
    s.root.run("prepare-endpoint-server", &["--isSource", "--sync-source", "hr", "--no-prompt"]).ok();
    s.root.run("realtime-sync", &["set-startpoint", "--pipe-name", "ph", "--end-of-changelog"]).ok();
    s.root.run("realtime-sync", &["start", "--pipe-name", "ph"]).ok();
    let server = ServerGuard::start(&s.root);
    db.batch_execute(&q(
        "INSERT INTO S.employees (login, first_name, last_name) VALUES ('pa', 'Pat', 'A'), ('pb', 'Pam', 'B')",
    ))
    .await
    .unwrap();
    let (pa, pb) = (s.dn("uid=pa,ou=people"), s.dn("uid=pb,ou=people"));
    eventually("the inserts reach OpenLDAP", WAIT, || async {
        s.dst_get(&pa).await.is_some() && s.dst_get(&pb).await.is_some()
    })
    .await;
    eventually("the read rows leave the change log", WAIT, || async { logged(&db, &schema).await.is_empty() }).await;
    drop(server);

    // A row older than the maximum age that the pipe has not read yet is read, not purged.
    db.batch_execute(&q("UPDATE S.employees SET department = 'Ops' WHERE login = 'pa'")).await.unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let server = ServerGuard::start(&s.root);
    eventually("the old unread change is applied", WAIT, || async {
        s.dst_get(&pa).await.is_some_and(|e| e.texts("departmentNumber") == ["Ops"])
    })
    .await;
    drop(server);

    // The changes of an ignored role are read (and purged in time) but not applied.
    s.dsconfig(&format!(
        "dsconfig set-sync-source-prop --source-name hr --set ignore-changes-by-user:{}\n",
        env("ROLE")
    ));
    let server = ServerGuard::start(&s.root);
    db.batch_execute(&q("UPDATE S.employees SET department = 'Skipped' WHERE login = 'pb'")).await.unwrap();
    eventually("the change is read and then purged", WAIT, || async { logged(&db, &schema).await.is_empty() }).await;
    assert!(s.dst_get(&pb).await.unwrap().texts("departmentNumber").is_empty(), "a change by the ignored role");
    drop(server);

    // Without the property, the same kind of change is applied (the test above could fail).
    s.dsconfig("dsconfig set-sync-source-prop --source-name hr --reset ignore-changes-by-user\n");
    let server = ServerGuard::start(&s.root);
    db.batch_execute(&q("UPDATE S.employees SET department = 'Applied' WHERE login = 'pb'")).await.unwrap();
    eventually("a change by a role not ignored is applied", WAIT, || async {
        s.dst_get(&pb).await.is_some_and(|e| e.texts("departmentNumber") == ["Applied"])
    })
    .await;
    drop(server);
}
